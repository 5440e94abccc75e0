/** Cases the property-based HTTP tests (fuzz.test.ts) found, as examples. */
import { connect } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDevServer, type DevServer } from "@tok/dev-server"
import { startDemoApi, type DemoApi } from "@tok/demo-api"

let tokens: DevServer
let api: DemoApi

beforeAll(async () => {
  tokens = await startDevServer()
  api = await startDemoApi({ tokenServerUrl: tokens.url, allowedOrigins: [] })
})
afterAll(async () => {
  await api?.stop()
  await tokens?.stop()
})

/** Sends raw bytes; resolves with what came back before the server closed. */
const raw = (bytes: string): Promise<string> =>
  new Promise((resolve) => {
    const socket = connect(Number(new URL(api.url).port), "127.0.0.1")
    const chunks: Buffer[] = []
    const done = () => {
      clearTimeout(timer)
      socket.destroy()
      resolve(Buffer.concat(chunks).toString("latin1"))
    }
    const timer = setTimeout(done, 3_000)
    socket.on("data", (chunk) => chunks.push(chunk))
    socket.on("error", () => undefined)
    socket.on("close", done)
    socket.write(bytes)
  })

const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)

describe("requests Node answers by itself get demo-api's JSON errors", () => {
  it.each([
    [
      "headers too large",
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
      431,
      "headers_too_large",
    ],
    ["a bad request line", "G@T /health HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request"],
    ["no Host", "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n", 400, "bad_request"],
    [
      "CONNECT",
      "CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      405,
      "method_not_allowed",
    ],
    [
      "Expect: nonsense",
      "GET /health HTTP/1.1\r\nHost: x\r\nExpect: nonsense\r\nConnection: close\r\n\r\n",
      417,
      "expectation_failed",
    ],
  ])("%s", async (_, request, status, code) => {
    const answer = await raw(request)
    expect(statusOf(answer)).toBe(status)
    expect(answer).toContain("Content-Type: application/json")
    expect(answer).toContain(`{"error":{"code":"${code}"`)
    expect((await fetch(`${api.url}/health`)).status).toBe(200)
  })
})
