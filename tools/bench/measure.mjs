// Runs the benchmarks, each in its own Node process (a clean heap and JIT),
// and returns their results keyed by name.
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { measure as measureBundle, entries, peers } from "./bundle.mjs"

const root = fileURLToPath(new URL("../..", import.meta.url))

const runJson = (cwd, args) => {
  const child = spawnSync(process.execPath, ["--conditions=@tok/source", ...args, "--json"], {
    cwd: `${root}/${cwd}`,
    encoding: "utf8",
    timeout: 300_000,
  })
  if (child.status !== 0) {
    throw new Error(`${args.join(" ")} failed (${child.status}):\n${child.stderr.slice(-2000)}`)
  }
  const line = child.stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .pop()
  const { bench, ...result } = JSON.parse(line)
  return [bench, result]
}

/** The deterministic measurements CI gates. */
export const deterministic = async (log = () => undefined) => {
  const results = {}
  log("virtual hour under TestClock")
  Object.assign(results, Object.fromEntries([runJson("packages/core", ["bench/virtual-hour.ts"])]))
  log("cold burst")
  Object.assign(results, Object.fromEntries([runJson("packages/core", ["bench/burst.ts"])]))
  log("memory per cached token")
  Object.assign(
    results,
    Object.fromEntries([runJson("packages/core", ["--expose-gc", "bench/memory.ts"])]),
  )
  results.bundle = {}
  for (const entry of entries) {
    log(`bundle: ${entry}`)
    results.bundle[entry] = await measureBundle(entry)
  }
  return results
}

/** Everything: the deterministic measurements plus the timed ones. */
export const all = async (log = () => undefined) => {
  const results = await deterministic(log)
  log("cache hit")
  Object.assign(results, Object.fromEntries([runJson("packages/core", ["bench/hit.ts"])]))
  results.peerBundle = {}
  for (const [name, entry] of Object.entries(peers)) {
    log(`peer bundle: ${name}`)
    results.peerBundle[name] = await measureBundle(entry)
  }
  log("dev server signing")
  Object.assign(results, Object.fromEntries([runJson("packages/dev-server", ["bench/sign.ts"])]))
  log("sharing through Redis (real redis-server, about 35 s)")
  Object.assign(results, Object.fromEntries([runJson("packages/redis", ["bench/redis.ts"])]))
  return results
}

/** Reads `a.b.c` out of nested results. */
export const pick = (results, path) => {
  const [bench, ...rest] = path.split(".")
  let value = results[bench]
  for (const key of rest) value = value?.[key]
  return value
}
