import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDevServer, type DevServer } from "@tok/dev-server"
import { startDemoApi, type DemoApi } from "@tok/demo-api"

/** The fields of demo-api's answers the tests read. */
type Answer = { error: { code: string }; downstream: { tokenFrom: string } }

const origin = "http://127.0.0.1:4700"
let tokens: DevServer
let api: DemoApi
const lines: string[] = []

beforeAll(async () => {
  tokens = await startDevServer()
  api = await startDemoApi({
    tokenServerUrl: tokens.url,
    allowedOrigins: [origin],
    log: (line) => lines.push(line),
  })
})
afterAll(async () => {
  await api?.stop()
  await tokens?.stop()
})

const profile = async (authorization?: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${api.url}/api/profile`, {
    headers: { ...(authorization === undefined ? {} : { authorization }), origin, ...headers },
    signal: AbortSignal.timeout(10_000),
  })
  return { status: res.status, headers: res.headers, body: (await res.json()) as Answer }
}

const signedIn = async (user = "user_alice", from: string | null = origin) => {
  const session = tokens.signIn(user)
  const jwt = await tokens.issueToken({
    sessionId: session.id,
    ...(from === null ? {} : { origin: from }),
  })
  return { session, jwt }
}

describe("demo-api", () => {
  it("answers a verified session token with the profile and notes read downstream with a template token", async () => {
    const { session, jwt } = await signedIn()
    const first = await profile(`Bearer ${jwt}`)
    expect(first.status).toBe(200)
    expect(first.headers.get("access-control-allow-origin")).toBe(origin)
    expect(first.body).toMatchObject({
      user: "user_alice",
      session: session.id,
      authorizedParty: origin,
      downstream: { template: "supabase", tokenFrom: "network", answer: { owner: "user_alice" } },
    })
    // The template token is tok's to keep: the second call is a cache hit.
    const second = await profile(`Bearer ${jwt}`)
    expect(second.body.downstream.tokenFrom).toBe("cache")
    expect(tokens.stats().sessions[session.id]?.tokenRequests).toBe(1)
  })

  it("refuses a request without a token, or with a header that is not Bearer", async () => {
    const none = await profile()
    expect(none.status).toBe(401)
    expect(none.body.error.code).toBe("missing_token")
    expect(none.headers.get("www-authenticate")).toContain("Bearer")
    const basic = await profile("Basic dXNlcjpwYXNz")
    expect(basic.status).toBe(400)
    expect(basic.body.error.code).toBe("bad_authorization_header")
  })

  it("refuses tokens that are not well-formed, forged, or issued to another origin", async () => {
    expect((await profile("Bearer not.a.jwt")).body.error.code).toBe("malformed_token")
    const { jwt } = await signedIn()
    const [header, payload] = jwt.split(".")
    const forged = `${header}.${payload}.${"A".repeat(342)}`
    expect((await profile(`Bearer ${forged}`)).body.error.code).toBe("invalid_signature")
    const elsewhere = await signedIn("user_bob", "http://localhost:9999")
    const refused = await profile(`Bearer ${elsewhere.jwt}`)
    expect(refused.status).toBe(401)
    expect(refused.body.error.code).toBe("unauthorized_party")
    const noAzp = await signedIn("user_carol", null)
    expect((await profile(`Bearer ${noAzp.jwt}`)).body.error.code).toBe("unauthorized_party")
  })

  it("refuses a template token of each default template as a session token", async () => {
    const { session } = await signedIn("user_mallory")
    for (const template of ["supabase", "hasura", "firebase"]) {
      const jwt = await tokens.issueToken({ sessionId: session.id, template, origin })
      const replayed = await profile(`Bearer ${jwt}`)
      expect(replayed.status, template).toBe(401)
      expect(replayed.body.error.code, template).toBe("not_a_session_token")
    }
  })

  it("neither echoes nor logs a JWT in the path", async () => {
    const { jwt } = await signedIn("user_henry")
    const res = await fetch(`${api.url}/api/${jwt}`)
    expect(res.status).toBe(404)
    const text = await res.text()
    expect(text).not.toContain(jwt.split(".")[1])
    expect(text).not.toContain("eyJ")
    const line = lines.find((l) => l.includes(" 404 ") && l.includes("/api/"))
    expect(line).toBeDefined()
    expect(line).not.toContain(jwt.split(".")[1])
    expect(line).toContain("[jwt]")
  })

  it("refuses a token of a session that has ended once tok asks the token server for it", async () => {
    const { session, jwt } = await signedIn("user_dave")
    tokens.signOut(session.id)
    const ended = await profile(`Bearer ${jwt}`)
    expect(ended.status).toBe(401)
    expect(ended.body.error.code).toBe("session_ended")
  })

  it("answers 503 when the token server fails, and works again once it is back", async () => {
    const { jwt } = await signedIn("user_erin")
    tokens.setFaults({ fail: { status: 503, count: 4 } })
    const down = await profile(`Bearer ${jwt}`)
    expect(down.status).toBe(503)
    expect(down.body.error.code).toBe("token_server_unavailable")
    tokens.clearFaults()
    expect((await profile(`Bearer ${jwt}`)).status).toBe(200)
  })

  it("the downstream route takes only template tokens with its audience", async () => {
    const { session, jwt } = await signedIn("user_frank")
    const call = (token: string) =>
      fetch(`${api.url}/downstream/notes`, { headers: { authorization: `Bearer ${token}` } })
    expect((await call(jwt)).status).toBe(401)
    const template = await tokens.issueToken({ sessionId: session.id, template: "supabase" })
    const res = await call(template)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ owner: "user_frank" })
  })

  it("answers CORS preflights for allowed origins only, and unknown routes with 404 JSON", async () => {
    const preflight = (from: string) =>
      fetch(`${api.url}/api/profile`, {
        method: "OPTIONS",
        headers: {
          origin: from,
          "access-control-request-method": "GET",
          "access-control-request-headers": "authorization",
        },
      })
    const ok = await preflight(origin)
    expect(ok.status).toBe(204)
    expect(ok.headers.get("access-control-allow-headers")).toContain("authorization")
    expect((await preflight("http://evil.example")).status).toBe(403)
    const missing = await fetch(`${api.url}/nope`)
    expect(missing.status).toBe(404)
    expect(await missing.json()).toMatchObject({ error: { code: "not_found" } })
    const post = await fetch(`${api.url}/api/profile`, {
      method: "POST",
      body: "x".repeat(100_000),
    })
    expect(post.status).toBe(405)
  })

  it("never logs a token", async () => {
    const { jwt } = await signedIn("user_gina")
    await profile(`Bearer ${jwt}`)
    await fetch(`${api.url}/api/profile?token=${jwt}`, {
      headers: { authorization: `Bearer ${jwt}` },
    })
    expect(lines.length).toBeGreaterThan(0)
    for (const line of lines) {
      expect(line).not.toContain(jwt.slice(0, 20))
      expect(line).not.toContain("sk_test")
    }
  })
})
