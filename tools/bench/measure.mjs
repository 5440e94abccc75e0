// Runs the benchmarks, each in its own Node process (a clean heap and JIT),
// and returns their results keyed by name. The deterministic ones (counts
// under a virtual clock, heap bytes, bundle bytes) run side by side, as many
// at once as there are cores; the timed ones run alone.
import { spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import os from "node:os"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"
import { bundlers, entries, peers, withLargest } from "./bundle.mjs"

const root = fileURLToPath(new URL("../..", import.meta.url))

/** Runs a Node script that prints one JSON line `{ bench, …result }`; resolves `[bench, result]`. */
const runJson = (cwd, args) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=@tok/source", ...args, "--json"], {
      cwd: `${root}/${cwd}`,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 300_000,
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.on("error", reject)
    child.on("close", (code, signal) => {
      if (code !== 0) {
        return reject(
          new Error(`${args.join(" ")} failed (${signal ?? code}):\n${stderr.slice(-2000)}`),
        )
      }
      const line = stdout
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .pop()
      const { bench, ...result } = JSON.parse(line)
      resolve([bench, result])
    })
  })

/** Runs `jobs` (thunks, longest first), `width` at a time; resolves their results in order. */
const pool = async (jobs, width = os.availableParallelism()) => {
  const results = new Array(jobs.length)
  let next = 0
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++
      results[i] = await jobs[i]()
    }
  }
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, worker))
  return results
}

/** One process per bundler (its modules load once) measuring `names`; merged by entry. */
const bundleJobs = (names, log) =>
  Object.keys(bundlers)
    // Rollup and webpack run terser, the slow part: start them first.
    .sort((a, b) => ["rollup", "webpack"].indexOf(b) - ["rollup", "webpack"].indexOf(a))
    .map((bundler) => async () => {
      const [, result] = await timed(log, `bundles with ${bundler}`, () =>
        runJson(".", ["tools/bench/bundle.mjs", "--bundlers", bundler, ...names]),
      )
      return result
    })

const merge = (perBundler) => {
  const merged = {}
  for (const result of perBundler) {
    for (const [entry, sizes] of Object.entries(result)) {
      const { largest: _, largestTotal: __, ...byBundler } = sizes
      merged[entry] = { ...merged[entry], ...byBundler }
    }
  }
  return Object.fromEntries(Object.entries(merged).map(([entry, s]) => [entry, withLargest(s)]))
}

const benchJob = (log, what, cwd, args) => () => timed(log, what, () => runJson(cwd, args))

/** Logs `what` when it starts and how long it took when it ends (CI's logs show where the time goes). */
const timed = async (log, what, run) => {
  const started = performance.now()
  log(what)
  const result = await run()
  log(`${what}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  return result
}

/** The deterministic measurements CI gates. */
export const deterministic = async (log = () => undefined) => {
  const jobs = [
    benchJob(log, "memory per cached token", "packages/core", ["--expose-gc", "bench/memory.ts"]),
    ...bundleJobs(entries, log),
    benchJob(log, "virtual hour under TestClock", "packages/core", ["bench/virtual-hour.ts"]),
    benchJob(log, "cold burst", "packages/core", ["bench/burst.ts"]),
  ]
  const done = await pool(jobs)
  const benches = done.filter(Array.isArray)
  // A load test of real servers: alone, after the rest, so it has the cores.
  const load = await timed(log, "demo-api under load (2,000 concurrent requests)", () =>
    runJson("apps/demo-api", ["bench/load.ts"]),
  )
  return {
    ...Object.fromEntries([...benches, load]),
    bundle: merge(done.filter((r) => !Array.isArray(r))),
  }
}

/** Everything: the deterministic measurements plus the timed ones. */
export const all = async (log = () => undefined) => {
  const results = await deterministic(log)
  results.peerBundle = merge(await pool(bundleJobs(Object.keys(peers), log)))
  results.demoAngular = angularDemoMain()
  // Timed: alone, after everything else.
  log("cache hit")
  Object.assign(results, Object.fromEntries([await runJson("packages/core", ["bench/hit.ts"])]))
  log("request with and without a tracer")
  Object.assign(results, Object.fromEntries([await runJson("packages/core", ["bench/request.ts"])]))
  log("inserts into a full cache")
  Object.assign(results, Object.fromEntries([await runJson("packages/core", ["bench/cache.ts"])]))
  log("dev server signing")
  Object.assign(
    results,
    Object.fromEntries([await runJson("packages/dev-server", ["bench/sign.ts"])]),
  )
  log("sharing through Redis (real redis-server, about 35 s)")
  Object.assign(results, Object.fromEntries([await runJson("packages/redis", ["bench/redis.ts"])]))
  return results
}

/**
 * The Angular demo's main bundle as `ng build` (@angular/build's application
 * builder, esbuild) wrote it to apps/demo-angular/dist: Angular, rxjs, tok and
 * the page. The root `bench` script builds it first.
 */
const angularDemoMain = () => {
  const dist = `${root}/apps/demo-angular/dist`
  const file = readdirSync(dist).find((f) => /^main-[\w-]+\.js$/.test(f))
  if (file === undefined) throw new Error(`no main-*.js in ${dist}: build @tok/demo-angular first`)
  const code = readFileSync(`${dist}/${file}`)
  return { file, minBytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length }
}

/** Reads `a.b.c` out of nested results. */
export const pick = (results, path) => {
  const [bench, ...rest] = path.split(".")
  let value = results[bench]
  for (const key of rest) value = value?.[key]
  return value
}
