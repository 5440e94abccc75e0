/**
 * demo-api under bounded load: the real dev server and the real demo-api, each
 * started by its own command in its own process, then `--requests` concurrent
 * `GET /api/profile` (2,000 by default, spread over `--sessions` sessions) sent
 * at once. Counts the answers by status and reads demo-api's peak resident memory
 * (`VmHWM` from `/proc/<pid>/status` on Linux, else sampled with `ps`).
 *
 *   node --conditions=@tok/source bench/load.ts [--requests 2000] [--sessions 200] [--budget-ms 60000] [--json]
 *
 * What must hold: no 5xx but 503 (demo-api bounds its outgoing calls and answers
 * 503 `busy` when saturated), and peak RSS under 300 MB. Bounded in count and
 * time: requests still open after `--budget-ms` are cut and counted unanswered.
 * Not a test: it prints a summary, or with `--json` one JSON line
 * `{ "bench": "demo-api-load", … }` for `./tools/run bench`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import { readFileSync } from "node:fs"
import { Agent, request } from "node:http"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "2000" },
    sessions: { type: "string", default: "200" },
    "budget-ms": { type: "string", default: "60000" },
    json: { type: "boolean", default: false },
  },
})
const requests = Number(values.requests)
const sessions = Number(values.sessions)
const budgetMs = Number(values["budget-ms"])
for (const [name, value] of [
  ["requests", requests],
  ["sessions", sessions],
  ["budget-ms", budgetMs],
] as const) {
  if (!Number.isInteger(value) || value < 1 || value > 100_000)
    throw new Error(`--${name} must be a whole number in [1, 100000]`)
}

const origin = "http://127.0.0.1:4700"
const children: ChildProcess[] = []
const stopAll = () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM")
}
process.once("exit", stopAll)

/** Starts a command (a `.ts` file run from source) and resolves with the URL it prints. */
const startCommand = (script: string, args: readonly string[]) =>
  new Promise<{ child: ChildProcess; url: string }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--conditions=@tok/source", fileURLToPath(new URL(script, import.meta.url)), ...args],
      { stdio: ["ignore", "pipe", "pipe"] },
    )
    children.push(child)
    let output = ""
    const timer = setTimeout(() => reject(new Error(`${script} did not start:\n${output}`)), 30_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1]
      if (url) {
        clearTimeout(timer)
        child.stdout!.off("data", onData)
        child.stdout!.resume()
        child.stderr!.resume()
        resolve({ child, url })
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.once("exit", (code) => reject(new Error(`${script} exited (${code}):\n${output}`)))
  })

/** Resident memory of a process in bytes: the peak (`VmHWM`) where Linux tells it, else now. */
const rss = (pid: number, which: "VmHWM" | "VmRSS"): number | undefined => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    const kb = new RegExp(`^${which}:\\s+(\\d+) kB`, "m").exec(status)?.[1]
    if (kb) return Number(kb) * 1024
  } catch {
    // not Linux: ask ps below
  }
  const ps = spawnSync("ps", ["-o", "rss=", "-p", String(pid)], { encoding: "utf8" })
  const kb = Number(ps.stdout.trim())
  return Number.isFinite(kb) && kb > 0 ? kb * 1024 : undefined
}

/** One `GET` with its own socket; resolves with the status, or 0 for no answer. */
const agent = new Agent({ keepAlive: false, maxSockets: Infinity })
const get = (url: string, jwt: string, signal: AbortSignal) =>
  new Promise<number>((resolve) => {
    const req = request(
      url,
      { agent, headers: { authorization: `Bearer ${jwt}`, origin }, signal },
      (res) => {
        res.resume()
        res.once("end", () => resolve(res.statusCode ?? 0))
        res.once("error", () => resolve(0))
      },
    )
    req.once("error", () => resolve(0))
    req.end()
  })

const post = async (url: string, body: unknown): Promise<unknown> => {
  const res = await fetch(url, {
    method: "POST",
    headers: { origin, "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  })
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`)
  return res.json()
}

try {
  const tokens = await startCommand("../../../packages/dev-server/src/cli.ts", ["--port", "0"])
  const api = await startCommand("../src/main.ts", [
    "--token-server",
    tokens.url,
    "--allowed-origin",
    origin,
    "--port",
    "0",
  ])
  // Sessions and their session tokens, as browsers on `origin` would get them.
  const jwts: string[] = []
  for (let i = 0; i < sessions; i++) {
    const { id } = (await post(`${tokens.url}/v1/client/sessions`, { user_id: `user_${i}` })) as {
      id: string
    }
    const { jwt } = (await post(`${tokens.url}/v1/client/sessions/${id}/tokens`, {})) as {
      jwt: string
    }
    jwts.push(jwt)
  }
  const profileUrl = `${api.url}/api/profile`
  const warm = await get(profileUrl, jwts[0]!, AbortSignal.timeout(10_000))
  if (warm !== 200) throw new Error(`the warm-up request got ${warm}`)
  const pid = api.child.pid!
  const idleRss = rss(pid, "VmRSS") ?? 0

  // Off Linux there is no peak to read: sample while the load runs.
  let sampledPeak = 0
  const sampler = existsProc(pid)
    ? undefined
    : setInterval(() => (sampledPeak = Math.max(sampledPeak, rss(pid, "VmRSS") ?? 0)), 50)
  const cut = AbortSignal.timeout(budgetMs)
  const started = performance.now()
  const statuses = await Promise.all(
    Array.from({ length: requests }, (_, i) => get(profileUrl, jwts[i % sessions]!, cut)),
  )
  const wallMs = Math.round(performance.now() - started)
  if (sampler) clearInterval(sampler)
  const peakRss = existsProc(pid) ? (rss(pid, "VmHWM") ?? 0) : sampledPeak

  const count = (check: (status: number) => boolean) => statuses.filter(check).length
  const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10
  const result = {
    bench: "demo-api-load",
    requests,
    sessions,
    ok: count((s) => s === 200),
    busy503: count((s) => s === 503),
    other5xx: count((s) => s >= 500 && s !== 503),
    other: count((s) => s !== 0 && s !== 200 && s < 500),
    noAnswer: count((s) => s === 0),
    wallMs,
    idleRssMB: mb(idleRss),
    peakRssMB: mb(peakRss),
  }
  if (values.json) console.log(JSON.stringify(result))
  else {
    console.log(
      `demo-api under ${requests} concurrent GET /api/profile (${sessions} sessions), node ${process.versions.node}`,
    )
    console.log(
      `  answers: ${result.ok} × 200, ${result.busy503} × 503 busy, ${result.other5xx} other 5xx, ` +
        `${result.other} other, ${result.noAnswer} unanswered, in ${wallMs} ms`,
    )
    console.log(
      `  demo-api resident memory: ${result.idleRssMB} MB idle, ${result.peakRssMB} MB peak (budget 300 MB)`,
    )
  }
} finally {
  stopAll()
}

function existsProc(pid: number): boolean {
  try {
    readFileSync(`/proc/${pid}/status`)
    return true
  } catch {
    return false
  }
}
