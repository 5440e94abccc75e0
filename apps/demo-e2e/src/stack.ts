/**
 * The demo stack under test: `tools/demo.mjs --no-build --port 0`, exactly as
 * `./tools/run demo` runs it (the apps are built before by the `e2e` target),
 * plus the dev token server's admin API to steer it.
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process"
import { once } from "node:events"
import { fileURLToPath } from "node:url"

/** The repository's root. */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

/** A running demo: its URLs, the token server's admin API, and `stop()`. */
export interface Demo {
  /** The page server, e.g. `http://127.0.0.1:41234` (apps under /vue/, /svelte/, /angular/). */
  readonly url: string
  readonly tokenServer: string
  readonly api: string
  /** `POST /__tok/config`: the session token lifetime in seconds. */
  setTokenLifetime(seconds: number): Promise<void>
  /** `POST /__tok/faults`. */
  setFaults(faults: Record<string, unknown>): Promise<void>
  /** `POST /__tok/reset`: faults and stats cleared. */
  reset(): Promise<void>
  /** `GET /__tok/stats`: the totals (no session ids without the secret key). */
  stats(): Promise<{ tokenRequests: number; faults: { failed: number; dropped: number } }>
  /** `GET /__tok/stats?session=<id>`: one session's counts. */
  sessionStats(sessionId: string): Promise<{ tokenRequests: number; tokensIssued: number }>
  /** Signs `user` in on the token server, as a page's sign-in does; the session id. */
  signIn(user: string): Promise<string>
  /** SIGTERM to the demo, which stops its servers; resolves once it has exited. */
  stop(): Promise<void>
  /** Everything the demo printed. */
  output(): string
}

const admin = async (url: string, body?: unknown): Promise<unknown> => {
  const res = await fetch(url, {
    method: body === undefined ? "GET" : "POST",
    ...(body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(5_000),
  })
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`)
  return res.json()
}

/**
 * Starts the demo (with `flags`, e.g. `--fleet`) and resolves once it prints its URL (at most 60 s).
 *
 * The demo cannot outlive this process: its stdin is a pipe from us, which it
 * treats as a lifeline (it stops when the pipe ends, e.g. when we are killed),
 * and it gets SIGTERM when we exit without having stopped it.
 */
export const startDemo = async (flags: ReadonlyArray<string> = []): Promise<Demo> => {
  const child: ChildProcess = spawn(
    process.execPath,
    ["tools/demo.mjs", "--no-build", "--port", "0", ...flags],
    { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] },
  )
  const killOnExit = () => void child.kill("SIGTERM")
  process.on("exit", killOnExit)
  child.once("exit", () => process.off("exit", killOnExit))
  // A write to a demo that has gone would fail with EPIPE; nothing is written.
  child.stdin!.on("error", () => undefined)
  let output = ""
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGTERM")
      reject(new Error(`the demo did not start in 60 s:\n${output}`))
    }, 60_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /ready at (http:\/\/127\.0\.0\.1:\d+)\//.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`the demo exited (${code}) before it was ready:\n${output}`))
    })
  })
  const config = (await admin(`${url}/config.json`)) as { tokenServer: string; api: string }
  const tok = config.tokenServer
  const exited = once(child, "exit")
  return {
    url,
    tokenServer: tok,
    api: config.api,
    setTokenLifetime: async (seconds) =>
      void (await admin(`${tok}/__tok/config`, { tokenLifetime: seconds })),
    setFaults: async (faults) => void (await admin(`${tok}/__tok/faults`, faults)),
    reset: async () => void (await admin(`${tok}/__tok/reset`, {})),
    stats: async () => (await admin(`${tok}/__tok/stats`)) as Awaited<ReturnType<Demo["stats"]>>,
    sessionStats: async (sessionId) =>
      (await admin(`${tok}/__tok/stats?session=${encodeURIComponent(sessionId)}`)) as Awaited<
        ReturnType<Demo["sessionStats"]>
      >,
    signIn: async (user) => {
      const res = await fetch(`${tok}/v1/client/sessions`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ user_id: user }).toString(),
        signal: AbortSignal.timeout(5_000),
      })
      if (!res.ok) throw new Error(`sign-in of ${user}: HTTP ${res.status}`)
      return ((await res.json()) as { id: string }).id
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM")
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
        await exited
        clearTimeout(timer)
      }
    },
    output: () => output,
  }
}
