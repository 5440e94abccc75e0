import { decodeJwt } from "jose"
import { describe, expect, it } from "vitest"
import type { DevServer } from "@tok/dev-server"
import { errorCode, jwtOf, post, request, start } from "./helpers.ts"

const tokenUrl = (server: DevServer, id: string) => `${server.url}/v1/client/sessions/${id}/tokens`

/** A server with one signed-in session and its token URL. */
const setup = async (options: Parameters<typeof start>[0] = {}) => {
  const server = await start(options)
  const { id } = server.signIn("user_1")
  return { server, id, url: tokenUrl(server, id) }
}

describe("faults", () => {
  it("fail: the next N token requests answer the status, then tokens flow again", async () => {
    const { server, url } = await setup()
    const state = await post(`${server.url}/__tok/faults`, { fail: { status: 503, count: 2 } })
    expect(state.body).toMatchObject({ fail: { status: 503, count: 2 } })
    const first = await post(url)
    expect(first.status).toBe(503)
    expect(errorCode(first.body)).toBe("injected_fault")
    expect(first.headers.get("retry-after")).toBeNull()
    expect((await post(url)).status).toBe(503)
    expect((await post(url)).status).toBe(200)
    expect(server.faults().fail).toBeNull()
    expect(server.stats()).toMatchObject({
      tokenRequests: 3,
      tokensIssued: 1,
      faults: { failed: 2 },
    })
  })

  it("fail applies to backend token routes too, and never to sessions or the JWKS", async () => {
    const { server, id } = await setup()
    server.setFaults({ fail: { status: 500, count: 5 } })
    expect((await request(server.jwksUrl)).status).toBe(200)
    expect((await post(`${server.url}/v1/client/sessions`, { user_id: "u" })).status).toBe(200)
    const backend = await post(`${server.url}/v1/sessions/${id}/tokens`, undefined, {
      authorization: `Bearer ${server.secretKey}`,
    })
    expect(backend.status).toBe(500)
    expect(server.faults().fail?.count).toBe(4)
  })

  it("429 carries Retry-After: 1 s by default, or the seconds given", async () => {
    const { server, url } = await setup()
    server.setFaults({ fail: { status: 429 } })
    const limited = await post(url)
    expect(limited.status).toBe(429)
    expect(errorCode(limited.body)).toBe("too_many_requests")
    expect(limited.headers.get("retry-after")).toBe("1")
    server.setFaults({ fail: { status: 429, count: 1, retryAfterSeconds: 7 } })
    expect((await post(url)).headers.get("retry-after")).toBe("7")
    server.setFaults({ fail: { status: 503, retryAfterSeconds: 2 } })
    expect((await post(url)).headers.get("retry-after")).toBe("2")
    expect((await post(url)).status).toBe(200)
  })

  it("failFor: every token request fails for a time window, then tokens flow again", async () => {
    let now = 1_800_000_000_000
    const { server, url } = await setup({ now: () => now })
    await post(`${server.url}/__tok/faults`, { failFor: { ms: 5_000 } })
    expect(server.faults().failFor).toMatchObject({ status: 503, remainingMs: 5_000 })
    expect((await post(url)).status).toBe(503)
    now += 4_999
    expect((await post(url)).status).toBe(503)
    now += 1
    expect((await post(url)).status).toBe(200)
    expect(server.faults().failFor).toBeNull()
  })

  it("drop: the connection is destroyed without an answer, and the server keeps serving", async () => {
    const { server, url } = await setup()
    await post(`${server.url}/__tok/faults`, { drop: 1 })
    await expect(request(url, { method: "POST" })).rejects.toThrow()
    expect((await post(url)).status).toBe(200)
    expect(server.stats().faults.dropped).toBe(1)
  })

  it("latency: token answers are delayed by the given time", async () => {
    const { server, url } = await setup()
    // A second: a JWKS round trip on a busy machine stays far below it.
    server.setFaults({ latencyMs: 1_000 })
    const started = performance.now()
    expect((await post(url)).status).toBe(200)
    expect(performance.now() - started).toBeGreaterThanOrEqual(990)
    const jwksStarted = performance.now()
    await request(server.jwksUrl)
    expect(performance.now() - jwksStarted).toBeLessThan(900)
    server.setFaults({ latencyMs: 0 })
    expect(server.stats().faults.delayed).toBe(1)
  })

  it("latency does not hold up stop(): a delayed request is cut off", async () => {
    const { server, url } = await setup({ faults: { latencyMs: 30_000 } })
    const pending = request(url, { method: "POST" }).then(
      () => "answered",
      () => "cut off",
    )
    await new Promise((resolve) => setTimeout(resolve, 50))
    const started = performance.now()
    await server.stop()
    expect(performance.now() - started).toBeLessThan(1_000)
    expect(await pending).toBe("cut off")
  })

  it("malformed: the next tokens are answered 200 with a broken body of each kind", async () => {
    const { server, url } = await setup()
    const expected = {
      html: (text: string, type: string | null) => {
        expect(type).toContain("text/html")
        expect(text).toContain("<html>")
      },
      "empty-object": (text: string) => expect(text).toBe("{}"),
      "invalid-json": (text: string) => expect(() => JSON.parse(text)).toThrow(),
      "not-a-jwt": (text: string) =>
        expect(JSON.parse(text)).toEqual({ object: "token", jwt: "not-a-jwt" }),
    }
    for (const [body, check] of Object.entries(expected)) {
      await post(`${server.url}/__tok/faults`, { malformed: { body } })
      const res = await request(url, { method: "POST" })
      expect(res.status).toBe(200)
      check(await res.text(), res.headers.get("content-type"))
    }
    expect((await post(url)).status).toBe(200)
    expect(server.stats()).toMatchObject({ tokensIssued: 1, faults: { malformed: 4 } })
  })

  it("malformed and noExp are not used up by a request that fails for its own reasons", async () => {
    const { server, url } = await setup()
    server.setFaults({ malformed: { count: 1 }, noExp: 1 })
    expect((await post(`${server.url}/v1/client/sessions/sess_x/tokens`)).status).toBe(401)
    expect(server.faults()).toMatchObject({ malformed: { count: 1 }, noExp: 1 })
    expect((await request(url, { method: "POST" })).headers.get("content-type")).toContain("html")
    const token = decodeJwt(jwtOf((await post(url)).body))
    expect(token).not.toHaveProperty("exp")
  })

  it("noExp: the next N tokens are signed without exp", async () => {
    const { server, url } = await setup({ faults: { noExp: 2 } })
    expect(decodeJwt(jwtOf((await post(url)).body))).not.toHaveProperty("exp")
    expect(decodeJwt(jwtOf((await post(url)).body))).not.toHaveProperty("exp")
    expect(decodeJwt(jwtOf((await post(url)).body))).toHaveProperty("exp")
    expect(server.stats().faults.noExp).toBe(2)
  })

  it("clockSkewSeconds: iat, nbf and exp move with the server's skewed clock", async () => {
    const now = 1_800_000_000_000
    const { server, url } = await setup({ now: () => now })
    await post(`${server.url}/__tok/faults`, { clockSkewSeconds: -300 })
    const behind = decodeJwt(jwtOf((await post(url)).body))
    expect(behind).toMatchObject({
      iat: 1_800_000_000 - 300,
      nbf: 1_800_000_000 - 300,
      exp: 1_800_000_000 - 240,
    })
    server.setFaults({ clockSkewSeconds: 3600 })
    expect(decodeJwt(jwtOf((await post(url)).body)).iat).toBe(1_800_000_000 + 3600)
  })

  it("transport faults are applied one per request: window, then drop, then fail", async () => {
    const { server, url } = await setup()
    server.setFaults({ drop: 1, fail: { status: 502, count: 1 } })
    await expect(request(url, { method: "POST" })).rejects.toThrow()
    expect((await post(url)).status).toBe(502)
    expect((await post(url)).status).toBe(200)
  })

  it("settings merge; null or 0 clears one; DELETE /__tok/faults clears all", async () => {
    const { server } = await setup()
    await post(`${server.url}/__tok/faults`, {
      latencyMs: 5,
      drop: 2,
      fail: { status: 500, count: 3 },
    })
    await post(`${server.url}/__tok/faults`, { drop: 0, fail: null })
    const state = await (await request(`${server.url}/__tok/faults`)).json()
    expect(state).toEqual({
      latencyMs: 5,
      clockSkewSeconds: 0,
      fail: null,
      failFor: null,
      drop: 0,
      malformed: null,
      noExp: 0,
    })
    await request(`${server.url}/__tok/faults`, { method: "DELETE" })
    expect(server.faults().latencyMs).toBe(0)
    server.setFaults({ noExp: 1 })
    server.clearFaults()
    expect(server.faults().noExp).toBe(0)
  })

  it("bad settings answer 422 naming the field, and change nothing", async () => {
    const { server } = await setup()
    const cases: unknown[] = [
      { latencyMs: -1 },
      { latencyMs: "10" },
      { fail: { status: 200 } },
      { fail: { status: 503, count: 1.5 } },
      { fail: 503 },
      { failFor: { status: 503 } },
      { malformed: { body: "xml" } },
      { clockSkew: 5 },
      { drop: 1, bogus: true },
    ]
    for (const body of cases) {
      const res = await post(`${server.url}/__tok/faults`, body)
      expect(res.status, JSON.stringify(body)).toBe(422)
      expect(errorCode(res.body)).toBe("form_param_invalid")
    }
    const array = await post(`${server.url}/__tok/faults`, [1])
    expect(array.status).toBe(422)
    expect(server.faults()).toMatchObject({ drop: 0, latencyMs: 0, fail: null })
    expect(() => server.setFaults({ drop: -1 })).toThrow(/drop/)
  })
})
