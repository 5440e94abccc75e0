// ./tools/run bench: every benchmark in one table, with ratios against
// baselines measured in the same run, written to bench-results.json.
import { readFileSync, writeFileSync } from "node:fs"
import os from "node:os"
import { bundlers } from "./bundle.mjs"
import { all, pick } from "./measure.mjs"
import { verdict } from "./verdict.mjs"

const budgets = JSON.parse(readFileSync(new URL("./budgets.json", import.meta.url), "utf8"))
const results = await all((what) => console.error(`[bench] ${what}…`))

const hit = results["cache-hit"]
const burst = results["cold-burst"]
const hour = results["virtual-hour"]
const memory = results.memory
const sign = results["dev-server-signing"] ?? results.sign ?? {}
const load = results["demo-api-load"]
const redis = results.redis ?? {}
const ms = (q) => (q ? `p50 ${q.p50Ms} ms, p99 ${q.p99Ms} ms` : "skipped (no redis-server)")
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`
const rows = [
  ["cache hit, floor (async Map.get + clock)", `${hit.floorNs} ns/op`, "1.00×"],
  ["cache hit, Promise face", `${hit.promiseNs} ns/op`, `${hit.promiseRatio}× floor (target ≤ 2)`],
  [
    "cache hit, Effect API in a fiber",
    `${hit.effectNs} ns/op`,
    `${hit.effectRatio}× floor (target ≤ 6)`,
  ],
  [
    "cache hit, Promise face, metrics on",
    `${hit.promiseMetricsNs} ns/op`,
    `${hit.metricsRatio}× the same hit with metrics off (target ≤ 1.2)`,
  ],
  [
    "request (skipCache), spans on + a tracer",
    `${results.request.tracedNs} ns/op`,
    `${results.request.tracerRatio}× without (${results.request.plainNs} ns/op)`,
  ],
  [
    `inserts/s into a full cache of ${results["cache-insert"].size.toLocaleString("en")}`,
    `${results["cache-insert"].insertsPerSecond.toLocaleString("en")} /s`,
    `floor (Map.set, no eviction) ${results["cache-insert"].floorInsertsPerSecond.toLocaleString("en")} /s (${results["cache-insert"].ratio}×, target ≤ 4)`,
  ],
  ...["1000", "10000"].map((n) => [
    `cold burst ×${n}`,
    `${burst[n].requests} request, ${burst[n].wallMs} ms`,
    `floor ${burst[n].floorRequests} request, ${burst[n].floorWallMs} ms (${burst[n].ratio}×)`,
  ]),
  [
    "virtual hour, 1,000 readers, J = 0",
    `${hour.jitter0.requests} requests, ${hour.jitter0.misses} misses`,
    `minimum ${hour.minimum}`,
  ],
  [
    "virtual hour, 1,000 readers, J = 2 s",
    `${hour.jitterDefault.requests} requests, ${hour.jitterDefault.misses} misses`,
    `bound ${hour.jitterDefault.bound}`,
  ],
  [
    "heap per cached token (10k)",
    `${memory.bytesPerToken10k} B`,
    `JWT ${memory.jwtBytes} B, budget 4096 B`,
  ],
  ["heap per cached token (100k)", `${memory.bytesPerToken100k} B`, "budget 4096 B"],
  [
    "Angular demo, main bundle (ng build, @angular/build)",
    `${kb(results.demoAngular.minBytes)} min, ${kb(results.demoAngular.gzipBytes)} gz`,
    "Angular, rxjs and the page included",
  ],
  [
    `demo-api: ${load.requests} concurrent /api/profile`,
    `${load.ok} × 200, ${load.busy503} × 503, ${load.other5xx} other 5xx, ${load.noAnswer} unanswered`,
    `other 5xx must be 0; ${load.wallMs} ms`,
  ],
  [
    "demo-api: peak RSS under that load",
    `${load.peakRssMB} MB (idle ${load.idleRssMB} MB)`,
    `${(load.peakRssMB / 300).toFixed(2)}× the 300 MB budget`,
  ],
  ["shared hit (Redis round trip)", ms(redis.sharedHit), "a token another instance fetched"],
  ["local hit (same client, @tok/redis on)", ms(redis.localHit), "never touches Redis"],
  ["network fetch (dev server)", ms(redis.networkFetch), "what a shared hit saves"],
  [
    "fleet of 4 watching one key, requests/key/hour",
    redis.fleetRequestsPerKeyHour
      ? `with Redis ${redis.fleetRequestsPerKeyHour.withRedis}, without ${redis.fleetRequestsPerKeyHour.withoutRedis}`
      : "skipped",
    redis.fleetRequestsPerKeyHour
      ? `one client's bound ${redis.fleetRequestsPerKeyHour.oneClientBound} (6 s tokens, 1 s buffer)`
      : "",
  ],
  ...Object.entries(sign)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [`dev server: ${k}`, `${v}`, ""]),
]
const width = rows.reduce((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, String(c).length)), [])
const line = (r) => r.map((c, i) => String(c).padEnd(width[i])).join("  ")
console.log(
  `tok benchmarks — Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}`,
)
console.log(line(["what", "measured", "against"]))
console.log(width.map((w) => "─".repeat(w)).join("  "))
for (const row of rows) console.log(line(row))

// Bundle bytes: one row per bundler, the entries side by side (min+gzip of the
// initial chunks, min in brackets, and the lazy `import()` chunks' min+gzip when there are any).
const bundleTable = (title, measured, budgetOf) => {
  const names = Object.keys(measured)
  const cell = (b) =>
    `${kb(b.gzipBytes)} (${kb(b.minBytes)})${b.lazyGzipBytes > 0 ? ` + ${kb(b.lazyGzipBytes)} lazy` : ""}`
  const table = [
    [title, ...names],
    ...Object.keys(bundlers).map((bundler) => [
      bundler,
      ...names.map((name) => cell(measured[name][bundler])),
    ]),
    [
      "largest",
      ...names.map(
        (name) => `${kb(measured[name].largest.gzipBytes)} ${measured[name].largest.bundler}`,
      ),
    ],
  ]
  if (budgetOf) table.push(["budget", ...names.map((name) => `≤ ${kb(budgetOf(name))}`)])
  const w = table.reduce((acc, r) => r.map((c, i) => Math.max(acc[i] ?? 0, String(c).length)), [])
  console.log()
  table.forEach((r, i) => {
    console.log(r.map((c, j) => String(c).padEnd(w[j])).join("  "))
    if (i === 0) console.log(w.map((n) => "─".repeat(n)).join("  "))
  })
}
bundleTable(
  "min+gzip (min)",
  results.bundle,
  (name) => budgets.gate[`bundle.${name}.largest.gzipBytes`].max,
)
bundleTable("peers, min+gzip (min)", results.peerBundle)

const verdicts = {}
for (const [kind, entries] of Object.entries(budgets).filter(([k]) => k !== "$comment")) {
  for (const [path, budget] of Object.entries(entries)) {
    const value = pick(results, path)
    verdicts[path] = { kind, value, ...verdict(value, budget) }
  }
}
const over = Object.entries(verdicts).filter(([, v]) => !v.ok)
console.log(
  over.length === 0 ? "\nall budgets met" : `\nover budget: ${over.map(([p]) => p).join(", ")}`,
)
// The mutation score (`./tools/run mutate`) lives in the same file: keep it.
const previous = (() => {
  try {
    return JSON.parse(readFileSync("bench-results.json", "utf8"))
  } catch {
    return {}
  }
})()
writeFileSync(
  "bench-results.json",
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, results, budgets: verdicts, ...(previous.mutation === undefined ? {} : { mutation: previous.mutation }) }, null, 2)}\n`,
)
console.log("wrote bench-results.json")
