/**
 * Property-based HTTP tests: random requests over raw TCP to a real demo-api in
 * front of a real dev token server — random methods, paths, headers, bodies, and
 * Authorization headers from garbage to forged, expired, wrong-alg, other-party
 * and valid JWTs. The seed is fixed (override with `TOK_FUZZ_SEED`); fast-check
 * prints it on failure.
 */
import { connect } from "node:net"
import * as fc from "fast-check"
import { SignJWT } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  generateSigningKey,
  redact,
  startDevServer,
  type DevServer,
  type SigningKey,
} from "@tok/dev-server"
import { startDemoApi, type DemoApi } from "@tok/demo-api"

const seed = Number(process.env.TOK_FUZZ_SEED || 20261202)
const numRuns = Number(process.env.TOK_FUZZ_RUNS || 200)
const origin = "http://127.0.0.1:4700"
const secretKey = `sk_test_fuzz_${"7c1e".repeat(8)}`

interface Answer {
  readonly status: number
  readonly head: string
  readonly headers: ReadonlyMap<string, string>
  readonly body: Buffer
}

/** Sends raw bytes and reads one answer (the request says `Connection: close`). */
const exchange = (port: number, bytes: Buffer): Promise<Answer> =>
  new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1")
    const chunks: Buffer[] = []
    const done = () => {
      clearTimeout(timer)
      socket.destroy()
      resolve(parse(Buffer.concat(chunks)))
    }
    const timer = setTimeout(done, 5_000)
    socket.on("data", (chunk) => chunks.push(chunk))
    socket.on("error", () => undefined)
    socket.on("close", done)
    socket.write(bytes)
  })

const parse = (data: Buffer): Answer => {
  let rest = data
  for (;;) {
    const end = rest.indexOf("\r\n\r\n")
    if (end === -1) return { status: 0, head: "", headers: new Map(), body: rest }
    const head = rest.subarray(0, end).toString("latin1")
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0)
    rest = rest.subarray(end + 4)
    if (status >= 100 && status < 200) continue
    const headers = new Map<string, string>()
    for (const line of head.split("\r\n").slice(1)) {
      const colon = line.indexOf(":")
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
    }
    const length = headers.get("content-length")
    let body = length === undefined ? rest : rest.subarray(0, Number(length))
    if (headers.get("transfer-encoding") === "chunked") {
      const parts: Buffer[] = []
      for (let at = 0; ;) {
        const eol = body.indexOf("\r\n", at)
        const size = parseInt(body.subarray(at, eol).toString(), 16)
        if (!(size > 0)) break
        parts.push(body.subarray(eol + 2, eol + 2 + size))
        at = eol + 4 + size
      }
      body = Buffer.concat(parts)
    }
    return { status, head, headers, body }
  }
}

/**
 * A bearer value: `kind` says what it is; `passes` whether the verifier should take
 * it (a session token of this server, allowed party) — only then may a token be fetched.
 */
interface Bearer {
  readonly kind: string
  readonly passes: boolean
  readonly claims?: Record<string, unknown>
  readonly key?: "real" | "foreign" | "hmac" | "none"
  readonly raw?: string
}

let tokens: DevServer
let api: DemoApi
let realKey: SigningKey
let foreignKey: SigningKey
let activeSid = ""
let endedSid = ""
const apiPort = () => Number(new URL(api.url).port)

beforeAll(async () => {
  realKey = await generateSigningKey()
  foreignKey = await generateSigningKey()
  tokens = await startDevServer({ signingKey: realKey, secretKey })
  api = await startDemoApi({ tokenServerUrl: tokens.url, allowedOrigins: [origin], secretKey })
  activeSid = tokens.signIn("user_active").id
  endedSid = tokens.signIn("user_ended").id
  tokens.signOut(endedSid)
})
afterAll(async () => {
  await api?.stop()
  await tokens?.stop()
})

const now = () => Math.floor(Date.now() / 1000)

/** What can be wrong with a session token, one claim at a time. */
const flaws = [
  "azp-other",
  "azp-missing",
  "azp-number",
  "expired",
  "no-exp",
  "long-lived",
  "future-iat",
  "aud",
  "org_role",
  "hasura",
  "iss-other",
  "no-sub",
  "sub-number",
] as const

type Flaw = (typeof flaws)[number]

/** Claims of a session token: good, with a random session id, or with 1–2 flaws. */
const claims = fc
  .record({
    sid: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom("active", "ended") },
      {
        weight: 1,
        arbitrary: fc.constantFrom("", "../x", "a/b", "sess_%2F", "x".repeat(300), "sess_unknown"),
      },
      { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
    ),
    flaws: fc.oneof(
      { weight: 1, arbitrary: fc.constant<Flaw[]>([]) },
      { weight: 3, arbitrary: fc.subarray([...flaws], { minLength: 1, maxLength: 2 }) },
    ),
  })
  .map(({ sid, flaws }) => {
    const t = now()
    const has = (flaw: Flaw) => flaws.includes(flaw)
    const iat = has("future-iat") ? t + 3600 : t
    const out: Record<string, unknown> = {
      iss: has("iss-other") ? "http://other.example" : "@issuer",
      sub: has("sub-number") ? 7 : "user_fuzz",
      // A fresh session each time: tok has no token of it cached, so a pass means a fetch.
      sid: sid === "active" ? "@fresh" : sid === "ended" ? endedSid : sid,
      azp: has("azp-other") ? "http://evil.example" : has("azp-number") ? 42 : origin,
      iat,
      nbf: iat,
      exp: has("expired") ? t - 3600 : has("long-lived") ? iat + 86_400 : iat + 60,
      jti: "j",
    }
    if (has("azp-missing")) delete out.azp
    if (has("no-exp")) delete out.exp
    if (has("no-sub")) delete out.sub
    if (has("aud")) out.aud = "authenticated"
    if (has("org_role")) out.org_role = "admin"
    if (has("hasura")) out["https://hasura.io/jwt/claims"] = {}
    // An odd session id still passes the verifier: tok then asks the token server.
    return { claims: out, passes: flaws.length === 0 }
  })

const bearer: fc.Arbitrary<Bearer> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        claims,
        fc.constantFrom<NonNullable<Bearer["key"]>>(
          "real",
          "real",
          "real",
          "real",
          "foreign",
          "hmac",
          "none",
        ),
      )
      .map(([c, key]) => ({
        kind: `jwt-${key}`,
        key,
        claims: c.claims,
        passes: c.passes && key === "real",
      })),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.constantFrom(
          "",
          "Bearer",
          "Bearer ",
          "Basic dXNlcjpwYXNz",
          "Bearer a b",
          "bearer\tx",
          "Bearer not.a.jwt",
        ),
        fc.string({ unit: "grapheme", maxLength: 40 }).map((s) => `Bearer ${s}`),
        fc.base64String({ maxLength: 60 }).map((s) => `Bearer eyJ${s}.eyJ${s}.${s}`),
        fc.integer({ min: 1_000, max: 15_000 }).map((n) => `Bearer ${"x".repeat(n)}`),
        fc.integer({ min: 16_000, max: 17_000 }).map((n) => `Bearer eyJ${"x".repeat(n)}`),
      )
      .map((raw) => ({ kind: "garbage", raw: raw.replace(/[\r\n]/g, ""), passes: false })),
  },
  { weight: 1, arbitrary: fc.constant<Bearer>({ kind: "none", passes: false }) },
)

/** Signs a bearer's claims with its key; the `@issuer` placeholder is the token server. */
const render = async (b: Bearer): Promise<string | undefined> => {
  if (b.raw !== undefined) return b.raw
  if (b.claims === undefined) return undefined
  const payload: Record<string, unknown> = {
    ...b.claims,
    iss: b.claims.iss === "@issuer" ? tokens.issuer : b.claims.iss,
    sid: b.claims.sid === "@fresh" ? tokens.signIn("user_fuzz").id : b.claims.sid,
  }
  switch (b.key) {
    case "real":
    case "foreign": {
      const key = b.key === "real" ? realKey : foreignKey
      const jwt = await new SignJWT(payload)
        .setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "JWT" })
        .sign(key.privateKey)
      return `Bearer ${jwt}`
    }
    case "hmac": {
      const jwt = await new SignJWT(payload)
        .setProtectedHeader({ alg: "HS256", kid: realKey.kid })
        .sign(new TextEncoder().encode("a".repeat(32)))
      return `Bearer ${jwt}`
    }
    default: {
      const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url")
      return `Bearer ${part({ alg: "none", kid: realKey.kid })}.${part(payload)}.`
    }
  }
}

const routes = ["/", "/health", "/metrics", "/api/profile", "/downstream/notes"]

const path = fc.oneof(
  { weight: 8, arbitrary: fc.constant("/api/profile") },
  { weight: 4, arbitrary: fc.constantFrom(...routes) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...routes),
        fc.constantFrom(
          "/",
          "//",
          "/..",
          "/%2e%2e",
          "%",
          "%zz",
          "?",
          "#x",
          "/eyJhbGciOiJSUzI1NiJ9.e30.sig",
        ),
      )
      .map(([a, b]) => a + b),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(
        fc.oneof(
          fc.string({ unit: "grapheme", maxLength: 10 }),
          fc.constantFrom("..", "%00", "a".repeat(5000)),
        ),
        {
          maxLength: 4,
        },
      )
      .map((s) => `/${s.join("/")}`),
  },
  { weight: 1, arbitrary: fc.constantFrom("*", "http://127.0.0.1/api/profile", "api/profile") },
)

/** One random request. */
interface Request {
  readonly method: string
  readonly path: string
  readonly query: string | undefined
  readonly bearer: Bearer
  readonly origin: string | undefined
  readonly headers: readonly (readonly [string, string])[]
  readonly body: Buffer | undefined
}

const request: fc.Arbitrary<Request> = fc.record({
  method: fc.oneof(
    { weight: 12, arbitrary: fc.constant("GET") },
    {
      weight: 6,
      arbitrary: fc.constantFrom("HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"),
    },
    { weight: 1, arbitrary: fc.constantFrom("get", "FOO", "PROPFIND", "TRACE", "CONNECT", "G@T") },
  ),
  path,
  query: fc.option(fc.constantFrom("token=eyJx.eyJy.z", "a=b", "%zz", "__clerk_db_jwt=x"), {
    nil: undefined,
  }),
  bearer,
  origin: fc.constantFrom(origin, origin, "http://evil.example", "null", undefined),
  headers: fc.array(
    fc.oneof(
      fc.tuple(
        fc.constant("content-type"),
        fc.constantFrom(
          "application/json",
          "text/plain",
          "application/x-www-form-urlencoded",
          ";;",
        ),
      ),
      fc.tuple(fc.constant("access-control-request-method"), fc.constantFrom("GET", "POST", "x")),
      fc.tuple(fc.constant("expect"), fc.constantFrom("100-continue", "nonsense")),
      fc.tuple(fc.constant("accept"), fc.constantFrom("application/json", "*/*")),
      fc.tuple(fc.constant("host"), fc.constantFrom("localhost", "evil.example", "")),
      fc.tuple(fc.constant("no-host"), fc.constant("")), // no Host header at all
      fc.tuple(
        fc.constant("x-huge"),
        fc.integer({ min: 1_000, max: 17_000 }).map((n) => "h".repeat(n)),
      ),
      fc.tuple(
        fc.constantFrom("x-fuzz", "cookie", "upgrade"),
        fc.string({ unit: "grapheme", maxLength: 20 }).map((s) => s.replace(/[\r\n]/g, "")),
      ),
    ),
    { maxLength: 2 },
  ),
  body: fc.option(
    fc.oneof(
      fc.json().map((s) => Buffer.from(s)),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      fc.integer({ min: 60_000, max: 70_000 }).map((n) => Buffer.alloc(n, 0x61)),
    ),
    { nil: undefined },
  ),
})

const bytesOf = (r: Request, authorization: string | undefined): Buffer => {
  const lines = [`${r.method} ${r.path}${r.query === undefined ? "" : `?${r.query}`} HTTP/1.1`]
  if (!r.headers.some(([name]) => name === "host" || name === "no-host")) {
    lines.push(`Host: 127.0.0.1:${apiPort()}`)
  }
  if (authorization !== undefined) lines.push(`Authorization: ${authorization}`)
  if (r.origin !== undefined) lines.push(`Origin: ${r.origin}`)
  for (const [name, value] of r.headers) if (name !== "no-host") lines.push(`${name}: ${value}`)
  lines.push("Connection: close")
  if (r.body !== undefined) lines.push(`Content-Length: ${r.body.length}`)
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`), r.body ?? Buffer.alloc(0)])
}

/** demo-api's error shape, exactly: `{ error: { code, message } }`. */
const isApiError = (value: unknown): boolean => {
  if (typeof value !== "object" || value === null) return false
  const { error, ...rest } = value as { error?: unknown }
  if (Object.keys(rest).length > 0 || typeof error !== "object" || error === null) return false
  const { code, message, ...more } = error as Record<string, unknown>
  return typeof code === "string" && typeof message === "string" && Object.keys(more).length === 0
}

/** Sends one request and checks every property of its answer. */
const sendAndCheck = async (r: Request, victimJwt: string) => {
  const authorization = await render(r.bearer)
  const before = tokens.stats().tokenRequests
  const answer = await exchange(apiPort(), bytesOf(r, authorization))
  const fetched = tokens.stats().tokenRequests - before
  const bodyText = answer.body.toString("utf8")
  const where = redact(
    `${answer.head.split("\r\n", 1)[0]} ${bodyText.slice(0, 200)} for ${r.method} ${r.path} (${r.bearer.kind})`,
    secretKey,
  )

  expect(answer.status, `no answer: ${where}`).toBeGreaterThanOrEqual(200)
  if (answer.status >= 500) {
    expect(answer.status, where).toBe(503)
    expect(bodyText, where).toContain('"code":"busy"')
  }
  if (answer.status >= 400 && r.method !== "HEAD") {
    expect(answer.headers.get("content-type"), where).toMatch(/^application\/json/)
    expect(isApiError(JSON.parse(bodyText)), where).toBe(true)
    expect(bodyText, where).not.toMatch(/eyJ/)
  }
  const all = `${answer.head}\r\n\r\n${bodyText}`
  for (const secret of [secretKey, victimJwt, victimJwt.split(".")[2] ?? "-"]) {
    expect(all.includes(secret), `${where} echoes a secret`).toBe(false)
  }
  if (authorization !== undefined && authorization.length > 20) {
    expect(all.includes(authorization.slice(7)), `${where} echoes the bearer`).toBe(false)
  }
  // A bearer the verifier refuses never reaches the token server.
  if (!r.bearer.passes) expect(fetched, `${where}: token requests`).toBe(0)
}

/** Still serves a valid request, through the token server. */
const stillServes = async () => {
  const jwt = await tokens.issueToken({ sessionId: activeSid, origin })
  const res = await fetch(`${api.url}/api/profile`, {
    headers: { authorization: `Bearer ${jwt}`, origin },
  })
  expect(res.status).toBe(200)
  expect(await res.json()).toMatchObject({
    session: activeSid,
    downstream: { answer: { owner: "user_active" } },
  })
}

describe("random requests to demo-api", () => {
  it("are answered with JSON errors below 500 (but 503 busy), echo no token or secret, and fetch no token unless the bearer passed", async () => {
    const victimJwt = await tokens.issueToken({ sessionId: activeSid, origin })
    await fc.assert(
      fc.asyncProperty(request, (r) => sendAndCheck(r, victimJwt)),
      { numRuns, seed },
    )
    await stillServes()
  }, 60_000)

  it("GET /api/profile with random bearer tokens: the same, and only a token the verifier takes costs a token request", async () => {
    const victimJwt = await tokens.issueToken({ sessionId: activeSid, origin })
    const profile = fc.record({
      method: fc.constant("GET"),
      path: fc.constant("/api/profile"),
      query: fc.constant(undefined),
      bearer,
      origin: fc.constant<string | undefined>(origin),
      headers: fc.constant<[string, string][]>([]),
      body: fc.constant(undefined),
    })
    await fc.assert(
      fc.asyncProperty(profile, (r) => sendAndCheck(r, victimJwt)),
      { numRuns, seed },
    )
    await stillServes()
  }, 60_000)
})
