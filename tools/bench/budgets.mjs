// CI gate: measures the deterministic budgets of budgets.json and fails when
// one is not met. Speed ratios are not gated (see ./tools/run bench). Bundle
// budgets gate the largest of esbuild, Rollup, webpack and Vite: the initial
// chunks (what a page loads when nothing goes wrong) and, where a budget says
// so, initial + lazy (`import()`) chunks together, so no bytes hide in a lazy
// chunk; the published packages' dist/ must be built first (the root
// `budgets` script).
import { readFileSync } from "node:fs"
import { performance } from "node:perf_hooks"
import { bundlers } from "./bundle.mjs"
import { deterministic, pick } from "./measure.mjs"
import { verdict } from "./verdict.mjs"

const started = performance.now()
const budgets = JSON.parse(readFileSync(new URL("./budgets.json", import.meta.url), "utf8"))
const results = await deterministic((what) => console.log(`[budgets] measuring ${what}`))
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`
for (const [entry, sizes] of Object.entries(results.bundle)) {
  const each = Object.keys(bundlers).map(
    (b) => `${b} ${kb(sizes[b].gzipBytes)} + ${kb(sizes[b].lazyGzipBytes)} lazy`,
  )
  console.log(`[budgets] bundle ${entry} min+gzip: ${each.join(", ")}`)
}
let failed = 0
for (const [path, budget] of Object.entries(budgets.gate)) {
  const value = pick(results, path)
  const { ok, bound } = verdict(value, budget)
  if (!ok) failed++
  const by = /\.largest(Total)?\.\w+$/.test(path)
    ? ` by ${pick(results, path.replace(/\w+$/, "bundler"))}`
    : ""
  console.log(`[budgets] ${ok ? "ok  " : "OVER"} ${path} = ${value}${by} (${bound}: ${budget.why})`)
}
const total = Object.keys(budgets.gate).length
const seconds = ((performance.now() - started) / 1000).toFixed(1)
console.log(`[budgets] ${total - failed} of ${total} within budget (${seconds} s)`)
process.exit(failed === 0 ? 0 : 1)
