// Reads a test run's output on stdin, passes it through, and ends with one
// plain line for the whole run: "N passed, N failed" (and skipped), summed
// over every vitest summary ("Tests  3 failed | 40 passed | 2 skipped (45)").
import { writeFileSync } from "node:fs"
import { createInterface } from "node:readline"

const totals = { passed: 0, failed: 0, skipped: 0 }
const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g")
for await (const line of createInterface({ input: process.stdin })) {
  console.log(line)
  const plain = line.replace(ansi, "")
  const summary = /\bTests\s+(.*)\(\d+\)\s*$/.exec(plain)
  if (summary === null) continue
  for (const part of summary[1].split("|")) {
    const match = /(\d+)\s+(passed|failed|skipped)/.exec(part)
    if (match) totals[match[2]] += Number(match[1])
  }
}
const skipped = totals.skipped > 0 ? `, ${totals.skipped} skipped` : ""
const summary = `tests: ${totals.passed} passed, ${totals.failed} failed${skipped}`
console.log(summary)
// Also to a file, so a caller can print it as its very last line.
if (process.env.TEST_SUMMARY_FILE) writeFileSync(process.env.TEST_SUMMARY_FILE, `${summary}\n`)
