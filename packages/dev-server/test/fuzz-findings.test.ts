/** Cases the property-based HTTP tests (fuzz.test.ts) found, as examples. */
import { describe, expect, it } from "vitest"
import { post, raw, rawStatus, request, start } from "./helpers.ts"

const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJl"

describe("requests Node answers by itself get Clerk's JSON errors", () => {
  it("CONNECT is answered 405 JSON, and the server still stops at once", async () => {
    const server = await start()
    const answer = await raw(
      server,
      "CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\nextra bytes",
    )
    expect(rawStatus(answer)).toBe(405)
    expect(answer).toContain('{"errors":[{"code":"method_not_allowed"')
    const started = Date.now()
    await server.stop()
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it("an HTTP/1.1 request without Host is answered 400 JSON; HTTP/1.0 needs none", async () => {
    const server = await start()
    const answer = await raw(server, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    expect(rawStatus(answer)).toBe(400)
    expect(answer).toContain('{"errors":[{"code":"malformed_request"')
    expect(rawStatus(await raw(server, "GET / HTTP/1.0\r\n\r\n"))).toBe(200)
  })

  it("an Expect other than 100-continue is answered 417 JSON", async () => {
    const server = await start()
    const answer = await raw(
      server,
      "GET /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: nonsense\r\nConnection: close\r\n\r\n",
    )
    expect(rawStatus(answer)).toBe(417)
    expect(answer).toContain('{"errors":[{"code":"expectation_failed"')
    expect((await request(server.jwksUrl)).status).toBe(200)
  })
})

describe("a JWT or key the caller sends is not echoed back", () => {
  it("as a field name the admin API refuses", async () => {
    const server = await start()
    for (const [route, body] of [
      ["/__tok/config", { [jwt]: 1 }],
      ["/__tok/faults", { [server.secretKey]: 1 }],
      ["/__tok/config", { templates: { t: { claims: {}, [jwt]: 1 } } }],
    ] as const) {
      const res = await post(`${server.url}${route}`, body)
      expect(res.status).toBe(422)
      const text = JSON.stringify(res.body)
      expect(text).not.toContain(jwt)
      expect(text).not.toContain(server.secretKey)
      expect(text).toMatch(/\[jwt\]|\[key\]|\[secret\]/)
    }
  })

  it("as the headers a CORS preflight asks for", async () => {
    const server = await start()
    const preflight = (headers: string) =>
      request(`${server.url}/v1/client/sessions`, {
        method: "OPTIONS",
        headers: {
          origin: "http://localhost:5173",
          "access-control-request-method": "POST",
          "access-control-request-headers": headers,
        },
      })
    const asked = await preflight(jwt)
    expect(asked.status).toBe(204)
    expect(asked.headers.get("access-control-allow-headers")).toBe("authorization, content-type")
    const named = await preflight("authorization, x-requested-with")
    expect(named.headers.get("access-control-allow-headers")).toBe(
      "authorization, x-requested-with",
    )
    // A long list of plain names (over the 300 characters a log line keeps) is still echoed.
    const many = Array.from({ length: 40 }, (_, i) => `x-app-header-${i}`).join(", ")
    expect(many.length).toBeGreaterThan(300)
    const long = await preflight(many)
    expect(long.headers.get("access-control-allow-headers")).toBe(many)
  })
})
