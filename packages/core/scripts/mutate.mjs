// The core's mutation score: `./tools/run mutate [--score] [src/file.ts …]`.
//
// Runs StrykerJS (stryker.config.mjs) on one source file at a time, in
// incremental mode. Stryker's incremental reports (large: they embed the test
// sources) stay in the git-ignored local cache .mutation/; after each file's
// run this script tallies its report into mutation/scores.json (committed,
// small), then prints the scores from that file and writes them into the
// repo's bench-results.json under "mutation". `--score` only prints and
// records the committed scores, without running anything.
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..")
const root = join(pkg, "..", "..")

/**
 * The core's engine — the parts under src/internal/ that hold what
 * engine.ts held before the split — and the four public modules it rests on.
 */
export const FILES = [
  "src/internal/engine.ts",
  "src/internal/makeEngine.ts",
  "src/internal/keys.ts",
  "src/internal/store.ts",
  "src/internal/session.ts",
  "src/internal/flights.ts",
  "src/internal/watch.ts",
  "src/internal/refresher.ts",
  "src/TokenSource.ts",
  "src/RetryPolicy.ts",
  "src/Token.ts",
  "src/TokenCache.ts",
]
const GOAL = 90

const nameOf = (file) =>
  file
    .replace(/^src\//, "")
    .replace(/\.ts$/, "")
    .replaceAll("/", "-")

const args = process.argv.slice(2)
const scoreOnly = args.includes("--score")
const asked = args.filter((a) => !a.startsWith("--"))
const files = asked.length > 0 ? asked : FILES
for (const file of files) {
  if (!existsSync(join(pkg, file))) {
    console.error(`mutate: no such file ${file} (paths are relative to packages/core)`)
    process.exit(2)
  }
}

// Score = detected / (detected + undetected), as Stryker counts it: killed and
// timed-out mutants are detected; survivors and uncovered ones are not;
// ignored (disabled with a reason), compile and runtime errors do not count.
const tally = (report) => {
  const t = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignored: 0, errors: 0 }
  for (const result of Object.values(report.files)) {
    for (const m of result.mutants) {
      if (m.status === "Killed") t.killed++
      else if (m.status === "Timeout") t.timeout++
      else if (m.status === "Survived") t.survived++
      else if (m.status === "NoCoverage") t.noCoverage++
      else if (m.status === "Ignored") t.ignored++
      else t.errors++
    }
  }
  const detected = t.killed + t.timeout
  const valid = detected + t.survived + t.noCoverage
  return { ...t, score: valid === 0 ? 100 : Math.round((1000 * detected) / valid) / 10 }
}

// The committed summary: one small entry per file, rewritten from the local
// incremental report after each run.
const summaryFile = join(pkg, "mutation", "scores.json")
const readSummary = () => {
  try {
    return JSON.parse(readFileSync(summaryFile, "utf8"))
  } catch {
    return {}
  }
}
const record = (file) => {
  const report = join(pkg, ".mutation", `${nameOf(file)}.json`)
  if (!existsSync(report)) return
  const t = tally(JSON.parse(readFileSync(report, "utf8")))
  const summary = readSummary()
  summary[file] = { ...t, date: new Date().toISOString().slice(0, 10) }
  const sorted = Object.fromEntries(
    Object.keys(summary)
      .sort((a, b) => FILES.indexOf(a) - FILES.indexOf(b))
      .map((f) => [f, summary[f]]),
  )
  mkdirSync(dirname(summaryFile), { recursive: true })
  writeFileSync(summaryFile, `${JSON.stringify(sorted, null, 2)}\n`)
}

const seconds = {}
if (!scoreOnly) {
  for (const file of files) {
    console.log(`\n=== ${file}`)
    const started = Date.now()
    const run = spawnSync("pnpm", ["exec", "stryker", "run", "stryker.config.mjs"], {
      cwd: pkg,
      stdio: "inherit",
      env: { ...process.env, TOK_MUTATE_FILE: file },
    })
    seconds[file] = Math.round((Date.now() - started) / 1000)
    if (run.status !== 0) {
      console.error(`mutate: stryker failed on ${file} (exit ${run.status})`)
      process.exit(run.status ?? 1)
    }
    record(file)
  }
}

const rows = []
const scores = {}
let all = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignored: 0, errors: 0 }
const summary = readSummary()
for (const file of asked.length > 0 ? asked : FILES) {
  const entry = summary[file]
  if (entry === undefined) {
    rows.push([file, "not measured", "", "", "", "", ""])
    continue
  }
  const { date: _date, ...t } = entry
  scores[file] = t
  for (const k of Object.keys(all)) all[k] += t[k]
  rows.push([
    file,
    `${t.score.toFixed(1)} %`,
    String(t.killed),
    String(t.timeout),
    String(t.survived),
    String(t.noCoverage),
    String(t.ignored),
  ])
}
const detected = all.killed + all.timeout
const valid = detected + all.survived + all.noCoverage
const total = valid === 0 ? 100 : Math.round((1000 * detected) / valid) / 10
rows.push([
  "all",
  `${total.toFixed(1)} %`,
  String(all.killed),
  String(all.timeout),
  String(all.survived),
  String(all.noCoverage),
  String(all.ignored),
])

const head = ["file", "score", "killed", "timeout", "survived", "no cov.", "ignored"]
const width = [head, ...rows].reduce((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), [])
const line = (r) =>
  r.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join("  ")
console.log(`\nmutation score of @tok/core (goal ≥ ${GOAL} % per file)`)
console.log(line(head))
console.log(width.map((w) => "─".repeat(w)).join("  "))
for (const r of rows) console.log(line(r))
if (Object.keys(seconds).length > 0) {
  console.log(
    `\ntime: ${Object.values(seconds).reduce((a, b) => a + b, 0)} s (${Object.entries(seconds)
      .map(([f, s]) => `${nameOf(f)} ${s} s`)
      .join(", ")})`,
  )
}

// Into bench-results.json beside the benchmarks, keeping what is there.
const benchFile = join(root, "bench-results.json")
const readBench = () => {
  try {
    return JSON.parse(readFileSync(benchFile, "utf8"))
  } catch {
    return {}
  }
}
const bench = readBench()
bench.mutation = {
  date: new Date().toISOString(),
  goal: GOAL,
  total,
  files: Object.fromEntries(Object.entries(scores).map(([f, t]) => [f, t])),
}
writeFileSync(benchFile, `${JSON.stringify(bench, null, 2)}\n`)
console.log("wrote bench-results.json (mutation)")
const below = Object.entries(scores).filter(([, t]) => t.score < GOAL)
if (below.length > 0) console.log(`below ${GOAL} %: ${below.map(([f]) => f).join(", ")}`)
