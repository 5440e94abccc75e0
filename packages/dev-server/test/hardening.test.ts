/** Leaks, impersonation, cross-site requests and unbounded growth the server must resist. */
import { connect } from "node:net"
import { decodeJwt } from "jose"
import { describe, expect, it } from "vitest"
import { errorCode, post, raw, rawStatus, request, start } from "./helpers.ts"
import { parseTemplates } from "../src/templates.ts"

/** Resolves once `check` holds, or fails after `ms`. */
const eventually = async (check: () => boolean, ms: number, what: string): Promise<void> => {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) throw new Error(`not within ${ms} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe("a request cut off during injected latency", () => {
  it("finishes its handler (no leak) when the client goes mid-body during the latency", async () => {
    const lines: string[] = []
    const server = await start({ faults: { latencyMs: 300 }, log: (line) => lines.push(line) })
    const { id } = server.signIn("user_1")
    const cut = (afterMs: number) =>
      new Promise<void>((resolve) => {
        const socket = connect(server.port, "127.0.0.1", () => {
          socket.write(
            `POST /v1/client/sessions/${id}/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
              `Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"organiz`,
          )
          setTimeout(() => {
            socket.destroy()
            resolve()
          }, afterMs)
        })
        socket.on("error", () => undefined)
      })
    // Gone during the latency (the body is never complete), and at once.
    await Promise.all([cut(50), cut(0)])
    await eventually(
      () =>
        lines.filter((line) => line.includes("/tokens") && line.includes("dropped")).length === 2,
      2_000,
      `both handlers finish; log: ${JSON.stringify(lines)}`,
    )
    // And the server goes on.
    expect((await post(`${server.url}/v1/client/sessions/${id}/tokens`)).status).toBe(200)
  })
})

describe("templates cannot set identity claims", () => {
  it("refuses sub, sid, azp and org_id in a template's claims, as the registered ones", async () => {
    for (const claim of ["sub", "sid", "azp", "org_id", "iss", "exp"]) {
      expect(() => parseTemplates({ evil: { claims: { [claim]: "bob" } } })).toThrow(
        `template "evil": the claim "${claim}" is set by the server`,
      )
    }
    const server = await start()
    const res = await post(`${server.url}/__tok/config`, {
      templates: { evil: { claims: { sub: "user_bob", sid: "sess_bob" } } },
    })
    expect(res.status).toBe(422)
    expect(JSON.stringify(res.body)).toContain('the claim \\"sub\\" is set by the server')
    expect(server.templates()).not.toHaveProperty("evil")
    await expect(start({ templates: { evil: { claims: { azp: "x" } } } })).rejects.toThrow(
      'the claim "azp" is set by the server',
    )
  })

  it("refuses __proto__, constructor and prototype as claim keys at any depth: 400", async () => {
    const server = await start()
    const { id } = server.signIn("user_1")
    const bodies = [
      '{"templates":{"evil":{"claims":{"__proto__":{"org_id":"org_admin"}}}}}',
      '{"templates":{"evil":{"claims":{"a":{"b":[{"__proto__":{"admin":true}}]}}}}}',
      '{"templates":{"evil":{"claims":{"constructor":{"prototype":{"admin":true}}}}}}',
      '{"templates":{"evil":{"claims":{"x":{"prototype":1}}}}}',
    ]
    for (const body of bodies) {
      const res = await request(`${server.url}/__tok/config`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      })
      expect(res.status, body).toBe(400)
      const answer = (await res.json()) as { errors: { code: string; message: string }[] }
      expect(answer.errors[0]?.code).toBe("malformed_request")
      expect(answer.errors[0]?.message).toMatch(/the key "(__proto__|constructor|prototype)"/)
      expect(server.templates()).not.toHaveProperty("evil")
      expect((await post(`${server.url}/v1/client/sessions/${id}/tokens/evil`)).status).toBe(404)
    }
    // The same from options and the handle.
    const proto = JSON.parse('{ "p": { "claims": { "n": { "__proto__": 1 } } } }') as Parameters<
      typeof server.setTemplates
    >[0]
    expect(() => server.setTemplates(proto)).toThrow('the key "__proto__" is not allowed')
    await expect(start({ templates: proto })).rejects.toThrow('the key "__proto__"')
    // Keys that merely contain those words are fine.
    server.setTemplates({ ok: { claims: { proto: { constructors: ["x"], __proto: 1 } } } })
    const payload = decodeJwt(await server.issueToken({ sessionId: id, template: "ok" }))
    expect(payload.proto).toEqual({ constructors: ["x"], __proto: 1 })
  })
})

/** The status of `GET /` sent to `address:port` with this `Host` header. */
const statusAt = (address: string, port: number, host: string) =>
  new Promise<number>((resolve, reject) => {
    const socket = connect(port, address, () =>
      socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
    )
    let text = ""
    socket.on("data", (chunk) => (text += chunk.toString("latin1")))
    socket.on("close", () => resolve(rawStatus(text)))
    socket.on("error", reject)
  })

describe("cross-site requests and DNS rebinding", () => {
  it("refuses a state change from an origin CORS does not allow, before it changes anything", async () => {
    const server = await start()
    server.setFaults({ latencyMs: 5 })
    const reset = await request(`${server.url}/__tok/reset`, {
      method: "POST",
      headers: { origin: "https://evil.example", "content-type": "text/plain" },
      body: '{"sessions":true}',
    })
    expect(reset.status).toBe(403)
    expect(errorCode(await reset.json())).toBe("origin_not_allowed")
    expect(server.faults().latencyMs).toBe(5)

    const form = await request(`${server.url}/v1/client/sessions`, {
      method: "POST",
      headers: { origin: "https://evil.example" },
      body: new URLSearchParams({ user_id: "user_evil" }),
    })
    expect(form.status).toBe(403)
    const nullOrigin = await request(`${server.url}/v1/client/sessions`, {
      method: "POST",
      headers: { origin: "null", "content-type": "application/json" },
      body: '{"user_id":"u"}',
    })
    expect(nullOrigin.status).toBe(403)
    expect(server.stats().routes["POST /v1/client/sessions"]).toBeUndefined()

    // A page of the demo (same machine), and requests without Origin, still work.
    const demo = await post(
      `${server.url}/v1/client/sessions`,
      { user_id: "user_1" },
      { origin: "http://127.0.0.1:4700" },
    )
    expect(demo.status).toBe(200)
    expect(demo.headers.get("access-control-allow-origin")).toBe("http://127.0.0.1:4700")
    expect((await post(`${server.url}/v1/client/sessions`, { user_id: "user_2" })).status).toBe(200)
    // Reads from anywhere are still answered (without CORS headers).
    const read = await request(server.jwksUrl, { headers: { origin: "https://evil.example" } })
    expect(read.status).toBe(200)

    const listed = await start({ corsOrigins: ["https://app.example"] })
    const fromApp = await post(
      `${listed.url}/v1/client/sessions`,
      { user_id: "u" },
      { origin: "https://app.example" },
    )
    expect(fromApp.status).toBe(200)
    const fromLocal = await post(
      `${listed.url}/v1/client/sessions`,
      { user_id: "u" },
      { origin: "http://localhost:5173" },
    )
    expect(fromLocal.status).toBe(403)
  })

  it("the admin API takes JSON or an empty body only", async () => {
    const server = await start()
    server.setFaults({ latencyMs: 5 })
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]) {
      const res = await request(`${server.url}/__tok/faults`, {
        method: "POST",
        headers: { "content-type": type },
        body: "latencyMs=0",
      })
      expect(res.status).toBe(415)
      expect(errorCode(await res.json())).toBe("unsupported_media_type")
    }
    expect(server.faults().latencyMs).toBe(5)
    expect((await post(`${server.url}/__tok/faults`, { latencyMs: 0 })).status).toBe(200)
    expect((await post(`${server.url}/__tok/reset`)).status).toBe(200)
    // The Clerk routes still take forms, as Clerk's do.
    const form = await request(`${server.url}/v1/client/sessions`, {
      method: "POST",
      body: new URLSearchParams({ user_id: "user_1" }),
    })
    expect(form.status).toBe(200)
  })

  it("bound to loopback, answers only requests addressed to a loopback name", async () => {
    const server = await start()
    const get = (host: string) =>
      raw(
        server,
        `GET /.well-known/jwks.json HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      )
    for (const host of [
      "127.0.0.1",
      `127.0.0.1:${server.port}`,
      "localhost:80",
      "LOCALHOST",
      "[::1]:5",
    ]) {
      expect(rawStatus(await get(host)), host).toBe(200)
    }
    for (const host of [
      "evil.example",
      `evil.example:${server.port}`,
      "127.0.0.2",
      "localhost.evil.example",
    ]) {
      const answer = await get(host)
      expect(rawStatus(answer), host).toBe(403)
      expect(answer).toContain("host_not_allowed")
    }

    const named = await start({ allowedHosts: ["devbox.lan"] })
    const named200 = await raw(
      named,
      "GET / HTTP/1.1\r\nHost: devbox.lan:8080\r\nConnection: close\r\n\r\n",
    )
    expect(rawStatus(named200)).toBe(200)
    expect(
      rawStatus(await raw(named, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")),
    ).toBe(403)
    const any = await start({ allowedHosts: ["*"] })
    expect(
      rawStatus(await raw(any, "GET / HTTP/1.1\r\nHost: whatever\r\nConnection: close\r\n\r\n")),
    ).toBe(200)
    await expect(start({ allowedHosts: ["a b"] })).rejects.toThrow("allowedHosts")
  })

  it("a Host that is a loopback name followed by more, like [::1]evil.com, is refused", async () => {
    const server = await start()
    for (const host of ["[::1]evil.com", "[::1]evil.com:80", "localhost@evil.com", "[::1", "a/b"]) {
      const answer = await raw(
        server,
        `GET /.well-known/jwks.json HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      )
      expect(rawStatus(answer), host).not.toBe(200)
    }
    const answer = await raw(
      server,
      "GET / HTTP/1.1\r\nHost: [::1]evil.com\r\nConnection: close\r\n\r\n",
    )
    expect(rawStatus(answer)).toBe(403)
    expect(answer).toContain("host_not_allowed")
  })

  it("bound to another loopback address, --host 127.0.0.2, answers its own printed URL", async () => {
    const server = await start({ host: "127.0.0.2" })
    expect(server.url).toBe(`http://127.0.0.2:${server.port}`)
    const res = await request(server.jwksUrl)
    expect(res.status).toBe(200)
    // The DNS-rebinding guard is still on.
    expect(await statusAt("127.0.0.2", server.port, "evil.example")).toBe(403)
    expect(await statusAt("127.0.0.2", server.port, "127.0.0.3")).toBe(403)
  })

  it("loopback written out in full, 0:0:0:0:0:0:0:1, is loopback: the rebinding guard stays on", async () => {
    const server = await start({ host: "0:0:0:0:0:0:0:1" })
    expect(server.url).toBe(`http://[::1]:${server.port}`)
    const get = (host: string) => statusAt("::1", server.port, host)
    expect(await get(`[::1]:${server.port}`)).toBe(200)
    expect(await get(`[0:0:0:0:0:0:0:1]:${server.port}`)).toBe(200)
    expect(await get("evil.example")).toBe(403)
    // Listed names are normalized the same way.
    const listed = await start({ allowedHosts: ["0:0:0:0:0:0:0:1", "127.1"] })
    const status = async (host: string) =>
      rawStatus(await raw(listed, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`))
    expect(await status("[::1]")).toBe(200)
    expect(await status("127.0.0.1:1")).toBe(200)
    expect(await status("localhost")).toBe(403)
  })
})

describe("per-session stats", () => {
  it("counts per session only sessions the server has, and answers one with ?session=", async () => {
    const server = await start()
    const { id } = server.signIn("user_1")
    for (const sid of ["sess_nope", "x".repeat(200)]) {
      expect((await post(`${server.url}/v1/client/sessions/${sid}/tokens`)).status).toBe(401)
    }
    await post(`${server.url}/v1/client/sessions/${id}/tokens`)
    server.setFaults({ fail: { status: 503, count: 1 } })
    await post(`${server.url}/v1/client/sessions/${id}/tokens`)
    const stats = server.stats()
    expect(stats.tokenRequests).toBe(4)
    expect(Object.keys(stats.sessions)).toEqual([id])
    expect(stats.sessions[id]).toEqual({ tokenRequests: 2, tokensIssued: 1 })

    const one = await request(`${server.url}/__tok/stats?session=${encodeURIComponent(id)}`)
    expect(await one.json()).toEqual({ session: id, tokenRequests: 2, tokensIssued: 1 })
    const other = await request(`${server.url}/__tok/stats?session=sess_nope`)
    expect(await other.json()).toEqual({ session: "sess_nope", tokenRequests: 0, tokensIssued: 0 })
    expect((await request(`${server.url}/__tok/stats?session=`)).status).toBe(422)
    expect(await (await request(`${server.url}/__tok/stats`)).json()).toMatchObject({
      tokenRequests: 4,
    })
  })

  it("GET /__tok/stats hands session ids to no page: only to the secret key", async () => {
    const server = await start()
    const { id } = server.signIn("user_victim")
    await post(`${server.url}/v1/client/sessions/${id}/tokens`)
    const page = { origin: "http://localhost:5173" }
    const open = await request(`${server.url}/__tok/stats`, { headers: page })
    expect(open.status).toBe(200)
    expect(open.headers.get("access-control-allow-origin")).toBe(page.origin)
    const text = await open.text()
    expect(text).not.toContain(id)
    expect(JSON.parse(text)).toMatchObject({ tokenRequests: 1, tokensIssued: 1 })
    expect(JSON.parse(text)).not.toHaveProperty("sessions")
    // A page that knows its own session id still reads its counts.
    const mine = await request(`${server.url}/__tok/stats?session=${id}`, { headers: page })
    expect(await mine.json()).toEqual({ session: id, tokenRequests: 1, tokensIssued: 1 })
    // The secret key gets every session's counts; a wrong one gets 401.
    const admin = await request(`${server.url}/__tok/stats`, {
      headers: { authorization: `Bearer ${server.secretKey}` },
    })
    expect(((await admin.json()) as { sessions: object }).sessions).toEqual({
      [id]: { tokenRequests: 1, tokensIssued: 1 },
    })
    const wrong = await request(`${server.url}/__tok/stats`, {
      headers: { authorization: "Bearer sk_test_wrong_key" },
    })
    expect(wrong.status).toBe(401)
    expect(await wrong.text()).not.toContain(id)
  })
})

describe("bounded sessions and templates", () => {
  it("a flood of sign-ins past 10,000 sessions signs nobody out: 503 with Retry-After", async () => {
    const server = await start()
    const first = server.signIn("user_first")
    const all = [first, ...Array.from({ length: 9_999 }, (_, i) => server.signIn(`user_${i}`))]
    const signIn = (user: string) => post(`${server.url}/v1/client/sessions`, { user_id: user })

    // Full of active sessions: a sign-in is refused, and every session stays.
    const refused = await signIn("user_flood")
    expect(refused.status).toBe(503)
    expect(errorCode(refused.body)).toBe("too_many_sessions")
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0)
    expect(() => server.signIn("user_flood")).toThrow("sessions are active")
    expect(server.session(first.id)?.status).toBe("active")
    const token = await post(`${server.url}/v1/client/sessions/${first.id}/tokens`)
    expect(token.status).toBe(200)

    // Once one has ended, it makes room (the one that ended first goes first).
    const [a, b] = [all[5_000]!, all[7_000]!]
    await request(`${server.url}/v1/client/sessions/${b.id}`, { method: "DELETE" })
    await request(`${server.url}/v1/client/sessions/${a.id}`, { method: "DELETE" })
    const next = await signIn("user_next")
    expect(next.status).toBe(200)
    expect(server.session(b.id)).toBeUndefined()
    expect(server.session(a.id)?.status).toBe("ended")
    expect((await signIn("user_after")).status).toBe(200)
    expect(server.session(a.id)).toBeUndefined()
    expect((await signIn("user_more")).status).toBe(503)
    expect(all.filter((s) => server.session(s.id)?.status === "active")).toHaveLength(9_998)
  })

  it("keeps at most 1,000 templates; more answer 422", async () => {
    const server = await start()
    const existing = Object.keys(server.templates()).length
    const many = Object.fromEntries(
      Array.from({ length: 1_000 - existing }, (_, i) => [`t${i}`, { lifetime: 60 }]),
    )
    server.setTemplates(many)
    expect(Object.keys(server.templates())).toHaveLength(1_000)
    // Replacing one is fine; adding one is not.
    server.setTemplates({ t0: { lifetime: 30 } })
    expect(() => server.setTemplates({ extra: {} })).toThrow("at most 1000 templates")
    const res = await post(`${server.url}/__tok/config`, { templates: { extra: {} } })
    expect(res.status).toBe(422)
    expect(errorCode(res.body)).toBe("form_param_invalid")
    expect(server.templates()).not.toHaveProperty("extra")
    const tooMany = Object.fromEntries(Array.from({ length: 1_001 }, (_, i) => [`t${i}`, {}]))
    await expect(start({ templates: tooMany })).rejects.toThrow("at most 1000 templates")
  })
})
