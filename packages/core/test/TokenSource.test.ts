import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { TestClock } from "effect/testing"
import { type InvalidOptionsError, TokenSource, TokenSourceError } from "@tok/core"
import * as Redacted from "effect/Redacted"
import { fakeJwt } from "@tok/core/testing"

interface Call {
  readonly url: string
  readonly init: RequestInit
}

/** A `fetch` that records its calls and answers with `respond`. */
const fakeFetch = (respond: (call: Call) => Response | Promise<Response>) => {
  const calls: Array<Call> = []
  const fetch: TokenSource.FetchFn = async (url, init) => {
    const call = { url, init }
    calls.push(call)
    return respond(call)
  }
  return { calls, layer: Layer.succeed(TokenSource.Fetch, fetch) }
}

const jwt = fakeJwt({ iat: 0, exp: 60 })
const ok = () => Response.json({ object: "token", jwt })

/** Fetches `request` through `source` built on `fetch`. */
const fetchWith = (
  source: Layer.Layer<TokenSource.TokenSource, InvalidOptionsError>,
  fetch: Layer.Layer<never>,
  request: TokenSource.TokenRequest = { sessionId: "sess_1" },
) =>
  Effect.gen(function* () {
    const tokens = yield* TokenSource.TokenSource
    return yield* tokens.fetch(request)
  }).pipe(Effect.provide(source.pipe(Layer.provide(fetch))))

const frontend = TokenSource.clerkFrontendApi({ baseUrl: "https://clerk.example.com/" })
const backend = TokenSource.clerkBackendApi({
  baseUrl: "https://api.clerk.com",
  secretKey: "sk_test_secret",
})

describe("TokenSource.clerkFrontendApi", () => {
  it.effect("POSTs a form to /v1/client/sessions/{id}/tokens with cookies", () =>
    Effect.gen(function* () {
      const fetch = fakeFetch(ok)
      expect(yield* fetchWith(frontend, fetch.layer)).toBe(jwt)
      const [call] = fetch.calls
      expect(call!.url).toBe("https://clerk.example.com/v1/client/sessions/sess_1/tokens")
      expect(call!.init).toMatchObject({ method: "POST", credentials: "include", body: "" })
      expect(call!.init.headers).toMatchObject({
        "Content-Type": "application/x-www-form-urlencoded",
      })
      expect(call!.init.signal).toBeInstanceOf(AbortSignal)
    }),
  )

  it.effect("puts the template in the path and the organization in the form, encoded", () =>
    Effect.gen(function* () {
      const fetch = fakeFetch(ok)
      yield* fetchWith(frontend, fetch.layer, {
        sessionId: "sess 1",
        template: "../x",
        organizationId: "org/1&a=b",
      })
      const [call] = fetch.calls
      expect(call!.url).toBe("https://clerk.example.com/v1/client/sessions/sess%201/tokens/..%2Fx")
      expect(new URL(call!.url).pathname).toBe("/v1/client/sessions/sess%201/tokens/..%2Fx")
      expect(new URLSearchParams(call!.init.body as string).get("organization_id")).toBe(
        "org/1&a=b",
      )
    }),
  )

  it.effect("takes another credentials mode", () =>
    Effect.gen(function* () {
      const fetch = fakeFetch(ok)
      const source = TokenSource.clerkFrontendApi({
        baseUrl: "https://x.test",
        credentials: "omit",
      })
      yield* fetchWith(source, fetch.layer)
      expect(fetch.calls[0]!.init.credentials).toBe("omit")
    }),
  )
})

describe("TokenSource.clerkBackendApi", () => {
  it.effect("takes the secret key as Effect's Redacted, and never shows it", () =>
    Effect.gen(function* () {
      const secretKey = Redacted.make("sk_test_redacted_secret")
      const { calls, layer } = fakeFetch(ok)
      const source = TokenSource.clerkBackendApi({ baseUrl: "https://api.clerk.com", secretKey })
      yield* fetchWith(source, layer)
      expect((calls[0]!.init.headers as Record<string, string>).Authorization).toBe(
        "Bearer sk_test_redacted_secret",
      )
      expect(String(secretKey)).not.toContain("sk_test_redacted_secret")
    }),
  )

  it.effect(
    "bad options fail the layer with InvalidOptionsError (the Effect API), never a throw",
    () =>
      Effect.gen(function* () {
        const bad = [
          () => TokenSource.clerkBackendApi({ baseUrl: "https://api.clerk.com", secretKey: "" }),
          () =>
            TokenSource.clerkBackendApi({
              baseUrl: "https://api.clerk.com",
              secretKey: Redacted.make(""),
            }),
          () => TokenSource.clerkBackendApi({ baseUrl: "nope", secretKey: "sk_test_x" }),
          () => TokenSource.clerkFrontendApi({ baseUrl: "ftp://clerk.example.com" }),
        ]
        for (const make of bad) {
          const layer = make()
          const error = yield* Effect.flip(fetchWith(layer, fakeFetch(ok).layer))
          expect(error).toMatchObject({ _tag: "InvalidOptionsError" })
        }
      }),
  )

  it.effect("POSTs to /v1/sessions/{id}/tokens/{template} with the bearer secret", () =>
    Effect.gen(function* () {
      const fetch = fakeFetch(ok)
      yield* fetchWith(backend, fetch.layer, { sessionId: "sess_1", template: "api" })
      const [call] = fetch.calls
      expect(call!.url).toBe("https://api.clerk.com/v1/sessions/sess_1/tokens/api")
      expect(call!.init.headers).toMatchObject({ Authorization: "Bearer sk_test_secret" })
      expect(call!.init.credentials).toBeUndefined()
    }),
  )
})

describe("answers", () => {
  const failWith = (response: () => Response | Promise<Response>) =>
    Effect.flip(fetchWith(frontend, fakeFetch(response).layer)).pipe(
      Effect.map((error) => error as TokenSourceError),
    )

  it.effect("an HTTP error carries its status, the server's code and Retry-After", () =>
    Effect.gen(function* () {
      const error = yield* failWith(() =>
        Response.json(
          { errors: [{ code: "too_many_requests", message: "slow down" }] },
          { status: 429, headers: { "retry-after": "7" } },
        ),
      )
      expect(error).toBeInstanceOf(TokenSourceError)
      expect(error).toMatchObject({ status: 429, code: "too_many_requests", retryAfterMs: 7000 })
    }),
  )

  it.effect("a Retry-After HTTP date is measured on the Clock", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.UTC(2030, 0, 1, 0, 0, 0))
      const error = yield* failWith(
        () =>
          new Response("", {
            status: 503,
            headers: { "retry-after": "Tue, 01 Jan 2030 00:00:30 GMT" },
          }),
      )
      expect(error.retryAfterMs).toBe(30_000)
    }),
  )

  it.effect(
    "§1 lifetime on the local clock: a Retry-After date is measured against the response's Date header, not a clock minutes off",
    () =>
      Effect.gen(function* () {
        // The local clock is 10 minutes ahead of the server's.
        yield* TestClock.setTime(Date.UTC(2030, 0, 1, 0, 10, 0))
        const error = yield* failWith(
          () =>
            new Response("", {
              status: 429,
              headers: {
                date: "Tue, 01 Jan 2030 00:00:00 GMT",
                "retry-after": "Tue, 01 Jan 2030 00:00:30 GMT",
              },
            }),
        )
        expect(error.retryAfterMs).toBe(30_000)
      }),
  )

  it.effect("a Retry-After date with an unusable Date header falls back to the Clock", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.UTC(2030, 0, 1, 0, 0, 0))
      const error = yield* failWith(
        () =>
          new Response("", {
            status: 503,
            headers: { date: "yesterday", "retry-after": "Tue, 01 Jan 2030 00:00:20 GMT" },
          }),
      )
      expect(error.retryAfterMs).toBe(20_000)
    }),
  )

  it.effect("a code that is a JWT or a key is dropped", () =>
    Effect.gen(function* () {
      for (const code of [jwt, "sk_live_abcdef", "x".repeat(65), "has space"]) {
        const error = yield* failWith(() => Response.json({ errors: [{ code }] }, { status: 400 }))
        expect(error.code).toBeUndefined()
      }
    }),
  )

  it.effect.each([
    ["HTML", () => new Response("<html>hi</html>")],
    ["an empty body", () => new Response(null)],
    ["JSON that is not an object", () => Response.json([jwt])],
    ["an object without jwt", () => Response.json({ object: "token" })],
    ["an empty jwt", () => Response.json({ jwt: "" })],
    ["a numeric jwt", () => Response.json({ jwt: 42 })],
    [
      "a declared 2 MiB body",
      () => new Response("x", { headers: { "content-length": String(2 * 1024 * 1024) } }),
    ],
    ["a streamed 2 MiB body", () => new Response("y".repeat(2 * 1024 * 1024))],
  ] as const)("a 2xx with %s fails with its status, and no JWT in the message", ([, response]) =>
    Effect.gen(function* () {
      const error = yield* failWith(response)
      expect(error).toMatchObject({ _tag: "TokenSourceError", status: 200 })
      expect(String(error)).not.toContain(jwt)
    }),
  )

  it.effect("a fetch that throws is a failure without status", () =>
    Effect.gen(function* () {
      const error = yield* failWith(() => {
        throw new TypeError("fetch failed")
      })
      expect(error.status).toBeUndefined()
    }),
  )

  it.effect("a body that breaks mid-way is a failure without status", () =>
    Effect.gen(function* () {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"jwt":"'))
          controller.error(new Error("socket hang up"))
        },
      })
      const error = yield* failWith(() => new Response(body))
      expect(error.status).toBeUndefined()
    }),
  )

  it.effect("interrupting the fetch aborts its signal", () =>
    Effect.gen(function* () {
      let signal: AbortSignal | undefined
      const fetch = fakeFetch(
        (call) =>
          new Promise<Response>((_resolve, reject) => {
            signal = call.init.signal ?? undefined
            signal?.addEventListener("abort", () => reject(signal!.reason))
          }),
      )
      const fiber = yield* Effect.forkChild(fetchWith(frontend, fetch.layer))
      yield* Effect.yieldNow
      yield* Effect.promise(() => Promise.resolve())
      yield* Fiber.interrupt(fiber)
      expect(signal?.aborted).toBe(true)
    }),
  )
})

describe("retryAfter", () => {
  it.each([
    ["0", 0],
    ["12", 12_000],
    [" 3 ", 3000],
    ["1.5", 1500],
    ["soon", undefined],
    ["-1", undefined],
    ["", undefined],
  ])("%j → %s ms", (header, ms) => {
    expect(TokenSource.retryAfter(header, 0)).toBe(ms)
  })

  it("reads an HTTP date against now, never negative", () => {
    const now = Date.UTC(2030, 0, 1)
    expect(TokenSource.retryAfter("Tue, 01 Jan 2030 00:01:00 GMT", now)).toBe(60_000)
    expect(TokenSource.retryAfter("Mon, 31 Dec 2029 00:00:00 GMT", now)).toBe(0)
    expect(TokenSource.retryAfter(null, now)).toBeUndefined()
  })
})

describe("TokenSource.fromFunction", () => {
  it.effect("answers with the function's JWT and passes its failures through", () =>
    Effect.gen(function* () {
      const requests: Array<TokenSource.TokenRequest> = []
      const source = TokenSource.fromFunction((request) => {
        requests.push(request)
        return request.template === "bad"
          ? Effect.fail(new TokenSourceError({ status: 403 }))
          : Effect.succeed(jwt)
      })
      const program = Effect.gen(function* () {
        const tokens = yield* TokenSource.TokenSource
        expect(yield* tokens.fetch({ sessionId: "s", template: "a" })).toBe(jwt)
        expect((yield* Effect.flip(tokens.fetch({ sessionId: "s", template: "bad" }))).status).toBe(
          403,
        )
      })
      yield* program.pipe(Effect.provide(source))
      expect(requests.map((r) => r.template)).toEqual(["a", "bad"])
    }),
  )
})
