import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDevServer, type DevServer } from "@tok/dev-server"
import { startDemoApi, type DemoApi } from "@tok/demo-api"

/** A local OTLP/HTTP receiver: keeps the decoded JSON of every trace export. */
const exports: Array<{ path: string; body: unknown; raw: string }> = []
const receiver = createServer((req, res) => {
  const chunks: Array<Buffer> = []
  req.on("data", (chunk: Buffer) => chunks.push(chunk))
  req.on("end", () => {
    const raw = Buffer.concat(chunks).toString()
    exports.push({ path: req.url ?? "", body: JSON.parse(raw) as unknown, raw })
    res.writeHead(200, { "content-type": "application/json" }).end("{}")
  })
})

const origin = "http://127.0.0.1:4700"
let tokens: DevServer
let api: DemoApi
let receiverUrl = ""

beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`
  tokens = await startDevServer()
  api = await startDemoApi({
    tokenServerUrl: tokens.url,
    allowedOrigins: [origin],
    otlpEndpoint: receiverUrl,
  })
})
afterAll(async () => {
  await api?.stop()
  await tokens?.stop()
  await new Promise((resolve) => receiver.close(resolve))
})

interface OtlpSpan {
  readonly name: string
  readonly attributes: ReadonlyArray<{ key: string; value: Record<string, unknown> }>
}
const spansOf = (body: unknown): Array<OtlpSpan> =>
  (
    body as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<OtlpSpan> }> }> }
  ).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))
const attribute = (span: OtlpSpan, key: string): unknown => {
  const value = span.attributes.find((a) => a.key === key)?.value
  return value === undefined ? undefined : Object.values(value)[0]
}

const callProfile = async () => {
  const session = tokens.signIn("user_otel")
  const jwt = await tokens.issueToken({ sessionId: session.id, origin })
  const res = await fetch(`${api.url}/api/profile`, {
    headers: { authorization: `Bearer ${jwt}`, origin },
    signal: AbortSignal.timeout(10_000),
  })
  expect(res.status).toBe(200)
  return session.id
}

describe("demo-api: tok seen from outside", () => {
  it("serves tok's metrics as Prometheus text that promtool accepts", async () => {
    await callProfile()
    const res = await fetch(`${api.url}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4")
    const text = await res.text()
    expect(text).toContain('tok_requests_total{cause="call"} 1')
    expect(text).toContain("# TYPE tok_request_duration_seconds histogram")
    expect(text).toMatch(/tok_cache_misses_total 1\n/)
    expect(text).not.toContain("eyJ")
    // Debian's prometheus package (CI installs it): the format check Prometheus itself uses.
    const promtool = process.env.PROMTOOL ?? "/usr/bin/promtool"
    if (existsSync(promtool)) {
      const check = spawnSync(promtool, ["check", "metrics"], { input: text, encoding: "utf8" })
      expect(check.stdout + check.stderr).toBe("")
      expect(check.status).toBe(0)
    } else if (process.env.CI) {
      throw new Error(`promtool not found at ${promtool}: install Debian's prometheus package`)
    }
  })

  it("exports a span per request and per attempt over OTLP, without a token or the session id", async () => {
    const sessionId = await callProfile()
    await api.stop() // flushes the exporter
    const traces = exports.filter((e) => e.path === "/v1/traces")
    expect(traces.length).toBeGreaterThan(0)
    const spans = traces.flatMap((e) => spansOf(e.body))
    const requests = spans.filter((s) => s.name === "tok.request")
    const attempts = spans.filter((s) => s.name === "tok.attempt")
    expect(requests).toHaveLength(2)
    expect(attempts).toHaveLength(2)
    expect(attribute(requests[0]!, "tok.template")).toBe("supabase")
    expect(attribute(requests[0]!, "tok.origin")).toBe("network")
    expect(attribute(attempts[0]!, "tok.attempt")).toBe(1)
    for (const trace of traces) {
      expect(trace.raw).not.toContain("eyJ")
      expect(trace.raw).not.toContain(sessionId)
    }
  })
})
