/**
 * Property-based HTTP tests: random requests, sent over raw TCP to a real server,
 * built from the server's routes with random segments, query strings, headers
 * and bodies. Each run is one request against a server reset to a known state.
 * The seed is fixed (override with `TOK_FUZZ_SEED`); fast-check prints it on failure.
 */
import { connect } from "node:net"
import * as fc from "fast-check"
import { createLocalJWKSet, jwtVerify } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { generateSigningKey, redact, startDevServer, type DevServer } from "@tok/dev-server"

const seed = Number(process.env.TOK_FUZZ_SEED || 20261202)
const numRuns = Number(process.env.TOK_FUZZ_RUNS || 200)
const maxBodyBytes = 65_536
/** The session cap of the server (see `maxSessions` in the README). */
const cap = 10_000
const secretKey = `sk_test_fuzz_${"9f3a".repeat(8)}`

/** An answer read off the socket; `reset` if the connection broke before one came. */
interface Answer {
  readonly status: number
  readonly head: string
  readonly headers: ReadonlyMap<string, string>
  readonly body: Buffer
  readonly reset: boolean
}

/** Sends raw bytes and reads one answer (the request says `Connection: close`). */
const exchange = (port: number, bytes: Buffer): Promise<Answer> =>
  new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1")
    const chunks: Buffer[] = []
    let reset = false
    const done = () => {
      clearTimeout(timer)
      socket.destroy()
      resolve(parse(Buffer.concat(chunks), reset))
    }
    const timer = setTimeout(done, 5_000)
    socket.on("data", (chunk) => chunks.push(chunk))
    socket.on("error", () => {
      reset = true
    })
    socket.on("close", done)
    socket.write(bytes)
  })

const parse = (data: Buffer, reset: boolean): Answer => {
  let rest = data
  for (;;) {
    const end = rest.indexOf("\r\n\r\n")
    if (end === -1) return { status: 0, head: "", headers: new Map(), body: rest, reset }
    const head = rest.subarray(0, end).toString("latin1")
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0)
    rest = rest.subarray(end + 4)
    if (status >= 100 && status < 200) continue // 100 Continue: the answer follows
    const headers = new Map<string, string>()
    for (const line of head.split("\r\n").slice(1)) {
      const colon = line.indexOf(":")
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
    }
    const length = headers.get("content-length")
    const body = length === undefined ? rest : rest.subarray(0, Number(length))
    return { status, head, headers, body, reset }
  }
}

/** What one run sends. */
interface Shape {
  readonly instance: "production" | "development"
  readonly method: string
  readonly path: Part[]
  readonly query: [Part, Part][] | undefined
  readonly headers: [string, Part][]
  readonly body: Body | undefined
  readonly version: "1.1" | "1.0"
}

/** A piece of input that may name a value known only at run time (a session id, a JWT). */
type Part = string | { readonly ref: Ref; readonly prefix?: string }
type Ref = "own" | "victim" | "ended" | "victimJwt" | "ownJwt" | "secret" | "devBrowser" | "port"
type Body =
  | { readonly kind: "json"; readonly value: unknown }
  | { readonly kind: "text"; readonly text: Part }
  | { readonly kind: "bytes"; readonly bytes: Uint8Array }
  | { readonly kind: "padded"; readonly size: number }
  | { readonly kind: "chunked"; readonly text: string }
  /** A JSON object with a secret or JWT as a field name, or nested in a template. */
  | { readonly kind: "keyed"; readonly key: Ref; readonly nest: "top" | "templates" | "claims" }

const ref = (r: Ref): Part => ({ ref: r })

const jwtLike = fc
  .tuple(fc.base64String({ maxLength: 40 }), fc.base64String({ maxLength: 80 }))
  .map(([a, b]) => `eyJ${a.replace(/=/g, "")}.eyJ${b.replace(/=/g, "")}.sig`)

const junk = fc.oneof(
  fc.constantFrom("..", ".", "", "%", "%zz", "%E0%A4%A", "%00", "%2F", "%2e%2e", "%C0%AF", "*"),
  fc.constantFrom("tokens", "supabase", "hasura", "firebase", "nope", "__proto__", "constructor"),
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
  fc.integer({ min: 300, max: 12_000 }).map((n) => "a".repeat(n)),
  jwtLike,
)

const segment: fc.Arbitrary<Part> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<Ref>("own", "victim", "ended").map(ref) },
  { weight: 1, arbitrary: fc.constantFrom<Ref>("victimJwt", "secret").map(ref) },
  { weight: 3, arbitrary: junk },
)

/** The server's routes, `METHOD /pattern`; `:x` is replaced by a random segment. */
const routes = [
  "GET /",
  "GET /.well-known/jwks.json",
  "GET /.well-known/openid-configuration",
  "GET /v1/jwks",
  "POST /v1/dev_browser",
  "POST /v1/client/sessions",
  "GET /v1/client/sessions/:sid",
  "DELETE /v1/client/sessions/:sid",
  "POST /v1/client/sessions/:sid/tokens",
  "POST /v1/client/sessions/:sid/tokens/:template",
  "GET /v1/sessions/:sid",
  "POST /v1/sessions/:sid/revoke",
  "POST /v1/sessions/:sid/tokens",
  "POST /v1/sessions/:sid/tokens/:template",
  "GET /__tok/faults",
  "POST /__tok/faults",
  "DELETE /__tok/faults",
  "GET /__tok/stats",
  "POST /__tok/reset",
  "GET /__tok/config",
  "POST /__tok/config",
]

/** A route's method (mostly) and path with random segments, or a path of random segments. */
const target: fc.Arbitrary<{ method: string | undefined; path: Part[] }> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...routes),
        fc.array(segment, { minLength: 2, maxLength: 2 }),
        fc.constantFrom("", "", "", "/", "//"),
        fc.boolean(),
      )
      .map(([route, params, tail, ownMethod]) => {
        const [method = "GET", pattern = "/"] = route.split(" ")
        const path: Part[] = []
        for (const piece of pattern.split("/").slice(1)) {
          path.push("/", piece.startsWith(":") ? (params.shift() ?? "x") : piece)
        }
        if (path.length === 0) path.push("/")
        if (tail !== "") path.push(tail)
        return { method: ownMethod ? method : undefined, path }
      }),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(segment, { maxLength: 6 })
      .map((s) => ({ method: undefined, path: s.flatMap((p) => ["/", p]) })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom<Part[]>(["*"], ["http://127.0.0.1/"], [""], ["x/y"])
      .map((path) => ({ method: undefined, path })),
  },
)

const queryValue: fc.Arbitrary<Part> = fc.oneof(segment, fc.string({ maxLength: 20 }))
const query = fc.option(
  fc.array(
    fc.tuple(
      fc.constantFrom<Part>("session", "__clerk_db_jwt", "token", "x", "", "%zz", "a[]"),
      fc.oneof(queryValue, fc.constant(ref("devBrowser"))),
    ),
    { maxLength: 4 },
  ),
  { nil: undefined },
)

const headerValue = (values: fc.Arbitrary<Part>) =>
  fc.oneof(
    values,
    fc.string({ unit: "grapheme", maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, "")),
  )

const header: fc.Arbitrary<[string, Part]> = fc.oneof(
  fc.tuple(
    fc.constant("content-type"),
    headerValue(
      fc.constantFrom(
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/ld+json",
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/octet-stream",
        "",
        ";;;",
      ),
    ),
  ),
  fc.tuple(
    fc.constant("authorization"),
    fc.oneof(
      fc
        .constantFrom<Ref>("secret", "victimJwt", "ownJwt")
        .map((r): Part => ({ ref: r, prefix: "Bearer " })),
      fc.constantFrom<Ref>("secret", "victimJwt", "ownJwt").map(ref),
      fc.oneof(junk, jwtLike, fc.constant("")).map((s) => `Bearer ${s}`),
      fc.constantFrom("Basic dXNlcjpwYXNz", "bearer", "Bearer", "Bearer a b", "Bearer\t\tx"),
      fc.integer({ min: 1_000, max: 15_000 }).map((n) => `Bearer ${"x".repeat(n)}`),
    ),
  ),
  fc.tuple(
    fc.constant("origin"),
    headerValue(
      fc.constantFrom(
        "http://localhost:5173",
        "http://127.0.0.1:4700",
        "http://evil.example",
        "null",
        "http://localhost:5173/",
        "file://",
      ),
    ),
  ),
  fc.tuple(
    fc.constantFrom("access-control-request-method", "access-control-request-headers"),
    headerValue(
      fc.oneof(fc.constantFrom("POST", "authorization, content-type", "x-a,x-b"), segment),
    ),
  ),
  fc.tuple(fc.constant("access-control-request-private-network"), fc.constantFrom("true", "x")),
  fc.tuple(
    fc.constant("host"),
    fc.constantFrom("localhost", "evil.example", "[::1]", "127.0.0.1:1", ""),
  ),
  fc.tuple(fc.constant("no-host"), fc.constant("")), // no Host header at all
  fc.tuple(fc.constant("expect"), fc.constantFrom("100-continue", "nonsense")),
  fc.tuple(
    fc.constantFrom("x-fuzz", "cookie", "accept", "x-forwarded-for", "upgrade"),
    headerValue(segment),
  ),
  fc.tuple(
    fc.constant("x-huge"),
    fc.integer({ min: 1_000, max: 20_000 }).map((n) => "h".repeat(n)),
  ),
)

const knownFields = fc.dictionary(
  fc.constantFrom(
    "user_id",
    "organization_id",
    "expires_in_seconds",
    "sessions",
    "tokenLifetime",
    "templates",
    "latencyMs",
    "fail",
    "drop",
    "__proto__",
  ),
  fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    segment.filter((s) => typeof s === "string"),
  ),
  { maxKeys: 3 },
)

const body: fc.Arbitrary<Body | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: knownFields.map((value): Body => ({ kind: "json", value })) },
  { weight: 1, arbitrary: fc.jsonValue().map((value): Body => ({ kind: "json", value })) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.string({ maxLength: 60 }),
        fc.constantFrom("{", '{"user_id":', "user_id=u&user_id=v", "%%%=%zz", "null", "[]"),
        fc.constantFrom<Ref>("victimJwt", "secret").map(ref),
      )
      .map((text): Body => ({ kind: "text", text })),
  },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes): Body => ({ kind: "bytes", bytes })),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: maxBodyBytes - 64, max: maxBodyBytes + 64 })
      .map((size): Body => ({ kind: "padded", size })),
  },
  {
    weight: 1,
    arbitrary: fc.string({ maxLength: 40 }).map((text): Body => ({ kind: "chunked", text })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        key: fc.constantFrom<Ref>("victimJwt", "secret"),
        nest: fc.constantFrom("top", "templates", "claims"),
      })
      .map((b): Body => ({ kind: "keyed", ...b })),
  },
)

const method = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom("get", "FOO", "M-SEARCH", "PROPFIND", "TRACE", "CONNECT", "G@T"),
  },
)

const shape: fc.Arbitrary<Shape> = fc
  .record({
    instance: fc.constantFrom("production", "development"),
    target,
    method,
    query,
    headers: fc.array(header, { maxLength: 5 }),
    body,
    version: fc.constantFrom("1.1", "1.1", "1.1", "1.0"),
  })
  .map(({ target, method, ...rest }): Shape => ({
    ...rest,
    method: target.method ?? method,
    path: target.path,
  }))

/** The run-time values a {@link Part} may name. */
type Known = Record<Ref, string>

const text = (part: Part, known: Known) =>
  typeof part === "string" ? part : `${part.prefix ?? ""}${known[part.ref]}`

/** The request's bytes, and whether its body is over the server's limit. */
const render = (s: Shape, known: Known): { bytes: Buffer; oversized: boolean } => {
  let target = s.path.map((p) => text(p, known)).join("")
  if (s.query !== undefined) {
    target += `?${s.query.map(([k, v]) => `${text(k, known)}=${text(v, known)}`).join("&")}`
  }
  let payload: Buffer | undefined
  let chunked = false
  switch (s.body?.kind) {
    case undefined:
      break
    case "json":
      payload = Buffer.from(JSON.stringify(s.body.value) ?? "null")
      break
    case "text":
      payload = Buffer.from(text(s.body.text, known))
      break
    case "bytes":
      payload = Buffer.from(s.body.bytes)
      break
    case "padded": {
      const pad = s.body.size - '{"user_id":"u","pad":""}'.length
      payload = Buffer.from(JSON.stringify({ user_id: "u", pad: "p".repeat(Math.max(0, pad)) }))
      break
    }
    case "chunked":
      payload = Buffer.from(s.body.text)
      chunked = true
      break
    case "keyed": {
      const key = known[s.body.key]
      const value =
        s.body.nest === "top"
          ? { [key]: 1 }
          : s.body.nest === "templates"
            ? { templates: { [key]: { claims: {} } } }
            : { templates: { t: { claims: { [key]: 1 }, lifetime: key } } }
      payload = Buffer.from(JSON.stringify(value))
    }
  }
  const lines = [`${s.method} ${target} HTTP/${s.version}`]
  const named = new Set(s.headers.map(([name]) => name))
  if (!named.has("host") && !named.has("no-host")) lines.push(`Host: 127.0.0.1:${known.port}`)
  for (const [name, value] of s.headers) {
    if (name !== "no-host") lines.push(`${name}: ${text(value, known)}`)
  }
  lines.push("Connection: close")
  if (payload !== undefined) {
    lines.push(chunked ? "Transfer-Encoding: chunked" : `Content-Length: ${payload.length}`)
  }
  const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`)
  if (payload === undefined) return { bytes: head, oversized: false }
  const framed = chunked
    ? Buffer.concat([
        Buffer.from(`${payload.length.toString(16)}\r\n`),
        payload,
        Buffer.from("\r\n0\r\n\r\n"),
      ])
    : payload
  return { bytes: Buffer.concat([head, framed]), oversized: payload.length > maxBodyBytes }
}

/** Clerk's error shape, exactly: `{ errors: [{ code, message, long_message? }, …] }`. */
const isClerkError = (value: unknown): boolean => {
  if (typeof value !== "object" || value === null) return false
  const { errors, ...rest } = value as { errors?: unknown }
  if (Object.keys(rest).length > 0 || !Array.isArray(errors) || errors.length === 0) return false
  return errors.every((entry: unknown) => {
    if (typeof entry !== "object" || entry === null) return false
    const { code, message, long_message, ...more } = entry as Record<string, unknown>
    return (
      typeof code === "string" &&
      typeof message === "string" &&
      (long_message === undefined || typeof long_message === "string") &&
      Object.keys(more).length === 0
    )
  })
}

const servers = {} as Record<Shape["instance"], DevServer>

beforeAll(async () => {
  const signingKey = await generateSigningKey()
  for (const instance of ["production", "development"] as const) {
    servers[instance] = await startDevServer({ signingKey, secretKey, instance, maxBodyBytes })
  }
})
afterAll(async () => {
  await Promise.all(Object.values(servers).map((server) => server.stop()))
})

/** Resets a server to: `cap - 1` sessions (own, victim and ended among them), no faults, no stats. */
const prepare = async (server: DevServer): Promise<Known> => {
  server.reset({ sessions: true })
  const own = server.signIn("user_own")
  const victim = server.signIn("user_victim")
  const ended = server.signIn("user_ended")
  server.signOut(ended.id)
  for (let i = 3; i < cap - 1; i++) server.signIn(`user_${i}`)
  return {
    own: own.id,
    victim: victim.id,
    ended: ended.id,
    victimJwt: await server.issueToken({ sessionId: victim.id }),
    ownJwt: await server.issueToken({ sessionId: own.id }),
    secret: secretKey,
    devBrowser: server.instance === "development" ? server.createDevBrowser() : "none",
    port: String(server.port),
  }
}

/** How many more sign-ins the server takes before it refuses one (ended sessions are evicted). */
const signInsLeft = (server: DevServer): number => {
  let n = 0
  for (; n < cap; n++) {
    try {
      server.signIn("user_probe")
    } catch {
      break
    }
  }
  return n
}

const cleared = {
  latencyMs: 0,
  clockSkewSeconds: 0,
  fail: null,
  failFor: null,
  drop: 0,
  malformed: null,
  noExp: 0,
}

describe("random requests to the dev server", () => {
  it("are all answered below 500, errors in Clerk's JSON shape, no secret or other JWT echoed, state intact", async () => {
    let resets = 0
    await fc.assert(
      fc.asyncProperty(shape, async (s) => {
        const server = servers[s.instance]
        const known = await prepare(server)
        const { bytes, oversized } = render(s, known)
        const answer = await exchange(server.port, bytes)
        const where = redact(
          `${answer.head.split("\r\n", 1)[0]} for ${bytes.toString()}`,
          secretKey,
        )

        // Answered, unless a body over the documented limit was cut off (413 + close).
        if (answer.status === 0) {
          expect(oversized, `no answer: ${where}`).toBe(true)
          resets += 1
          return
        }
        expect(answer.status, where).toBeGreaterThanOrEqual(200)
        expect(answer.status, where).toBeLessThan(500)

        const bodyText = answer.body.toString("utf8")
        const noBody = s.method === "HEAD" || answer.status === 204
        if (!noBody) {
          expect(answer.headers.get("content-type"), where).toBe("application/json")
          const parsed: unknown = JSON.parse(bodyText)
          if (answer.status >= 400) expect(isClerkError(parsed), `${where}: ${bodyText}`).toBe(true)
        }
        // No secret, no JWT the request did not get issued, in any header or body
        // (but for the config a caller stored: a template may be named anything).
        const target = s.path.map((p) => text(p, known)).join("")
        const isAdmin = (route: string) =>
          answer.status === 200 && s.method === "POST" && target.replace(/\/+$/, "") === route
        const all = `${answer.head}\r\n\r\n${isAdmin("/__tok/config") ? "" : bodyText}`
        for (const secret of [known.secret, known.victimJwt, known.ownJwt]) {
          expect(all.includes(secret), `${where} echoes a secret`).toBe(false)
          expect(all.includes(secret.split(".")[2] ?? secret), `${where} echoes a signature`).toBe(
            false,
          )
        }
        if (answer.status >= 400) expect(bodyText, where).not.toMatch(/eyJ/)

        // The state changed only as a successful request may change it.
        const issued = answer.status === 200 && bodyText.includes('"jwt"') ? 1 : 0
        const stats = server.stats()
        expect(stats.tokensIssued, where).toBe(issued)
        const signedIn =
          answer.status === 200 && bodyText.includes('"object":"session"') && s.method === "POST"
            ? [(JSON.parse(bodyText) as { id: string }).id].filter(
                (id) => id !== known.own && id !== known.victim && id !== known.ended,
              )
            : []
        for (const sid of Object.keys(stats.sessions)) {
          expect([known.own, known.victim, known.ended, ...signedIn], where).toContain(sid)
        }
        if (!isAdmin("/__tok/faults")) expect(server.faults(), where).toEqual(cleared)
        if (server.session(known.own) === undefined) {
          expect(isAdmin("/__tok/reset"), `${where} forgot sessions`).toBe(true)
          return
        }
        // Sessions: cap - 1 before; one more only for a sign-in answered 200.
        const ended = [known.own, known.victim, known.ended].filter(
          (id) => server.session(id)?.status === "ended",
        ).length
        expect(signInsLeft(server), `${where}: sessions`).toBe(1 - signedIn.length + ended)
      }),
      { numRuns, seed },
    )
    // The server is still fine: a normal sign-in and token, over HTTP, that verifies.
    for (const server of Object.values(servers)) {
      server.reset({ sessions: true })
      const devBrowser =
        server.instance === "development" ? `?__clerk_db_jwt=${server.createDevBrowser()}` : ""
      const signIn = await fetch(`${server.url}/v1/client/sessions${devBrowser}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user_id: "user_after" }),
      })
      expect(signIn.status).toBe(200)
      const { id } = (await signIn.json()) as { id: string }
      const res = await fetch(`${server.url}/v1/client/sessions/${id}/tokens${devBrowser}`, {
        method: "POST",
      })
      expect(res.status).toBe(200)
      const { jwt } = (await res.json()) as { jwt: string }
      const { payload } = await jwtVerify(
        jwt,
        createLocalJWKSet({ keys: [...server.jwks().keys] }),
        {
          issuer: server.issuer,
        },
      )
      expect(payload.sid).toBe(id)
      expect(server.stats()).toMatchObject({ tokenRequests: 1, tokensIssued: 1 })
    }
    expect(resets).toBeLessThan(numRuns)
  }, 60_000)
})

describe("random admin API bodies", () => {
  it("never echo a JWT or the secret key sent inside them, as a field name or a value", async () => {
    const server = servers.production
    server.reset({ sessions: true })
    const victimJwt = await server.issueToken({ sessionId: server.signIn("user_victim").id })
    const secrets: Record<string, string> = { "@jwt": victimJwt, "@secret": secretKey }
    const name = fc.oneof(
      fc.constantFrom("templates", "tokenLifetime", "claims", "lifetime", "audience", "fail", "t"),
      fc.string({ maxLength: 8 }),
      fc.constantFrom("@jwt", "@secret"),
    )
    const leaf = fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constantFrom("@jwt", "@secret"))
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof(
        { depthSize: "small" },
        leaf,
        fc.dictionary(name, tie("tree"), { maxKeys: 3 }),
      ),
    }))
    const resolve = (v: unknown): unknown =>
      typeof v === "string"
        ? (secrets[v] ?? v)
        : Array.isArray(v)
          ? v.map(resolve)
          : typeof v === "object" && v !== null
            ? Object.fromEntries(Object.entries(v).map(([k, x]) => [secrets[k] ?? k, resolve(x)]))
            : v
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("/__tok/config", "/__tok/faults"),
        fc.dictionary(name, tree, { minKeys: 1, maxKeys: 3 }),
        async (route, shape) => {
          const res = await fetch(`${server.url}${route}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(resolve(shape)),
          })
          const answer = await res.text()
          server.clearFaults()
          expect(res.status).toBeLessThan(500)
          if (res.status === 200) return // the config stored is the caller's own data
          expect(isClerkError(JSON.parse(answer)), answer).toBe(true)
          for (const secret of Object.values(secrets)) {
            expect(answer.includes(secret), redact(answer, secretKey)).toBe(false)
          }
        },
      ),
      { numRuns, seed },
    )
  })
})
