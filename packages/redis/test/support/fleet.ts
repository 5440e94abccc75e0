/**
 * A fleet of real Node processes (see `instance.ts`), each a `TokenClient`,
 * and a dev server that records when each token request arrived.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import { createInterface } from "node:readline"
import { startDevServer, type DevServer } from "@tok/dev-server"
import type { Command, InstanceConfig } from "./instance.ts"

const script = fileURLToPath(new URL("./instance.ts", import.meta.url))
const packageRoot = fileURLToPath(new URL("../..", import.meta.url))

/** Commands without their id: the fleet numbers them. */
type Ask = Command extends infer C ? (C extends { id: number } ? Omit<C, "id"> : never) : never

/** One running instance. */
export interface Instance {
  readonly pid: number
  ask<A = Record<string, unknown>>(command: Ask): Promise<A>
  /** SIGKILL. */
  kill(): Promise<void>
  /** Closes stdin and waits for a clean exit. */
  stop(): Promise<void>
}

/** Starts one instance and resolves once its client is built. */
export const startInstance = (config: InstanceConfig): Promise<Instance> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      ["--conditions=@tok/source", "--no-warnings", script, JSON.stringify(config)],
      { cwd: packageRoot, stdio: ["pipe", "pipe", "pipe"] },
    )
    let stderr = ""
    child.stderr!.on("data", (chunk) => (stderr += chunk))
    const pending = new Map<
      number,
      { resolve: (value: never) => void; reject: (error: Error) => void }
    >()
    let next = 0
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    child.once("exit", (code, signal) => {
      const error = new Error(`instance exited (${code ?? signal}): ${stderr.slice(-2000)}`)
      for (const waiter of pending.values()) waiter.reject(error)
      reject(error)
    })
    createInterface({ input: child.stdout! }).on("line", (line) => {
      let message: { ready?: boolean; pid?: number; id?: number; result?: unknown; error?: string }
      try {
        message = JSON.parse(line)
      } catch {
        return
      }
      if (message.ready) {
        resolve({
          pid: message.pid!,
          ask: (command) =>
            new Promise((resolveAsk, rejectAsk) => {
              const id = (next += 1)
              pending.set(id, { resolve: resolveAsk as (value: never) => void, reject: rejectAsk })
              child.stdin!.write(`${JSON.stringify({ ...command, id })}\n`)
            }),
          kill: async () => {
            child.kill("SIGKILL")
            await exited
          },
          stop: async () => {
            if (child.exitCode !== null || child.signalCode !== null) return
            child.stdin!.end()
            const timer = setTimeout(() => child.kill("SIGKILL"), 5000)
            await exited
            clearTimeout(timer)
          },
        })
        return
      }
      const waiter = message.id === undefined ? undefined : pending.get(message.id)
      if (!waiter) return
      pending.delete(message.id!)
      if (message.error !== undefined) waiter.reject(new Error(message.error))
      else waiter.resolve(message.result as never)
    })
  })

/** Starts `count` instances with the same config. */
export const startFleet = (count: number, config: InstanceConfig): Promise<Instance[]> =>
  Promise.all(Array.from({ length: count }, () => startInstance(config)))

/** Stops every instance. */
export const stopFleet = async (fleet: readonly Instance[]): Promise<void> => {
  await Promise.all(fleet.map((instance) => instance.stop()))
}

/** A dev server that keeps the arrival time of each token request (local epoch ms). */
export interface RecordingDevServer {
  readonly server: DevServer
  readonly arrivals: number[]
}

/** Starts a dev server whose log records when each backend token request arrived. */
export const startRecordingDevServer = async (
  tokenLifetime: number,
): Promise<RecordingDevServer> => {
  const arrivals: number[] = []
  const server = await startDevServer({
    tokenLifetime,
    log: (line) => {
      const match = /^\[tok\] POST \/v1\/sessions\/\S+\/tokens\S* \S+ ([\d.]+)ms/.exec(line)
      if (match) arrivals.push(Date.now() - Number(match[1]))
    },
  })
  return { server, arrivals }
}

/** The most arrivals in any window `[t, t + windowMs)` starting at an arrival. */
export const busiestWindow = (arrivals: readonly number[], windowMs = 1000): number => {
  const sorted = [...arrivals].sort((a, b) => a - b)
  let best = 0
  let end = 0
  for (let start = 0; start < sorted.length; start++) {
    while (end < sorted.length && sorted[end]! < sorted[start]! + windowMs) end++
    best = Math.max(best, end - start)
  }
  return best
}
