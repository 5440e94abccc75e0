/**
 * demo-api as a fleet (`./tools/run demo --fleet`): two instances sharing
 * one real redis-server through `@tok/redis`. Each answer names the instance
 * that served it and where its template token came from.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { once } from "node:events"
import { existsSync } from "node:fs"
import { connect, createServer } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDevServer, type DevServer } from "@tok/dev-server"
import { startDemoApi, type DemoApi } from "@tok/demo-api"

const origin = "http://127.0.0.1:4700"
let tokens: DevServer
let redis: ChildProcess
let fleet: DemoApi[] = []

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

const ping = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1")
    socket.once("error", () => resolve(false))
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.once("data", (data) => {
      socket.destroy()
      resolve(data.toString().startsWith("+PONG"))
    })
  })

beforeAll(async () => {
  const binary = process.env["REDIS_SERVER"] ?? "/usr/bin/redis-server"
  if (!existsSync(binary)) {
    throw new Error(
      `no redis-server at ${binary}: apt-get install redis-server, or set REDIS_SERVER`,
    )
  }
  const port = await freePort()
  // Debian's redis-server (CI installs it), no persistence, stopped after.
  redis = spawn(
    binary,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  )
  while (!(await ping(port))) await new Promise((resolve) => setTimeout(resolve, 20))
  tokens = await startDevServer()
  fleet = await Promise.all(
    ["api-1", "api-2"].map((instance) =>
      startDemoApi({
        tokenServerUrl: tokens.url,
        allowedOrigins: [origin],
        redisUrl: `redis://127.0.0.1:${port}`,
        instance,
      }),
    ),
  )
})
afterAll(async () => {
  await Promise.all(fleet.map((api) => api.stop()))
  await tokens?.stop()
  if (redis && redis.exitCode === null) {
    redis.kill("SIGKILL")
    await once(redis, "exit")
  }
})

describe("demo-api as a fleet on one Redis", () => {
  it("each answer names its instance and where the token came from: a fetch, then Redis, then the cache", async () => {
    const session = tokens.signIn("user_alice")
    const jwt = await tokens.issueToken({ sessionId: session.id, origin })
    const ask = async (api: DemoApi) => {
      const res = await fetch(`${api.url}/api/profile`, {
        headers: { authorization: `Bearer ${jwt}`, origin },
        signal: AbortSignal.timeout(10_000),
      })
      const body = (await res.json()) as { instance: string; tokenSource: string }
      return {
        status: res.status,
        header: res.headers.get("x-tok-instance"),
        instance: body.instance,
        tokenSource: body.tokenSource,
      }
    }
    const [a, b] = fleet as [DemoApi, DemoApi]
    expect(await ask(a)).toEqual({
      status: 200,
      header: "api-1",
      instance: "api-1",
      tokenSource: "fetch",
    })
    expect(await ask(b)).toEqual({
      status: 200,
      header: "api-2",
      instance: "api-2",
      tokenSource: "redis",
    })
    expect(await ask(a)).toMatchObject({ instance: "api-1", tokenSource: "cache" })
    expect(await ask(b)).toMatchObject({ instance: "api-2", tokenSource: "cache" })
    // One request to the token server for the two instances.
    expect(tokens.stats().sessions[session.id]?.tokenRequests).toBe(1)
  })
})
