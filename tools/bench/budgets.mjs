// CI gate: measures the deterministic budgets of budgets.json and fails when
// one is over. Speed ratios are not gated (see ./tools/run bench).
import { readFileSync } from "node:fs"
import { deterministic, pick } from "./measure.mjs"

const budgets = JSON.parse(readFileSync(new URL("./budgets.json", import.meta.url), "utf8"))
const results = await deterministic((what) => console.log(`[budgets] measuring ${what}`))
let failed = 0
for (const [path, { max, why }] of Object.entries(budgets.gate)) {
  const value = pick(results, path)
  const ok = typeof value === "number" && value <= max
  if (!ok) failed++
  console.log(`[budgets] ${ok ? "ok  " : "OVER"} ${path} = ${value} (max ${max}: ${why})`)
}
console.log(
  `[budgets] ${Object.keys(budgets.gate).length - failed} of ${Object.keys(budgets.gate).length} within budget`,
)
process.exit(failed === 0 ? 0 : 1)
