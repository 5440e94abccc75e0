/**
 * A real redis-server for a test: Debian's binary on a free 127.0.0.1 port,
 * no persistence, stopped (and its data gone) when the test is done. It can
 * be killed, paused and restarted on the same port to inject faults.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { createServer } from "node:net"

/** Where Debian puts the server (`apt-get install redis-server`). */
export const REDIS_SERVER = process.env["REDIS_SERVER"] ?? "/usr/bin/redis-server"

/** A port the OS says is free now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      )
    })
  })

/** A running redis-server. */
export interface RedisServer {
  readonly port: number
  readonly url: string
  /** SIGKILL: gone at once, its data with it. */
  kill(): Promise<void>
  /** SIGSTOP: the socket stays open, nothing answers. */
  pause(): void
  /** SIGCONT after `pause`. */
  resume(): void
  /** Starts it again on the same port (after `kill`). */
  restart(): Promise<void>
  /** Stops it for good. */
  stop(): Promise<void>
}

const launch = (port: number): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      REDIS_SERVER,
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--loglevel",
        "warning",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    )
    let output = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`redis-server did not start: ${output}`))
    }, 10_000)
    const poll = setInterval(async () => {
      if (await ping(port)) {
        clearTimeout(timer)
        clearInterval(poll)
        resolve(child)
      }
    }, 20)
    child.stdout!.on("data", (chunk) => (output += chunk))
    child.stderr!.on("data", (chunk) => (output += chunk))
    child.once("exit", (code) => {
      clearTimeout(timer)
      clearInterval(poll)
      reject(new Error(`redis-server exited (${code}): ${output}`))
    })
  })

/** Whether something answers PING on the port. */
const ping = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    import("node:net").then(({ connect }) => {
      const socket = connect(port, "127.0.0.1")
      socket.once("error", () => resolve(false))
      socket.once("connect", () => socket.write("PING\r\n"))
      socket.once("data", (data) => {
        socket.destroy()
        resolve(data.toString().startsWith("+PONG"))
      })
    })
  })

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()))

/** Starts a redis-server on a free port. */
export const startRedis = async (): Promise<RedisServer> => {
  const port = await freePort()
  let child = await launch(port)
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: async () => {
      child.kill("SIGKILL")
      await exited(child)
    },
    pause: () => void child.kill("SIGSTOP"),
    resume: () => void child.kill("SIGCONT"),
    restart: async () => {
      child = await launch(port)
    },
    stop: async () => {
      child.kill("SIGCONT")
      child.kill("SIGKILL")
      await exited(child)
    },
  }
}
