import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest"
import {
  clerkBackendApi,
  clerkFrontendApi,
  createTokenClient,
  fromFunction,
  type TokClient,
  type TokClientConfig,
  type Token,
  type TokenState,
  TokenSource,
  TokenSourceError,
} from "@tok/core"
import * as Effect from "effect/Effect"
import { fakeJwt, inspectClient } from "@tok/core/testing"

// ---------------------------------------------------------------------------
// A token server on node:http, 127.0.0.1, a port from the OS.

interface Seen {
  readonly method: string
  readonly url: string
  readonly authorization: string | undefined
  readonly contentType: string | undefined
  readonly body: string
}

type Handler = (request: Seen, response: ServerResponse, raw?: IncomingMessage) => void

let handler: Handler = (_request, response) => response.writeHead(500).end()
const seen: Array<Seen> = []
const server = createServer((raw, response) => {
  const chunks: Array<Buffer> = []
  raw.on("data", (chunk: Buffer) => chunks.push(chunk))
  raw.on("end", () => {
    const request: Seen = {
      method: raw.method ?? "",
      url: raw.url ?? "",
      authorization: raw.headers.authorization,
      contentType: raw.headers["content-type"],
      body: Buffer.concat(chunks).toString(),
    }
    seen.push(request)
    handler(request, response, raw)
  })
})
let baseUrl = ""

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

const clients: Array<TokClient> = []
afterEach(async () => {
  vi.useRealTimers()
  await Promise.all(clients.splice(0).map((client) => client.dispose()))
  // Requests a test abandoned must not reach the next test's log.
  server.closeAllConnections()
  await wait(10)
  seen.length = 0
  handler = (_request, response) => response.writeHead(500).end()
  vi.useRealTimers()
})

const client = (config: Partial<TokClientConfig> = {}): TokClient => {
  const tok = createTokenClient({
    source: clerkFrontendApi({ baseUrl }),
    session: "sess_1",
    retry: { attempts: 3, baseDelay: 1, maxDelay: 20 },
    ...config,
  })
  clients.push(tok)
  return tok
}

let minted = 0
const mint = (lifetime = 60, extra: Record<string, unknown> = {}) => {
  const iat = Math.floor(Date.now() / 1000)
  return fakeJwt({ sub: "user_1", iat, exp: iat + lifetime, n: ++minted, ...extra })
}

const json = (response: ServerResponse, status: number, body: unknown, headers = {}) =>
  response
    .writeHead(status, { "content-type": "application/json", ...headers })
    .end(JSON.stringify(body))

const answerTokens =
  (delayMs = 0): Handler =>
  (_request, response) => {
    const send = () => json(response, 200, { object: "token", jwt: mint() })
    if (delayMs > 0) setTimeout(send, delayMs)
    else send()
  }

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------

describe("the Clerk sources over HTTP", () => {
  it("clerkFrontendApi POSTs to /v1/client/sessions/{id}/tokens[/{template}] with organization_id as a form field", async () => {
    handler = answerTokens()
    const tok = client()
    const plain = await tok.getToken()
    await tok.getToken({ template: "firebase", organizationId: "org_1" })
    expect(plain?.source).toBe("network")
    expect(seen.map((r) => [r.method, r.url, r.body])).toEqual([
      ["POST", "/v1/client/sessions/sess_1/tokens", ""],
      ["POST", "/v1/client/sessions/sess_1/tokens/firebase", "organization_id=org_1"],
    ])
    expect(seen[1]!.contentType).toBe("application/x-www-form-urlencoded")
    expect(seen[0]!.authorization).toBeUndefined()
  })

  it("clerkBackendApi POSTs to /v1/sessions/{id}/tokens[/{template}] with the bearer secret key", async () => {
    handler = answerTokens()
    const tok = client({
      source: clerkBackendApi({ baseUrl: `${baseUrl}/`, secretKey: "sk_test_secret" }),
      session: null,
    })
    expect(await tok.getToken()).toBe(null)
    const token = await tok.getToken({ sessionId: "sess_9", template: "api" })
    expect(token).toMatchObject({ sessionId: "sess_9", template: "api" })
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({
      method: "POST",
      url: "/v1/sessions/sess_9/tokens/api",
      authorization: "Bearer sk_test_secret",
    })
  })

  it("URL-encodes session, template and organization: ../x never reaches another endpoint", async () => {
    handler = answerTokens()
    const tok = client({ session: "sess/../1" })
    await tok.getToken({ template: "../x" })
    await tok.getToken({ template: "a b/c?d#e", organizationId: "org&x=1" })
    await tok.getToken({ template: "%2e%2e" })
    expect(seen.map((r) => r.url)).toEqual([
      "/v1/client/sessions/sess%2F..%2F1/tokens/..%2Fx",
      "/v1/client/sessions/sess%2F..%2F1/tokens/a%20b%2Fc%3Fd%23e",
      "/v1/client/sessions/sess%2F..%2F1/tokens/%252e%252e",
    ])
    expect(new URLSearchParams(seen[1]!.body).get("organization_id")).toBe("org&x=1")
  })

  it("a template or session id of . or .. is rejected before any request", async () => {
    handler = answerTokens()
    const tok = client()
    await expect(tok.getToken({ template: ".." })).rejects.toMatchObject({
      _tag: "InvalidOptionsError",
    })
    await expect(tok.getToken({ sessionId: "." })).rejects.toMatchObject({
      _tag: "InvalidOptionsError",
    })
    expect(seen).toHaveLength(0)
  })

  it("an error body's code reaches TokenRequestError; JWTs and keys in it do not", async () => {
    const leaked = mint()
    handler = (_request, response) =>
      json(response, 422, {
        errors: [{ code: "form_param_invalid", message: `bad ${leaked} sk_test_abc` }],
      })
    const tok = client()
    const error = await tok.getToken().catch((e: unknown) => e)
    expect(error).toMatchObject({
      _tag: "TokenRequestError",
      status: 422,
      code: "form_param_invalid",
    })
    for (const text of [String(error), JSON.stringify(error), (error as Error).stack]) {
      expect(text).not.toContain(leaked.split(".")[1])
      expect(text).not.toContain("sk_test_abc")
    }
  })

  it("a 404 for a template is TemplateNotFoundError; without a template TokenRequestError", async () => {
    handler = (_request, response) =>
      json(response, 404, { errors: [{ code: "resource_not_found" }] })
    const tok = client()
    await expect(tok.getToken({ template: "nope" })).rejects.toMatchObject({
      _tag: "TemplateNotFoundError",
      template: "nope",
    })
    await expect(tok.getToken()).rejects.toMatchObject({ _tag: "TokenRequestError", status: 404 })
  })

  it("a 401 resolves null, signs out, and tells watchers and session listeners", async () => {
    handler = answerTokens()
    const tok = client()
    const watcher = tok.watch()
    const states: Array<TokenState> = []
    watcher.subscribe((state) => states.push(state))
    const sessions: Array<string | null> = []
    tok.onSessionChange((id) => sessions.push(id))
    await wait(50)
    handler = (_request, response) => json(response, 401, { errors: [{ code: "session_expired" }] })
    expect(await tok.getToken({ template: "t" })).toBe(null)
    expect(tok.session).toBe(null)
    expect(sessions).toEqual([null])
    expect(watcher.getSnapshot()).toEqual({ status: "signed-out" })
    expect(states.at(-1)).toEqual({ status: "signed-out" })
    expect(await tok.getToken()).toBe(null)
  })

  it("5xx is retried, then rejects with TokenUnavailableError", async () => {
    handler = (_request, response) => response.writeHead(503).end("<html>down</html>")
    const tok = client()
    await expect(tok.getToken()).rejects.toMatchObject({
      _tag: "TokenUnavailableError",
      reason: "server",
      status: 503,
      attempts: 3,
    })
    expect(seen).toHaveLength(3)
  })

  it("Retry-After in seconds is waited for before the next attempt", async () => {
    let calls = 0
    handler = (request, response) =>
      ++calls === 1
        ? json(response, 429, {}, { "retry-after": "1" })
        : answerTokens()(request, response)
    const tok = client({ retry: { attempts: 2, baseDelay: 1, maxDelay: 2000 } })
    const started = Date.now()
    const token = await tok.getToken()
    expect(token).not.toBe(null)
    expect(Date.now() - started).toBeGreaterThanOrEqual(990)
  })

  it("a Retry-After longer than retry.maxDelay rejects at once as rate-limited", async () => {
    handler = (_request, response) => json(response, 429, {}, { "retry-after": "120" })
    const tok = client()
    await expect(tok.getToken()).rejects.toMatchObject({
      _tag: "TokenUnavailableError",
      reason: "rate-limited",
      retryAfterMs: 120_000,
      attempts: 1,
    })
    expect(seen).toHaveLength(1)
  })

  it.each([
    [
      "HTML",
      (r: ServerResponse) => r.writeHead(200, { "content-type": "text/html" }).end("<html></html>"),
    ],
    ["an empty body", (r: ServerResponse) => r.writeHead(200).end()],
    ["JSON without jwt", (r: ServerResponse) => json(r, 200, { object: "token" })],
    ["a jwt that is not a JWT", (r: ServerResponse) => json(r, 200, { jwt: "not.a.jwt" })],
    ["a JWT without exp", (r: ServerResponse) => json(r, 200, { jwt: fakeJwt({ iat: 1 }) })],
    [
      "a JWT with exp < iat",
      (r: ServerResponse) => json(r, 200, { jwt: fakeJwt({ iat: 9, exp: 1 }) }),
    ],
    [
      "a huge body with content-length",
      (r: ServerResponse) =>
        r.writeHead(200, { "content-length": 3 * 1024 * 1024 }).end("x".repeat(3 * 1024 * 1024)),
    ],
    [
      "a huge chunked body",
      (r: ServerResponse) => {
        r.writeHead(200)
        for (let i = 0; i < 48; i++) r.write("y".repeat(64 * 1024))
        r.end()
      },
    ],
  ])(
    "a 2xx with %s rejects with MalformedTokenError, not retried, nothing cached",
    async (_name, answer) => {
      handler = (_request, response) => answer(response)
      const tok = client()
      await expect(tok.getToken()).rejects.toMatchObject({ _tag: "MalformedTokenError" })
      expect(seen).toHaveLength(1)
      expect(inspectClient(tok).cachedTokens).toBe(0)
    },
  )

  it("a dropped connection is a network failure, retried", async () => {
    handler = (_request, response) => response.socket?.destroy()
    const tok = client()
    await expect(tok.getToken()).rejects.toMatchObject({
      _tag: "TokenUnavailableError",
      reason: "network",
      attempts: 3,
    })
    expect(seen).toHaveLength(3)
  })

  it("a connection dropped mid-body is a network failure", async () => {
    handler = (_request, response) => {
      response.writeHead(200, { "content-length": 1000 })
      response.write('{"jwt":"')
      setTimeout(() => response.socket?.destroy(), 10)
    }
    const tok = client()
    await expect(tok.getToken()).rejects.toMatchObject({
      _tag: "TokenUnavailableError",
      reason: "network",
    })
  })

  it("a server that never answers times out per attempt", async () => {
    handler = () => undefined
    const tok = client({ requestTimeout: 50, retry: { attempts: 2, baseDelay: 0, maxDelay: 0 } })
    await expect(tok.getToken()).rejects.toMatchObject({
      _tag: "TokenUnavailableError",
      reason: "timeout",
      attempts: 2,
    })
  })
})

describe("the Promise face", () => {
  it("answers a cache hit without a request, and null when signed out", async () => {
    handler = answerTokens()
    const tok = client()
    const first = await tok.getToken()
    const again = await tok.getToken()
    expect(again?.jwt).toBe(first?.jwt)
    expect(again?.source).toBe("cache")
    expect(seen).toHaveLength(1)
    tok.setSession(null)
    expect(await tok.getToken()).toBe(null)
    expect(await tok.getToken({ template: "x" })).toBe(null)
  })

  it("1,000 concurrent cold calls make exactly 1 request", async () => {
    handler = answerTokens(20)
    const tok = client()
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => tok.getToken()))
    expect(seen).toHaveLength(1)
    expect(new Set(tokens.map((t) => t?.jwt)).size).toBe(1)
  })

  it("10,000 concurrent cold calls share 1 request, every caller gets a network token", async () => {
    handler = answerTokens(20)
    const tok = client()
    const tokens: Array<Token | null> = await Promise.all(
      Array.from({ length: 10_000 }, (_, i) =>
        tok.getToken(i % 2 === 0 ? undefined : { expirationBuffer: 10 }),
      ),
    )
    expect(seen).toHaveLength(1)
    expect(tokens.every((t) => t?.source === "network" && t.jwt === tokens[0]?.jwt)).toBe(true)
    expect((await tok.getToken())?.source).toBe("cache")
  })

  describe("AbortSignal", () => {
    it("abandons this caller with signal.reason; the shared request goes on for the others", async () => {
      handler = answerTokens(100)
      const tok = client()
      const controller = new AbortController()
      const aborted = tok.getToken({ signal: controller.signal })
      const other = tok.getToken()
      await wait(20)
      const reason = new DOMException("user left", "AbortError")
      controller.abort(reason)
      await expect(aborted).rejects.toBe(reason)
      expect((await other)?.source).toBe("network")
      expect(seen).toHaveLength(1)
    })

    it("the default reason is an AbortError, as fetch's", async () => {
      handler = answerTokens(100)
      const tok = client()
      const controller = new AbortController()
      const aborted = tok.getToken({ signal: controller.signal })
      controller.abort()
      const error = await aborted.catch((e: unknown) => e)
      expect(error).toBe(controller.signal.reason)
      expect((error as Error).name).toBe("AbortError")
    })

    it("an already-aborted signal rejects before any request", async () => {
      handler = answerTokens()
      const tok = client({ session: "sess_already_aborted" })
      const signal = AbortSignal.abort()
      await expect(tok.getToken({ signal })).rejects.toBe(signal.reason)
      await wait(20)
      expect(seen.filter((r) => r.url.includes("sess_already_aborted"))).toHaveLength(0)
    })

    it("a request every caller abandoned goes on and fills the cache", async () => {
      handler = answerTokens(50)
      const tok = client()
      const controller = new AbortController()
      const calls = [1, 2].map(() =>
        tok.getToken({ signal: controller.signal }).catch(() => "aborted"),
      )
      await wait(10)
      controller.abort()
      expect(await Promise.all(calls)).toEqual(["aborted", "aborted"])
      // The server answers 50 ms after the request arrives, which a busy
      // machine delays: wait for the cache rather than a fixed time.
      await vi.waitFor(() => expect(inspectClient(tok).cachedTokens).toBe(1), { timeout: 2_000 })
      const token = await tok.getToken()
      expect(token?.source).toBe("cache")
      expect(seen).toHaveLength(1)
    })

    it("a signal that is not an AbortSignal is InvalidOptionsError", async () => {
      const tok = client()
      await expect(tok.getToken({ signal: {} as AbortSignal })).rejects.toMatchObject({
        _tag: "InvalidOptionsError",
      })
    })
  })

  it("dispose() rejects pending calls with an AbortError and stops every timer", async () => {
    handler = answerTokens(200)
    const tok = client()
    const watcher = tok.watch({ template: "w" })
    watcher.subscribe(() => undefined)
    const pending = tok.getToken()
    await wait(20)
    expect(inspectClient(tok).fibers).toBeGreaterThan(0)
    await tok.dispose()
    const error = await pending.catch((e: unknown) => e)
    expect((error as Error).name).toBe("AbortError")
    expect(inspectClient(tok)).toEqual({ fibers: 0, requests: 0, watchedKeys: 0, cachedTokens: 0 })
    await expect(tok.getToken()).rejects.toMatchObject({ name: "AbortError" })
  })

  it("watch() never throws: bad options show as an error state", () => {
    const tok = client()
    const watcher = tok.watch({ template: "" })
    expect(watcher.getSnapshot()).toMatchObject({
      status: "error",
      error: { _tag: "InvalidOptionsError" },
    })
    const stop = watcher.subscribe(() => undefined)
    stop()
    expect(inspectClient(tok).watchedKeys).toBe(0)
  })

  it("onSessionChange reports each change once", () => {
    const tok = client({ session: null })
    const sessions: Array<string | null> = []
    const stop = tok.onSessionChange((id) => sessions.push(id))
    tok.setSession("a")
    tok.setSession("a")
    tok.setSession("b")
    tok.setSession(null)
    stop()
    tok.setSession("c")
    expect(sessions).toEqual(["a", "b", null])
    expect(tok.session).toBe("c")
  })

  it.each([
    ["no config", undefined],
    ["null", null],
    ["no source", {}],
    ["a source that is not a Layer", { source: () => "jwt" }],
    ["a bad session", { source: fromFunction(async () => "x"), session: 42 }],
    ["a bad lifecycle", { source: fromFunction(async () => "x"), lifecycle: {} }],
    ["a bad buffer", { source: fromFunction(async () => "x"), expirationBuffer: Number.NaN }],
    ["a bad retry", { source: fromFunction(async () => "x"), retry: { attempts: 0 } }],
    ["a bad maxEntries", { source: fromFunction(async () => "x"), maxEntries: 0 }],
  ])("createTokenClient with %s throws InvalidOptionsError", (_name, config) => {
    expect(() => createTokenClient(config as unknown as TokClientConfig)).toThrow(
      expect.objectContaining({ _tag: "InvalidOptionsError" }),
    )
  })
})

describe("fromFunction (Promise)", () => {
  it("passes the request and a signal; a thrown TokenSourceError is classified like HTTP", async () => {
    const requests: Array<unknown> = []
    const tok = client({
      source: fromFunction(async (request, signal) => {
        requests.push(request)
        expect(signal).toBeInstanceOf(AbortSignal)
        throw new TokenSourceError({ status: 403, code: "forbidden" })
      }),
    })
    await expect(tok.getToken({ template: "t" })).rejects.toMatchObject({
      _tag: "TokenRequestError",
      status: 403,
      code: "forbidden",
    })
    expect(requests).toEqual([{ sessionId: "sess_1", template: "t", organizationId: undefined }])
  })

  it("anything else thrown counts as a network failure and is retried", async () => {
    let calls = 0
    const tok = client({
      source: fromFunction(() => {
        calls++
        throw new Error("offline")
      }),
    })
    await expect(tok.getToken()).rejects.toMatchObject({
      _tag: "TokenUnavailableError",
      reason: "network",
      attempts: 3,
    })
    expect(calls).toBe(3)
  })

  it("a function that returns a plain string works", async () => {
    const jwt = mint()
    const tok = client({ source: fromFunction((() => jwt) as never) })
    expect((await tok.getToken())?.jwt).toBe(jwt)
  })
})

describe("fake timers work", () => {
  it("vitest's fake timers drive the cache boundary and the background refresh", async () => {
    vi.useFakeTimers({ now: Date.UTC(2030, 0, 1) })
    let calls = 0
    const tok = client({ source: fromFunction(async () => (++calls, mint())) })
    const first = await tok.getToken()
    vi.advanceTimersByTime(49_000)
    expect((await tok.getToken())?.jwt).toBe(first?.jwt)
    vi.advanceTimersByTime(1_000)
    expect((await tok.getToken())?.jwt).not.toBe(first?.jwt)
    expect(calls).toBe(2)

    const watcher = tok.watch()
    watcher.subscribe(() => undefined)
    await vi.advanceTimersByTimeAsync(60 * 60 * 1000)
    expect(calls).toBeGreaterThanOrEqual(2 + 72)
    expect(calls).toBeLessThanOrEqual(2 + 76)
    expect(watcher.getSnapshot().status).toBe("ready")
  })

  it("retries wait on fake timers", async () => {
    vi.useFakeTimers()
    let calls = 0
    const tok = client({
      retry: { attempts: 3, baseDelay: 1000, maxDelay: 1000 },
      source: fromFunction(async () => {
        if (++calls < 3) throw new TokenSourceError({ status: 503 })
        return mint()
      }),
    })
    const pending = tok.getToken()
    await vi.advanceTimersByTimeAsync(3000)
    expect((await pending)?.source).toBe("network")
    expect(calls).toBe(3)
  })
})

describe("§2.7 nothing leaks: dispose", () => {
  it("§2.7 nothing leaks: dispose() resolves only once every request has finished being interrupted", async () => {
    let cleanedUp = false
    const tok = createTokenClient({
      source: TokenSource.fromFunction(() =>
        Effect.never.pipe(
          // A source that needs a moment (a macrotask) to release what it holds.
          Effect.onInterrupt(() =>
            Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve))).pipe(
              Effect.andThen(Effect.sync(() => void (cleanedUp = true))),
            ),
          ),
        ),
      ),
      session: "sess_1",
    })
    const pending = tok.getToken().catch((error: unknown) => error)
    await Promise.resolve()
    expect(inspectClient(tok).fibers).toBeGreaterThan(0)
    await tok.dispose()
    expect(cleanedUp).toBe(true)
    expect(inspectClient(tok).fibers).toBe(0)
    expect(await pending).toMatchObject({ name: "AbortError" })
  })
})

describe("§2.2 skipCache is honest: the Promise face", () => {
  it("§2.2 skipCache is honest: getToken({ skipCache: true }) on the Promise face never answers from the cache", async () => {
    let minted = 0
    const tok = createTokenClient({
      source: fromFunction(async () => fakeJwt({ iat: 0, exp: 3600, n: ++minted })),
      session: "sess_1",
    })
    const cached = await tok.getToken()
    const fresh = await tok.getToken({ skipCache: true })
    expect(minted).toBe(2)
    expect(fresh!.jwt).not.toBe(cached!.jwt)
    expect(fresh!.source).toBe("network")
    await tok.dispose()
  })
})
