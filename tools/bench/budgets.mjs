// CI gate: measures the deterministic budgets of budgets.json and fails when
// one is not met. Speed ratios are not gated (see ./tools/run bench).
import { readFileSync } from "node:fs"
import { deterministic, pick } from "./measure.mjs"
import { verdict } from "./verdict.mjs"

const budgets = JSON.parse(readFileSync(new URL("./budgets.json", import.meta.url), "utf8"))
const results = await deterministic((what) => console.log(`[budgets] measuring ${what}`))
let failed = 0
for (const [path, budget] of Object.entries(budgets.gate)) {
  const value = pick(results, path)
  const { ok, bound } = verdict(value, budget)
  if (!ok) failed++
  console.log(`[budgets] ${ok ? "ok  " : "OVER"} ${path} = ${value} (${bound}: ${budget.why})`)
}
const total = Object.keys(budgets.gate).length
console.log(`[budgets] ${total - failed} of ${total} within budget`)
process.exit(failed === 0 ? 0 : 1)
