import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose"
import { describe, expect, it } from "vitest"
import { DEFAULT_SECRET_KEY, defaultTemplates, type DevServer } from "@tok/dev-server"
import { errorCode, jwtOf, post, request, start } from "./helpers.ts"

const verify = (server: DevServer, jwt: string, options: { audience?: string } = {}) =>
  jwtVerify(jwt, createRemoteJWKSet(new URL(server.jwksUrl)), { issuer: server.url, ...options })

const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` })

describe("startDevServer", () => {
  it("binds 127.0.0.1 on a port chosen by the OS and reports its URL", async () => {
    const server = await start()
    expect(server.host).toBe("127.0.0.1")
    expect(server.port).toBeGreaterThan(0)
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`)
    expect(server.issuer).toBe(server.url)
    expect(server.jwksUrl).toBe(`${server.url}/.well-known/jwks.json`)
    expect(server.secretKey).toBe(DEFAULT_SECRET_KEY)
  })

  it("stops: the port no longer answers, and stopping twice is fine", async () => {
    const server = await start()
    await server.stop()
    await server.stop()
    await expect(request(`${server.url}/.well-known/jwks.json`)).rejects.toThrow()
  })

  it("rejects bad options before binding", async () => {
    await expect(start({ tokenLifetime: 0 })).rejects.toThrow(/tokenLifetime/)
    await expect(start({ port: 70_000 })).rejects.toThrow(/port/)
    await expect(start({ secretKey: "short" })).rejects.toThrow(/secretKey/)
    await expect(start({ corsOrigins: ["localhost:5173"] })).rejects.toThrow(/origin/)
    await expect(start({ templates: { "../x": {} } })).rejects.toThrow(/name/)
    await expect(start({ faults: { latencyMs: -1 } })).rejects.toThrow(/latencyMs/)
  })

  it("reports a port in use clearly", async () => {
    const first = await start()
    await expect(start({ port: first.port })).rejects.toThrow(/already in use/)
  })
})

describe("JWKS", () => {
  it("serves the public key at /.well-known/jwks.json without private parts", async () => {
    const server = await start()
    const res = await request(server.jwksUrl)
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toBe("application/json")
    const body = (await res.json()) as { keys: Record<string, unknown>[] }
    expect(body.keys).toHaveLength(1)
    expect(body.keys[0]).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig" })
    expect(body.keys[0]).not.toHaveProperty("d")
    expect(body).toEqual(server.jwks())
  })

  it("serves it at GET /v1/jwks only with the secret key", async () => {
    const server = await start()
    const url = `${server.url}/v1/jwks`
    const missing = await request(url)
    expect(missing.status).toBe(401)
    expect(errorCode(await missing.json())).toBe("authorization_header_missing")
    const wrong = await request(url, { headers: bearer("sk_test_wrong") })
    expect(wrong.status).toBe(401)
    expect(errorCode(await wrong.json())).toBe("clerk_key_invalid")
    const right = await request(url, { headers: bearer(server.secretKey) })
    expect(right.status).toBe(200)
    expect(await right.json()).toEqual(server.jwks())
  })

  it("publishes an OpenID discovery document pointing at the JWKS", async () => {
    const server = await start()
    const res = await request(`${server.url}/.well-known/openid-configuration`)
    expect(await res.json()).toMatchObject({ issuer: server.url, jwks_uri: server.jwksUrl })
  })
})

describe("sessions", () => {
  it("signs in with POST /v1/client/sessions (JSON or form) and reads the session back", async () => {
    const server = await start()
    const created = await post(`${server.url}/v1/client/sessions`, { user_id: "user_1" })
    expect(created.status).toBe(200)
    expect(created.body).toMatchObject({ object: "session", user_id: "user_1", status: "active" })
    const id = (created.body as { id: string }).id
    expect(id).toMatch(/^sess_[0-9a-f]{32}$/)

    const form = await request(`${server.url}/v1/client/sessions`, {
      method: "POST",
      body: new URLSearchParams({ user_id: "user_2" }),
    })
    expect(await form.json()).toMatchObject({ user_id: "user_2", status: "active" })

    const read = await request(`${server.url}/v1/client/sessions/${id}`)
    expect(await read.json()).toMatchObject({ id, user_id: "user_1", status: "active" })
  })

  it("signs out with DELETE: the session ends and its tokens are refused with 401", async () => {
    const server = await start()
    const { id } = server.signIn("user_1")
    const ended = await request(`${server.url}/v1/client/sessions/${id}`, { method: "DELETE" })
    expect(ended.status).toBe(200)
    expect(await ended.json()).toMatchObject({ id, status: "ended" })
    expect(server.session(id)?.status).toBe("ended")
    const again = await request(`${server.url}/v1/client/sessions/${id}`, { method: "DELETE" })
    expect(await again.json()).toMatchObject({ status: "ended" })

    const token = await post(`${server.url}/v1/client/sessions/${id}/tokens`)
    expect(token.status).toBe(401)
    expect(errorCode(token.body)).toBe("signed_out")
  })

  it("answers 422 for a missing or bad user_id and 404 for an unknown session", async () => {
    const server = await start()
    const missing = await post(`${server.url}/v1/client/sessions`, {})
    expect(missing.status).toBe(422)
    expect(errorCode(missing.body)).toBe("form_param_missing")
    const bad = await post(`${server.url}/v1/client/sessions`, { user_id: 42 })
    expect(bad.status).toBe(422)
    expect(errorCode(bad.body)).toBe("form_param_invalid")
    const control = await post(`${server.url}/v1/client/sessions`, { user_id: "a\nb" })
    expect(control.status).toBe(422)
    const unknown = await request(`${server.url}/v1/client/sessions/sess_nope`)
    expect(unknown.status).toBe(404)
    const deleteUnknown = await request(`${server.url}/v1/client/sessions/sess_nope`, {
      method: "DELETE",
    })
    expect(deleteUnknown.status).toBe(404)
  })

  it("has backend routes to read and revoke a session, behind the secret key", async () => {
    const server = await start()
    const { id } = server.signIn("user_1")
    expect((await request(`${server.url}/v1/sessions/${id}`)).status).toBe(401)
    const read = await request(`${server.url}/v1/sessions/${id}`, {
      headers: bearer(server.secretKey),
    })
    expect(await read.json()).toMatchObject({ id, status: "active" })
    const revoked = await post(
      `${server.url}/v1/sessions/${id}/revoke`,
      undefined,
      bearer(server.secretKey),
    )
    expect(revoked.body).toMatchObject({ id, status: "ended" })
    expect(server.session(id)?.status).toBe("ended")
  })
})

describe("session tokens", () => {
  it("issues an RS256 session token that verifies against the JWKS, with sub, sid, iat, nbf, exp, iss", async () => {
    const server = await start()
    const { id } = server.signIn("user_1")
    const res = await post(`${server.url}/v1/client/sessions/${id}/tokens`)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ object: "token" })
    const jwt = jwtOf(res.body)
    const { payload, protectedHeader } = await verify(server, jwt)
    expect(protectedHeader).toMatchObject({
      alg: "RS256",
      typ: "JWT",
      kid: server.jwks().keys[0]?.kid,
    })
    expect(payload).toMatchObject({ sub: "user_1", sid: id, iss: server.url })
    expect(payload.nbf).toBe(payload.iat)
    expect(payload.exp! - payload.iat!).toBe(60)
    expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(5)
    expect(payload).not.toHaveProperty("azp")
    expect(payload).not.toHaveProperty("org_id")
    expect(payload).not.toHaveProperty("aud")
  })

  it("sets azp from the Origin header and org_id from organization_id (form or JSON)", async () => {
    const server = await start()
    const { id } = server.signIn("user_1")
    const url = `${server.url}/v1/client/sessions/${id}/tokens`
    const form = await request(url, {
      method: "POST",
      headers: { origin: "http://localhost:5173" },
      body: new URLSearchParams({ organization_id: "org_1" }),
    })
    const { payload } = await verify(server, jwtOf(await form.json()))
    expect(payload).toMatchObject({ azp: "http://localhost:5173", org_id: "org_1" })

    const viaJson = await post(url, { organization_id: "org_2" })
    expect(decodeJwt(jwtOf(viaJson.body))).toMatchObject({ org_id: "org_2" })

    const empty = await post(url, { organization_id: "" })
    expect(decodeJwt(jwtOf(empty.body))).not.toHaveProperty("org_id")

    const bad = await post(url, { organization_id: 7 })
    expect(bad.status).toBe(422)
  })

  it("answers 401 for an unknown session", async () => {
    const server = await start()
    const res = await post(`${server.url}/v1/client/sessions/sess_unknown/tokens`)
    expect(res.status).toBe(401)
    expect(errorCode(res.body)).toBe("session_not_found")
  })

  it("uses the configured lifetime, changed at run time by setTokenLifetime and POST /__tok/config", async () => {
    const server = await start({ tokenLifetime: 30 })
    const { id } = server.signIn("user_1")
    const url = `${server.url}/v1/client/sessions/${id}/tokens`
    const lifetime = async () => {
      const { payload } = await verify(server, jwtOf((await post(url)).body))
      return payload.exp! - payload.iat!
    }
    expect(await lifetime()).toBe(30)
    server.setTokenLifetime(8)
    expect(server.tokenLifetime).toBe(8)
    expect(await lifetime()).toBe(8)
    const config = await post(`${server.url}/__tok/config`, { tokenLifetime: 12 })
    expect(config.body).toMatchObject({ tokenLifetime: 12 })
    expect(await lifetime()).toBe(12)
    const bad = await post(`${server.url}/__tok/config`, { tokenLifetime: 1.5 })
    expect(bad.status).toBe(422)
    const unknown = await post(`${server.url}/__tok/config`, { lifetime: 5 })
    expect(unknown.status).toBe(422)
    expect(() => server.setTokenLifetime(0)).toThrow()
  })

  it("mints a different token on every request", async () => {
    const server = await start()
    const { id } = server.signIn("user_1")
    const url = `${server.url}/v1/client/sessions/${id}/tokens`
    const [a, b] = await Promise.all([post(url), post(url)])
    expect(jwtOf(a.body)).not.toBe(jwtOf(b.body))
  })
})

describe("templates", () => {
  it("fills the supabase and hasura defaults and sets their audience", async () => {
    const server = await start()
    const { id } = server.signIn("user_1")
    const supabase = await post(`${server.url}/v1/client/sessions/${id}/tokens/supabase`)
    const { payload } = await verify(server, jwtOf(supabase.body), { audience: "authenticated" })
    expect(payload).toMatchObject({ sub: "user_1", role: "authenticated", aud: "authenticated" })
    expect(payload.exp! - payload.iat!).toBe(60)

    const hasura = await post(`${server.url}/v1/client/sessions/${id}/tokens/hasura`, {
      organization_id: "org_9",
    })
    expect((await verify(server, jwtOf(hasura.body))).payload).toMatchObject({
      org_id: "org_9",
      "https://hasura.io/jwt/claims": {
        "x-hasura-user-id": "user_1",
        "x-hasura-default-role": "user",
        "x-hasura-allowed-roles": ["user"],
        "x-hasura-org-id": "org_9",
      },
    })
    const withoutOrg = decodeJwt(
      jwtOf((await post(`${server.url}/v1/client/sessions/${id}/tokens/hasura`)).body),
    )
    expect(withoutOrg["https://hasura.io/jwt/claims"]).not.toHaveProperty("x-hasura-org-id")
    expect(Object.keys(defaultTemplates)).toEqual(["supabase", "hasura", "firebase"])
  })

  it("uses templates from options: lifetime, audience and shortcodes", async () => {
    const server = await start({
      templates: {
        api: {
          lifetime: 300,
          audience: ["https://api.example", "other"],
          claims: {
            who: "{{user.id}}",
            path: "sessions/{{session.id}}/orgs/{{ org.id }}",
            ids: ["{{user.id}}", "{{org.id}}"],
            fixed: { n: 1, ok: true, none: null },
          },
        },
      },
    })
    const { id } = server.signIn("user_7")
    const res = await post(`${server.url}/v1/client/sessions/${id}/tokens/api`)
    const { payload } = await verify(server, jwtOf(res.body), { audience: "other" })
    expect(payload).toMatchObject({
      aud: ["https://api.example", "other"],
      who: "user_7",
      path: `sessions/${id}/orgs/`,
      ids: ["user_7"],
      fixed: { n: 1, ok: true, none: null },
    })
    expect(payload.exp! - payload.iat!).toBe(300)
    expect(Object.keys(server.templates())).toEqual(["supabase", "hasura", "firebase", "api"])
  })

  it("adds templates at run time with POST /__tok/config and setTemplates", async () => {
    const server = await start()
    const { id } = server.signIn("user_1")
    const added = await post(`${server.url}/__tok/config`, {
      templates: { short: { lifetime: 5, claims: { kind: "short" } } },
    })
    expect(added.status).toBe(200)
    const token = decodeJwt(
      jwtOf((await post(`${server.url}/v1/client/sessions/${id}/tokens/short`)).body),
    )
    expect(token.exp! - token.iat!).toBe(5)
    expect(token.kind).toBe("short")
    server.setTemplates({ other: {} })
    expect(server.templates()).toHaveProperty("other")
    const bad = await post(`${server.url}/__tok/config`, {
      templates: { x: { claims: { exp: 1 } } },
    })
    expect(bad.status).toBe(422)
  })

  it("answers 404 for an unknown template, also when its name is encoded", async () => {
    const server = await start()
    const { id } = server.signIn("user_1")
    const unknown = await post(`${server.url}/v1/client/sessions/${id}/tokens/nope`)
    expect(unknown.status).toBe(404)
    expect(errorCode(unknown.body)).toBe("resource_not_found")
    const dotted = await post(
      `${server.url}/v1/client/sessions/${id}/tokens/${encodeURIComponent("../x")}`,
    )
    expect(dotted.status).toBe(404)
  })
})

describe("backend token routes", () => {
  it("issue session and template tokens with the secret key only", async () => {
    const server = await start({ secretKey: "sk_test_backend_secret" })
    const { id } = server.signIn("user_1")
    const url = `${server.url}/v1/sessions/${id}/tokens`
    const missing = await post(url)
    expect(missing.status).toBe(401)
    expect(errorCode(missing.body)).toBe("authorization_header_missing")
    for (const header of [
      "Bearer sk_test_backend_secre",
      "Bearer sk_test_backend_secret2",
      "Basic x",
      "Bearer",
    ]) {
      const wrong = await post(url, undefined, { authorization: header })
      expect(wrong.status).toBe(401)
      expect(errorCode(wrong.body)).toBe("clerk_key_invalid")
      expect(JSON.stringify(wrong.body)).not.toContain("sk_test")
    }
    const right = await post(url, undefined, bearer("sk_test_backend_secret"))
    expect(right.status).toBe(200)
    expect((await verify(server, jwtOf(right.body))).payload).toMatchObject({
      sub: "user_1",
      sid: id,
    })
    const lower = await post(url, undefined, { authorization: "bearer sk_test_backend_secret" })
    expect(lower.status).toBe(200)

    const template = await post(`${url}/supabase`, undefined, bearer("sk_test_backend_secret"))
    expect(decodeJwt(jwtOf(template.body))).toMatchObject({ aud: "authenticated" })
  })

  it("honours expires_in_seconds, as Clerk's backend API does", async () => {
    const server = await start()
    const { id } = server.signIn("user_1")
    const res = await post(
      `${server.url}/v1/sessions/${id}/tokens`,
      { expires_in_seconds: 120 },
      bearer(server.secretKey),
    )
    const token = decodeJwt(jwtOf(res.body))
    expect(token.exp! - token.iat!).toBe(120)
    const bad = await post(
      `${server.url}/v1/sessions/${id}/tokens`,
      { expires_in_seconds: -1 },
      bearer(server.secretKey),
    )
    expect(bad.status).toBe(422)
  })

  it("answers 401 for an ended session", async () => {
    const server = await start()
    const { id } = server.signIn("user_1")
    server.signOut(id)
    const res = await post(
      `${server.url}/v1/sessions/${id}/tokens`,
      undefined,
      bearer(server.secretKey),
    )
    expect(res.status).toBe(401)
  })
})

describe("issueToken", () => {
  it("signs the same token as the routes, without HTTP", async () => {
    const server = await start()
    const { id } = server.signIn("user_1")
    const jwt = await server.issueToken({
      sessionId: id,
      template: "supabase",
      organizationId: "org_1",
      origin: "http://localhost:1",
    })
    expect((await verify(server, jwt, { audience: "authenticated" })).payload).toMatchObject({
      sub: "user_1",
      sid: id,
      org_id: "org_1",
      azp: "http://localhost:1",
    })
    expect(decodeProtectedHeader(jwt).kid).toBe(server.jwks().keys[0]?.kid)
    await expect(server.issueToken({ sessionId: "sess_x" })).rejects.toThrow(/session/)
    await expect(server.issueToken({ sessionId: id, template: "nope" })).rejects.toThrow(/template/)
    expect(server.stats().tokenRequests).toBe(0)
  })
})

describe("stats and reset", () => {
  it("counts requests by route and token requests by session; the admin API is not counted", async () => {
    const server = await start()
    const a = server.signIn("user_a").id
    const b = server.signIn("user_b").id
    await post(`${server.url}/v1/client/sessions/${a}/tokens`)
    await post(`${server.url}/v1/client/sessions/${a}/tokens/supabase`)
    await post(`${server.url}/v1/sessions/${b}/tokens`, undefined, bearer(server.secretKey))
    await post(`${server.url}/v1/sessions/${b}/tokens`) // 401: counted as a request, no token
    await request(`${server.url}/nowhere`)
    await request(`${server.url}/__tok/faults`)
    const res = await request(`${server.url}/__tok/stats`, { headers: bearer(server.secretKey) })
    const stats = await res.json()
    expect(stats).toEqual(server.stats())
    expect(stats).toMatchObject({
      requests: 5,
      tokenRequests: 4,
      tokensIssued: 3,
      routes: {
        "POST /v1/client/sessions/:sid/tokens": 1,
        "POST /v1/client/sessions/:sid/tokens/:template": 1,
        "POST /v1/sessions/:sid/tokens": 2,
        unmatched: 1,
      },
      sessions: {
        [a]: { tokenRequests: 2, tokensIssued: 2 },
        [b]: { tokenRequests: 2, tokensIssued: 1 },
      },
    })
  })

  it("POST /__tok/reset clears faults and stats, and sessions only when asked", async () => {
    const server = await start()
    const { id } = server.signIn("user_1")
    server.setFaults({ latencyMs: 10, noExp: 3 })
    await post(`${server.url}/v1/client/sessions/${id}/tokens`)
    expect((await post(`${server.url}/__tok/reset`)).body).toEqual({ ok: true })
    expect(server.stats()).toMatchObject({
      requests: 0,
      tokenRequests: 0,
      routes: {},
      sessions: {},
    })
    expect(server.faults()).toMatchObject({ latencyMs: 0, noExp: 0 })
    expect(server.session(id)).toBeDefined()
    await post(`${server.url}/__tok/reset`, { sessions: true })
    expect(server.session(id)).toBeUndefined()
    expect((await post(`${server.url}/__tok/reset`, { sessions: "yes" })).status).toBe(422)
    server.setTokenLifetime(9)
    server.reset({ sessions: true })
    expect(server.tokenLifetime).toBe(9)
  })

  it("GET /__tok/config tells the issuer, lifetime and templates", async () => {
    const server = await start()
    const res = await request(`${server.url}/__tok/config`)
    const config = (await res.json()) as { templates: Record<string, unknown> }
    expect(config).toMatchObject({ issuer: server.url, jwksUrl: server.jwksUrl, tokenLifetime: 60 })
    expect(Object.keys(config.templates)).toEqual(["supabase", "hasura", "firebase"])
  })
})

describe("CORS", () => {
  const preflight = (server: DevServer, origin: string, path = "/v1/client/sessions/s/tokens") =>
    request(`${server.url}${path}`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, authorization",
      },
    })

  it("allows any localhost or 127.0.0.1 origin by default, and exposes Retry-After", async () => {
    const server = await start()
    for (const origin of ["http://localhost:5173", "http://127.0.0.1:4200", "https://localhost"]) {
      const res = await preflight(server, origin)
      expect(res.status).toBe(204)
      expect(res.headers.get("access-control-allow-origin")).toBe(origin)
      expect(res.headers.get("access-control-allow-methods")).toContain("POST")
      expect(res.headers.get("access-control-allow-headers")).toBe("content-type, authorization")
    }
    const { id } = server.signIn("u")
    const res = await request(`${server.url}/v1/client/sessions/${id}/tokens`, {
      method: "POST",
      headers: { origin: "http://localhost:5173" },
    })
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:5173")
    expect(res.headers.get("access-control-allow-credentials")).toBe("true")
    expect(res.headers.get("access-control-expose-headers")).toContain("Retry-After")
    expect(res.headers.get("vary")).toBe("Origin")
  })

  it("refuses other origins, and allows only the configured ones when given", async () => {
    const local = await start()
    const refused = await preflight(local, "https://evil.example")
    expect(refused.status).toBe(403)
    expect(refused.headers.get("access-control-allow-origin")).toBeNull()
    const plain = await request(local.jwksUrl, { headers: { origin: "https://evil.example" } })
    expect(plain.status).toBe(200)
    expect(plain.headers.get("access-control-allow-origin")).toBeNull()

    const listed = await start({ corsOrigins: ["https://app.example/"] })
    expect((await preflight(listed, "https://app.example")).status).toBe(204)
    expect((await preflight(listed, "http://localhost:5173")).status).toBe(403)

    const any = await start({ corsOrigins: ["*"] })
    expect((await preflight(any, "https://anything.example")).status).toBe(204)
  })

  it("answers a plain OPTIONS with Allow, and 404 for an unknown path", async () => {
    const server = await start()
    const known = await request(server.jwksUrl, { method: "OPTIONS" })
    expect(known.status).toBe(204)
    expect(known.headers.get("allow")).toContain("GET")
    expect((await request(`${server.url}/nowhere`, { method: "OPTIONS" })).status).toBe(404)
  })
})

describe("logging", () => {
  it("logs one line per request, with no JWT or secret in it", async () => {
    const lines: string[] = []
    const server = await start({ log: (line) => lines.push(line), secretKey: "sk_test_log_secret" })
    const { id } = server.signIn("user_1")
    await post(`${server.url}/v1/sessions/${id}/tokens`, undefined, bearer("sk_test_log_secret"))
    await post(`${server.url}/v1/sessions/${id}/tokens`, undefined, bearer("sk_test_wrong"))
    const jwt = await server.issueToken({ sessionId: id })
    await request(`${server.url}/echo/${jwt}?key=sk_test_log_secret`)
    await request(`${server.url}/x/sk_test_log_secret`)
    expect(lines).toHaveLength(4)
    expect(lines[0]).toMatch(/^\[tok\] POST \/v1\/sessions\/sess_\w+\/tokens 200 \d+\.\dms$/)
    expect(lines[1]).toContain(" 401 ")
    for (const line of lines) {
      expect(line).not.toContain("sk_test_log_secret")
      expect(line).not.toContain(jwt.split(".")[1])
      expect(line).not.toContain("eyJ")
    }
  })
})
