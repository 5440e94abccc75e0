// ./tools/run bench: every benchmark in one table, with ratios against
// baselines measured in the same run, written to bench-results.json.
import { readFileSync, writeFileSync } from "node:fs"
import os from "node:os"
import { all, pick } from "./measure.mjs"
import { verdict } from "./verdict.mjs"

const budgets = JSON.parse(readFileSync(new URL("./budgets.json", import.meta.url), "utf8"))
const results = await all((what) => console.error(`[bench] ${what}…`))

const hit = results["cache-hit"]
const burst = results["cold-burst"]
const hour = results["virtual-hour"]
const memory = results.memory
const sign = results["dev-server-signing"] ?? results.sign ?? {}
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
  ...Object.entries(results.bundle).map(([name, b]) => [
    `bundle: ${name === "core" ? "core alone" : `@tok/${name} + core`}`,
    `${kb(b.minBytes)} min, ${kb(b.gzipBytes)} gz`,
    name === "core" ? "" : "budget 40 KB gz",
  ]),
  ...Object.entries(results.peerBundle).map(([name, b]) => [
    `bundle: ${name} (peer)`,
    `${kb(b.minBytes)} min, ${kb(b.gzipBytes)} gz`,
    `@tok/vue + core is ${(results.bundle.vue.gzipBytes / b.gzipBytes).toFixed(2)}× of it`,
  ]),
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
writeFileSync(
  "bench-results.json",
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, results, budgets: verdicts }, null, 2)}\n`,
)
console.log("wrote bench-results.json")
