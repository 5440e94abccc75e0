import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Stream from "effect/Stream"
import fc from "fast-check"
import { TestClock } from "effect/testing"
import {
  createTokenClient,
  InvalidOptionsError,
  isTokenError,
  Lifecycle,
  TokenCache,
  MalformedTokenError,
  NotSignedInError,
  TemplateNotFoundError,
  TokenClient,
  TokenRequestError,
  TokenSource,
  TokenSourceError,
  TokenUnavailableError,
} from "@tok/core"
import {
  fakeJwt,
  inspectClient,
  makeFakeSource,
  makeTestLifecycle,
  testClientLayer,
} from "@tok/core/testing"
import { mintedBy, runTest, settle, withClient } from "./support.ts"

describe("§2.1 single flight", () => {
  it.effect("1,000 concurrent cold calls make exactly 1 request", () => {
    const source = makeFakeSource({ delayMs: 100 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const fibers = yield* Effect.forEach(Array.from({ length: 1000 }), () =>
          Effect.forkChild(tok.getToken()),
        )
        yield* TestClock.adjust("100 millis")
        const tokens = yield* Effect.forEach(fibers, Fiber.join)
        expect(source.requests).toHaveLength(1)
        expect(new Set(tokens.map((t) => t.jwt)).size).toBe(1)
      }),
    )
  })

  it.effect("calls for different keys do not share a request", () => {
    const source = makeFakeSource({ delayMs: 100 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const fibers = yield* Effect.forEach(
          [
            {},
            { template: "a" },
            { template: "b" },
            { organizationId: "org_1" },
            { template: "a", organizationId: "org_1" },
            { sessionId: "sess_2" },
          ],
          (options) => Effect.forkChild(tok.getToken(options)),
        )
        yield* TestClock.adjust("100 millis")
        yield* Effect.forEach(fibers, Fiber.join)
        expect(source.requests).toHaveLength(6)
      }),
    )
  })

  it.effect("concurrent waiters share one outcome, retries included", () => {
    const source = makeFakeSource()
    source.enqueue({ fail: { status: 503 } }, { fail: { status: 503 } }, {})
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const fibers = yield* Effect.forEach(Array.from({ length: 10 }), () =>
          Effect.forkChild(tok.getToken()),
        )
        yield* TestClock.adjust("10 seconds")
        const tokens = yield* Effect.forEach(fibers, Fiber.join)
        expect(source.requests).toHaveLength(3)
        expect(new Set(tokens.map((t) => t.jwt)).size).toBe(1)
      }),
    )
  })

  it.effect("concurrent waiters share one failure", () => {
    const source = makeFakeSource({ respond: () => ({ fail: { status: 400 } }) })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        source.configure({ delayMs: 50 })
        const fibers = yield* Effect.forEach(Array.from({ length: 10 }), () =>
          Effect.forkChild(Effect.flip(tok.getToken())),
        )
        yield* TestClock.adjust("50 millis")
        const errors = yield* Effect.forEach(fibers, Fiber.join)
        expect(source.requests).toHaveLength(1)
        expect(new Set(errors).size).toBe(1)
        expect(errors[0]!._tag).toBe("TokenRequestError")
      }),
    )
  })
})

describe("§2.2 skipCache is honest", () => {
  it.effect("a skipCache call never joins a request already in flight", () => {
    const source = makeFakeSource({ delayMs: 1000 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const plain = yield* Effect.forkChild(tok.getToken())
        yield* TestClock.adjust("500 millis")
        const fresh = yield* Effect.forkChild(tok.getToken({ skipCache: true }))
        yield* TestClock.adjust("1 second")
        expect(mintedBy(yield* Fiber.join(plain))).toBe(1)
        expect(mintedBy(yield* Fiber.join(fresh))).toBe(2)
        expect(source.requests).toHaveLength(2)
      }),
    )
  })

  it.effect("a skipCache call with a usable cached token fetches anew", () =>
    withClient(makeFakeSource(), (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const first = yield* tok.getToken()
        const fresh = yield* tok.getToken({ skipCache: true })
        expect(fresh.jwt).not.toBe(first.jwt)
        expect(fresh.source).toBe("network")
      }),
    ),
  )

  it.effect("skipCache results are cached: the next plain call is a hit with them", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        yield* tok.getToken()
        const fresh = yield* tok.getToken({ skipCache: true })
        const next = yield* tok.getToken()
        expect(next.jwt).toBe(fresh.jwt)
        expect(next.source).toBe("cache")
        expect(source.requests).toHaveLength(2)
      }),
    )
  })

  it.effect(
    "a plain call joins a skipCache request in flight when the cache has nothing usable",
    () => {
      const source = makeFakeSource({ delayMs: 100 })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const fresh = yield* Effect.forkChild(tok.getToken({ skipCache: true }))
          yield* settle
          const plain = yield* Effect.forkChild(tok.getToken())
          yield* TestClock.adjust("100 millis")
          expect((yield* Fiber.join(plain)).jwt).toBe((yield* Fiber.join(fresh)).jwt)
          expect(source.requests).toHaveLength(1)
        }),
      )
    },
  )

  it.effect(
    "a plain call is answered from the cache while a skipCache request is in flight",
    () => {
      const source = makeFakeSource()
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const cached = yield* tok.getToken()
          source.configure({ delayMs: 100 })
          const fresh = yield* Effect.forkChild(tok.getToken({ skipCache: true }))
          yield* settle
          const plain = yield* tok.getToken()
          expect(plain.jwt).toBe(cached.jwt)
          expect(plain.source).toBe("cache")
          yield* TestClock.adjust("100 millis")
          expect((yield* Fiber.join(fresh)).jwt).not.toBe(cached.jwt)
        }),
      )
    },
  )
})

describe("§2.3 no token outlives its session", () => {
  it.effect("sign-out clears the session's cached tokens", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        yield* tok.getToken()
        yield* tok.getToken({ template: "a" })
        yield* tok.setSession(null)
        expect(inspectClient(tok).cachedTokens).toBe(0)
        expect((yield* Effect.flip(tok.getToken()))._tag).toBe("NotSignedInError")
        yield* tok.setSession("sess_1")
        expect((yield* tok.getToken()).source).toBe("network")
        expect(source.requests).toHaveLength(3)
      }),
    )
  })

  it.effect("a session switch clears the previous session's tokens", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        yield* tok.getToken()
        yield* tok.setSession("sess_2")
        const token = yield* tok.getToken()
        expect(token.sessionId).toBe("sess_2")
        expect(token.claims.sid).toBe("sess_2")
        expect(inspectClient(tok).cachedTokens).toBe(1)
      }),
    )
  })

  it.effect("a caller of the current session never receives another session's token", () => {
    const source = makeFakeSource({ delayMs: 1000 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const waiter = yield* Effect.forkChild(tok.getToken())
        yield* TestClock.adjust("500 millis")
        yield* tok.setSession("sess_2")
        yield* TestClock.adjust("2 seconds")
        const token = yield* Fiber.join(waiter)
        expect(token.sessionId).toBe("sess_2")
        expect(token.claims.sid).toBe("sess_2")
      }),
    )
  })

  it.effect("generations, not timing: a result that arrives after a switch is never cached", () => {
    // The source ignores interruption: its answer for sess_1 arrives after the switch.
    let calls = 0
    const stubborn = TokenSource.fromFunction((request) =>
      Effect.uninterruptible(
        Effect.sleep("1 second").pipe(
          Effect.map(() => fakeJwt({ sid: request.sessionId, iat: 0, exp: 3600, n: ++calls })),
        ),
      ),
    )
    const layer = TokenClient.layer().pipe(Layer.provide(stubborn))
    return Effect.gen(function* () {
      const tok = yield* TokenClient.TokenClient
      yield* tok.setSession("sess_1")
      const waiter = yield* Effect.forkChild(tok.getToken())
      yield* TestClock.adjust("500 millis")
      yield* tok.setSession("sess_2")
      yield* tok.setSession("sess_1")
      yield* TestClock.adjust("1 second")
      const token = yield* Fiber.join(waiter)
      // The waiter asked for the current session: answered by a request that
      // started after the last switch, not by the old one.
      expect(token.claims.n).toBe(3)
      yield* TestClock.adjust("2 seconds")
      expect(calls).toBe(3)
      const again = yield* tok.getToken()
      expect(again.jwt).toBe(token.jwt)
    }).pipe(Effect.provide(layer))
  })

  it.effect(
    "waiters for the current session are answered for the new session after a switch",
    () => {
      const source = makeFakeSource({ delayMs: 1000 })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const current = yield* Effect.forkChild(tok.getToken({ template: "a" }))
          const named = yield* Effect.forkChild(Effect.flip(tok.getToken({ sessionId: "sess_1" })))
          yield* TestClock.adjust("500 millis")
          yield* tok.setSession("sess_2")
          yield* TestClock.adjust("1 second")
          const token = yield* Fiber.join(current)
          expect(token.sessionId).toBe("sess_2")
          expect(token.template).toBe("a")
          const error = yield* Fiber.join(named)
          expect(error._tag).toBe("NotSignedInError")
          expect(error).toMatchObject({ sessionId: "sess_1" })
        }),
      )
    },
  )

  it.effect("waiters for the current session fail with NotSignedInError on sign-out", () => {
    const source = makeFakeSource({ delayMs: 1000 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const waiter = yield* Effect.forkChild(Effect.flip(tok.getToken()))
        yield* TestClock.adjust("500 millis")
        yield* tok.setSession(null)
        const error = yield* Fiber.join(waiter)
        expect(error._tag).toBe("NotSignedInError")
        yield* TestClock.adjust("1 second")
        expect(inspectClient(tok).cachedTokens).toBe(0)
      }),
    )
  })

  it.effect(
    "tokens fetched with an explicit sessionId for other sessions survive setSession",
    () => {
      const source = makeFakeSource()
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          yield* tok.getToken()
          const other = yield* tok.getToken({ sessionId: "sess_9" })
          yield* tok.setSession("sess_2")
          yield* tok.setSession(null)
          const again = yield* tok.getToken({ sessionId: "sess_9" })
          expect(again.jwt).toBe(other.jwt)
          expect(again.source).toBe("cache")
        }),
      )
    },
  )
})

describe("§2.5 transient failures are retried, permanent ones are not", () => {
  it.effect.each([
    ["a network failure", {}, "network"],
    ["500", { status: 500 }, "server"],
    ["502", { status: 502 }, "server"],
    ["503", { status: 503 }, "server"],
    ["429", { status: 429 }, "rate-limited"],
    ["408", { status: 408 }, "timeout"],
  ] as const)(
    "%s is retried: 4 attempts in all, then TokenUnavailableError",
    ([, fail, reason]) => {
      const source = makeFakeSource({ respond: () => ({ fail }) })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const fiber = yield* Effect.forkChild(Effect.flip(tok.getToken()))
          yield* TestClock.adjust("1 minute")
          const error = yield* Fiber.join(fiber)
          expect(source.requests).toHaveLength(4)
          expect(error).toMatchObject({
            _tag: "TokenUnavailableError",
            reason,
            attempts: 4,
            status: "status" in fail ? fail.status : undefined,
          })
        }),
      )
    },
  )

  it.effect.each([
    ["400", 400, undefined, "TokenRequestError"],
    ["403", 403, undefined, "TokenRequestError"],
    ["404 without a template", 404, undefined, "TokenRequestError"],
    ["404 for a template", 404, "missing", "TemplateNotFoundError"],
    ["422", 422, undefined, "TokenRequestError"],
  ] as const)("%s fails at once", ([, status, template, tag]) => {
    const source = makeFakeSource({ respond: () => ({ fail: { status } }) })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const error = yield* Effect.flip(tok.getToken({ template }))
        expect(source.requests).toHaveLength(1)
        expect(error._tag).toBe(tag)
      }),
    )
  })

  it.effect("a transient failure followed by success answers with the token", () => {
    const source = makeFakeSource()
    source.enqueue({ fail: { status: 503 } }, { fail: {} })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const fiber = yield* Effect.forkChild(tok.getToken())
        yield* TestClock.adjust("2 seconds")
        const token = yield* Fiber.join(fiber)
        expect(mintedBy(token)).toBe(1)
        expect(source.requests).toHaveLength(3)
      }),
    )
  })

  it.effect(
    "backoff waits at most base·2^(n−1) before retry n (full jitter, default policy)",
    () => {
      const source = makeFakeSource({ respond: () => ({ fail: { status: 503 } }) })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const fiber = yield* Effect.forkChild(Effect.flip(tok.getToken()))
          yield* TestClock.adjust("1 minute")
          yield* Fiber.join(fiber)
          const times = source.requestTimes
          const gaps = times.slice(1).map((t, i) => t - times[i]!)
          expect(gaps).toHaveLength(3)
          gaps.forEach((gap, i) => {
            expect(gap).toBeGreaterThanOrEqual(0)
            expect(gap).toBeLessThanOrEqual(250 * 2 ** i)
          })
        }),
      )
    },
  )

  it.effect("429's Retry-After is a lower bound on the next delay", () => {
    const source = makeFakeSource()
    source.enqueue({ fail: { status: 429, retryAfterMs: 3000 } }, { fail: { status: 503 } })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const fiber = yield* Effect.forkChild(tok.getToken())
        yield* TestClock.adjust("2999 millis")
        expect(source.requests).toHaveLength(1)
        yield* TestClock.adjust("1 millis")
        expect(source.requests).toHaveLength(2)
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(fiber)
        expect(source.requests).toHaveLength(3)
      }),
    )
  })

  it.effect("a Retry-After longer than retry.maxDelay fails at once as rate-limited", () => {
    const source = makeFakeSource({
      respond: () => ({ fail: { status: 429, retryAfterMs: 60_000 } }),
    })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const error = yield* Effect.flip(tok.getToken())
        expect(source.requests).toHaveLength(1)
        expect(error).toMatchObject({
          _tag: "TokenUnavailableError",
          reason: "rate-limited",
          status: 429,
          retryAfterMs: 60_000,
          attempts: 1,
        })
      }),
    )
  })

  it.effect("each attempt times out after requestTimeout: reason timeout", () => {
    const source = makeFakeSource({ respond: () => ({ hang: true }) })
    return withClient(
      source,
      (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const fiber = yield* Effect.forkChild(Effect.flip(tok.getToken()))
          yield* TestClock.adjust("999 millis")
          expect(source.requests).toHaveLength(1)
          yield* TestClock.adjust("1 millis")
          expect(source.requests).toHaveLength(2)
          yield* TestClock.adjust("1 second")
          const error = yield* Fiber.join(fiber)
          expect(error).toMatchObject({
            _tag: "TokenUnavailableError",
            reason: "timeout",
            attempts: 2,
          })
        }),
      { requestTimeout: 1000, retry: { attempts: 2, baseDelay: 0, maxDelay: 0 } },
    )
  })

  it.effect("the default per-attempt timeout is 10 s", () => {
    const source = makeFakeSource({ respond: () => ({ hang: true }) })
    return withClient(
      source,
      (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const fiber = yield* Effect.forkChild(Effect.flip(tok.getToken()))
          yield* TestClock.adjust("9999 millis")
          expect(fiber.pollUnsafe()).toBeUndefined()
          yield* TestClock.adjust("1 millis")
          expect((yield* Fiber.join(fiber))._tag).toBe("TokenUnavailableError")
        }),
      { retry: { attempts: 1 } },
    )
  })

  it.effect("401 signs the session out: cache cleared, NotSignedInError, session null", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        yield* tok.getToken({ template: "a" })
        source.enqueue({ fail: { status: 401 } })
        const changes = yield* Effect.forkChild(
          Stream.runCollect(Stream.take(tok.session.changes, 2)),
        )
        yield* settle
        const error = yield* Effect.flip(tok.getToken())
        expect(error).toMatchObject({ _tag: "NotSignedInError", sessionId: "sess_1" })
        expect(source.requests).toHaveLength(2)
        expect(yield* tok.session.get).toBe(null)
        expect(inspectClient(tok).cachedTokens).toBe(0)
        expect(Array.from(yield* Fiber.join(changes))).toEqual(["sess_1", null])
        expect((yield* Effect.flip(tok.getToken({ template: "a" })))._tag).toBe("NotSignedInError")
      }),
    )
  })

  it.effect.each(["clerk_key_invalid", "authorization_header_missing", "secret_key_invalid"])(
    "a 401 with the credential error %s is a TokenRequestError and signs nobody out",
    (code) => {
      const source = makeFakeSource()
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const cached = yield* tok.getToken()
          source.enqueue({ fail: { status: 401, code } })
          const error = yield* Effect.flip(tok.getToken({ skipCache: true }))
          expect(error).toMatchObject({ _tag: "TokenRequestError", status: 401, code })
          expect(source.requests).toHaveLength(2)
          expect(yield* tok.session.get).toBe("sess_1")
          expect((yield* tok.getToken()).jwt).toBe(cached.jwt)
        }),
      )
    },
  )

  it.effect("401 for an explicit session drops only that session", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const mine = yield* tok.getToken()
        yield* tok.getToken({ sessionId: "sess_9", template: "a" })
        source.enqueue({ fail: { status: 401 } })
        const error = yield* Effect.flip(tok.getToken({ sessionId: "sess_9" }))
        expect(error).toMatchObject({ _tag: "NotSignedInError", sessionId: "sess_9" })
        expect(yield* tok.session.get).toBe("sess_1")
        expect((yield* tok.getToken()).jwt).toBe(mine.jwt)
        expect(inspectClient(tok).cachedTokens).toBe(1)
      }),
    )
  })
})

/** A real-looking JWT (header `eyJ…`), the kind of secret that must never reach an error. */
const secretJwt = (payload: Record<string, unknown> = { sub: "user_1", iat: 0, exp: 60 }) =>
  `${fakeJwt(payload).slice(0, -1)}c2lnbmF0dXJl`

const expectSafe = (error: unknown, secrets: ReadonlyArray<string>) => {
  expect(isTokenError(error)).toBe(true)
  expect(error).toBeInstanceOf(Error)
  const texts = [
    String(error),
    (error as Error).message,
    JSON.stringify(error),
    (error as Error).stack ?? "",
  ]
  for (const text of texts) {
    expect(text).not.toMatch(/eyJ[\w-]+\.eyJ/)
    for (const secret of secrets) {
      expect(text).not.toContain(secret)
      expect(text).not.toContain(secret.split(".")[1] ?? secret)
    }
  }
}

describe("§2.6 errors are typed and safe", () => {
  const jwt = secretJwt()
  const noExp = secretJwt({ sub: "user_1", iat: 0 })
  const backwards = secretJwt({ sub: "user_1", iat: 60, exp: 0 })
  const key = "sk_test_abcdefghijklmnop"
  const sourceError = (fields: ConstructorParameters<typeof TokenSourceError>[0]) =>
    Effect.fail(new TokenSourceError(fields))

  it.effect.each([
    ["a JWT without exp", () => Effect.succeed(noExp), "MalformedTokenError"],
    ["a JWT with exp before iat", () => Effect.succeed(backwards), "MalformedTokenError"],
    ["a JWT inside garbage", () => Effect.succeed(`<html>${jwt}</html>`), "MalformedTokenError"],
    [
      "a 2xx failure whose message holds a JWT and a key",
      () => sourceError({ status: 200, message: `bad answer ${jwt} ${key}` }),
      "MalformedTokenError",
    ],
    [
      "a 400 whose code is a JWT",
      () => sourceError({ status: 400, code: jwt, message: jwt }),
      "TokenRequestError",
    ],
    [
      "a 400 whose code holds a key",
      () => sourceError({ status: 400, code: key }),
      "TokenRequestError",
    ],
    [
      "a 500 whose cause holds a JWT",
      () => sourceError({ status: 500, cause: new Error(jwt), message: jwt }),
      "TokenUnavailableError",
    ],
    [
      "a network failure whose cause holds a JWT",
      () => sourceError({ cause: { jwt }, message: jwt }),
      "TokenUnavailableError",
    ],
    [
      "a 404 for a template",
      () => sourceError({ status: 404, message: jwt }),
      "TemplateNotFoundError",
    ],
    ["a 401", () => sourceError({ status: 401, message: jwt }), "NotSignedInError"],
  ] as const)("%s ends in a safe typed error", ([, answer, tag]) =>
    Effect.gen(function* () {
      const tok = yield* TokenClient.TokenClient
      yield* tok.setSession("sess_1")
      const fiber = yield* Effect.forkChild(Effect.flip(tok.getToken({ template: "tpl" })))
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe(tag)
      expectSafe(error, [jwt, noExp, backwards, key])
      expect(inspectClient(tok).cachedTokens).toBe(0)
    }).pipe(
      Effect.provide(
        TokenClient.layer().pipe(
          Layer.provide(
            TokenSource.fromFunction(() => answer() as Effect.Effect<string, TokenSourceError>),
          ),
        ),
      ),
    ),
  )

  it.effect("every error has a _tag equal to its class name and is an Error", () =>
    Effect.sync(() => {
      const errors = [
        new NotSignedInError(),
        new NotSignedInError({ sessionId: "sess_1" }),
        new TemplateNotFoundError({ template: "t" }),
        new TokenRequestError({ status: 400, code: "c" }),
        new TokenUnavailableError({ reason: "network", attempts: 1 }),
        new MalformedTokenError({ detail: "d" }),
        new InvalidOptionsError({ detail: "d" }),
      ]
      for (const error of errors) {
        expect(error).toBeInstanceOf(Error)
        expect(error._tag).toBe(error.constructor.name)
        expect(error.name).toBe(error._tag)
        expect(error.message.length).toBeGreaterThan(10)
      }
    }),
  )
})

describe("§2.7 nothing leaks", () => {
  it.effect.each([
    ["template", { template: "." }],
    ["template", { template: ".." }],
    ["sessionId", { sessionId: "." }],
    ["sessionId", { sessionId: ".." }],
  ] as const)("a %s of a dot segment is InvalidOptionsError, before any request", ([, options]) => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const error = yield* Effect.flip(tok.getToken(options))
        expect(error._tag).toBe("InvalidOptionsError")
        expect(source.requests).toHaveLength(0)
      }),
    )
  })

  it.effect.each([".", ".."])("a current session id of %j is InvalidOptionsError", (id) => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession(id)
        expect((yield* Effect.flip(tok.getToken()))._tag).toBe("InvalidOptionsError")
        expect((yield* Effect.flip(tok.getToken({ template: "a" })))._tag).toBe(
          "InvalidOptionsError",
        )
        expect(source.requests).toHaveLength(0)
      }),
    )
  })

  it.effect("closing the layer's scope releases every fiber and timer", () => {
    const source = makeFakeSource({ respond: () => ({ hang: true }) })
    return Effect.gen(function* () {
      let client: TokenClient.Service | undefined
      yield* withClient(source, (tok) =>
        Effect.gen(function* () {
          client = tok
          yield* tok.setSession("sess_1")
          yield* Effect.forkDetach(tok.getToken())
          const watcher = yield* tok.watch({ template: "a" })
          watcher.subscribe(() => undefined)
          yield* settle
          expect(inspectClient(tok)).toMatchObject({ requests: 2, watchedKeys: 1 })
          expect(inspectClient(tok).fibers).toBeGreaterThanOrEqual(3)
        }),
      )
      expect(inspectClient(client!)).toEqual({
        fibers: 0,
        requests: 0,
        watchedKeys: 0,
        cachedTokens: 0,
      })
    })
  })
})

describe("decisions on the edges", () => {
  describe("boundaries", () => {
    it.effect(
      "a cached token is used while now + buffer < expiresAt, and refetched at that point",
      () => {
        const source = makeFakeSource()
        return withClient(source, (tok) =>
          Effect.gen(function* () {
            yield* tok.setSession("sess_1")
            const first = yield* tok.getToken()
            yield* TestClock.adjust("49999 millis")
            expect((yield* tok.getToken()).jwt).toBe(first.jwt)
            yield* TestClock.adjust("1 millis")
            expect((yield* tok.getToken()).jwt).not.toBe(first.jwt)
            expect(source.requests).toHaveLength(2)
          }),
        )
      },
    )

    it.effect("a per-call expirationBuffer moves the boundary, clamped to [0, 60]", () => {
      const source = makeFakeSource({ lifetimeSeconds: 120 })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const first = yield* tok.getToken()
          yield* TestClock.adjust("59 seconds")
          expect((yield* tok.getToken({ expirationBuffer: 60 })).jwt).toBe(first.jwt)
          expect((yield* tok.getToken({ expirationBuffer: 600 })).jwt).toBe(first.jwt)
          yield* TestClock.adjust("1 second")
          expect((yield* tok.getToken({ expirationBuffer: 0 })).jwt).toBe(first.jwt)
          const clamped = yield* tok.getToken({ expirationBuffer: 600 })
          expect(clamped.jwt).not.toBe(first.jwt)
          yield* TestClock.adjust("119999 millis")
          expect((yield* tok.getToken({ expirationBuffer: -5 })).jwt).toBe(clamped.jwt)
        }),
      )
    })
  })

  it.effect(
    "monotonic cache: a request that finishes after a newer token was cached never replaces it",
    () => {
      const source = makeFakeSource()
      source.enqueue({ mint: { lifetimeSeconds: 30 }, delayMs: 5000 }, {})
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const slow = yield* Effect.forkChild(tok.getToken())
          yield* TestClock.adjust("1 second")
          const fresh = yield* tok.getToken({ skipCache: true })
          yield* TestClock.adjust("4 seconds")
          const late = yield* Fiber.join(slow)
          expect(late.jwt).not.toBe(fresh.jwt)
          expect((yield* tok.getToken()).jwt).toBe(fresh.jwt)
        }),
      )
    },
  )

  it.effect(
    "skipCache results are cached even when they expire sooner than the token they replace",
    () => {
      const source = makeFakeSource()
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const long = yield* tok.getToken()
          source.configure({ lifetimeSeconds: 20 })
          const short = yield* tok.getToken({ skipCache: true })
          expect(short.expiresAt).toBeLessThan(long.expiresAt)
          const next = yield* tok.getToken()
          expect(next.jwt).toBe(short.jwt)
          expect(next.source).toBe("cache")
          expect(source.requests).toHaveLength(2)
        }),
      )
    },
  )

  it.effect(
    "failures are not cached: a still-valid token stays, the next call starts afresh",
    () => {
      const source = makeFakeSource()
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const cached = yield* tok.getToken()
          source.enqueue({ fail: { status: 400 } })
          expect((yield* Effect.flip(tok.getToken({ skipCache: true })))._tag).toBe(
            "TokenRequestError",
          )
          expect((yield* tok.getToken()).jwt).toBe(cached.jwt)
          expect((yield* tok.getToken({ skipCache: true })).jwt).not.toBe(cached.jwt)
          expect(source.requests).toHaveLength(3)
        }),
      )
    },
  )

  describe("invalidate", () => {
    const fill = (tok: TokenClient.Service) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        yield* tok.getToken()
        yield* tok.getToken({ template: "a" })
        yield* tok.getToken({ organizationId: "org_1" })
        yield* tok.getToken({ template: "a", organizationId: "org_1" })
        yield* tok.getToken({ sessionId: "sess_2", template: "a" })
      })

    it.effect.each([
      ["no filter drops everything", undefined, 0],
      ["a template drops that template in every session", { template: "a" }, 2],
      ["a session drops that session", { sessionId: "sess_2" }, 4],
      ["an organization drops that organization", { organizationId: "org_1" }, 3],
      ['organizationId "" drops the tokens without organization', { organizationId: "" }, 2],
      ["fields combine", { template: "a", organizationId: "org_1" }, 4],
    ] as const)("%s", ([, filter, left]) => {
      const source = makeFakeSource()
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* fill(tok)
          yield* tok.invalidate(filter)
          expect(inspectClient(tok).cachedTokens).toBe(left)
        }),
      )
    })

    it.effect("fences requests in flight: their late results are not cached", () => {
      const source = makeFakeSource({ delayMs: 1000 })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const waiter = yield* Effect.forkChild(tok.getToken())
          yield* TestClock.adjust("500 millis")
          yield* tok.invalidate()
          yield* TestClock.adjust("500 millis")
          const token = yield* Fiber.join(waiter)
          expect(token.sessionId).toBe("sess_1")
          expect(inspectClient(tok).cachedTokens).toBe(0)
          const next = yield* Effect.forkChild(tok.getToken())
          yield* TestClock.adjust("1 second")
          expect((yield* Fiber.join(next)).jwt).not.toBe(token.jwt)
          expect(source.requests).toHaveLength(2)
        }),
      )
    })

    it.effect("a filter that is not an object is InvalidOptionsError", () =>
      withClient(makeFakeSource(), (tok) =>
        Effect.gen(function* () {
          const error = yield* Effect.flip(tok.invalidate("everything" as never))
          expect(error._tag).toBe("InvalidOptionsError")
        }),
      ),
    )
  })

  describe("an abandoned request goes on", () => {
    it.effect("when every caller is interrupted the request completes and fills the cache", () => {
      const source = makeFakeSource({ delayMs: 1000 })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const callers = yield* Effect.forEach([1, 2, 3], () => Effect.forkChild(tok.getToken()))
          yield* TestClock.adjust("500 millis")
          yield* Effect.forEach(callers, Fiber.interrupt)
          yield* TestClock.adjust("500 millis")
          expect(source.answered).toBe(1)
          const token = yield* tok.getToken()
          expect(token.source).toBe("cache")
          expect(source.requests).toHaveLength(1)
        }),
      )
    })

    it.effect("closing the client interrupts it", () => {
      const source = makeFakeSource({ delayMs: 1000 })
      return Effect.gen(function* () {
        let client: TokenClient.Service | undefined
        yield* withClient(source, (tok) =>
          Effect.gen(function* () {
            client = tok
            yield* tok.setSession("sess_1")
            yield* Effect.forkDetach(tok.getToken())
            yield* settle
          }),
        )
        yield* TestClock.adjust("2 seconds")
        expect(inspectClient(client!).fibers).toBe(0)
        expect(inspectClient(client!).cachedTokens).toBe(0)
      })
    })
  })

  describe("degenerate tokens", () => {
    it.effect.each([
      ["exp < iat", { iat: 100, exp: 50 }],
      ["exp = iat", { iat: 100, exp: 100 }],
    ] as const)("%s is MalformedTokenError and nothing is cached", ([, claims]) => {
      const source = makeFakeSource({ respond: () => ({ jwt: fakeJwt(claims) }) })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          expect((yield* Effect.flip(tok.getToken()))._tag).toBe("MalformedTokenError")
          expect(source.requests).toHaveLength(1)
          expect(inspectClient(tok).cachedTokens).toBe(0)
        }),
      )
    })

    it.effect(
      "a token living less than the buffer is returned to its callers and never reused",
      () => {
        const source = makeFakeSource({ lifetimeSeconds: 5, delayMs: 10 })
        return withClient(source, (tok) =>
          Effect.gen(function* () {
            yield* tok.setSession("sess_1")
            const callers = yield* Effect.forEach([1, 2], () => Effect.forkChild(tok.getToken()))
            yield* TestClock.adjust("10 millis")
            const [a, b] = yield* Effect.forEach(callers, Fiber.join)
            expect(a!.jwt).toBe(b!.jwt)
            const next = yield* Effect.forkChild(tok.getToken())
            yield* TestClock.adjust("10 millis")
            expect((yield* Fiber.join(next)).jwt).not.toBe(a!.jwt)
            expect(source.requests).toHaveLength(2)
          }),
        )
      },
    )

    it.effect("an aged token is trusted for its full exp − iat from when it arrives", () => {
      const source = makeFakeSource()
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* TestClock.adjust("2 hours")
          const start = Date.UTC(1970, 0, 1, 2)
          source.enqueue({ jwt: fakeJwt({ iat: 0, exp: 60 }) })
          yield* tok.setSession("sess_1")
          const token = yield* tok.getToken()
          expect(token.issuedAt).toBe(start)
          expect(token.expiresAt).toBe(start + 60_000)
          yield* TestClock.adjust("49 seconds")
          expect((yield* tok.getToken()).jwt).toBe(token.jwt)
        }),
      )
    })
  })

  it.effect('organizationId "" means no organization', () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const none = yield* tok.getToken({ organizationId: "" })
        expect(source.requests[0]).toEqual({
          sessionId: "sess_1",
          template: undefined,
          organizationId: undefined,
        })
        expect(none.organizationId).toBeUndefined()
        expect((yield* tok.getToken()).jwt).toBe(none.jwt)
        expect((yield* tok.getToken({ template: "a", organizationId: "" })).organizationId).toBe(
          undefined,
        )
      }),
    )
  })

  it.effect("a 2xx without a usable jwt is MalformedTokenError, not retried", () => {
    const source = makeFakeSource({ respond: () => ({ fail: { status: 200 } }) })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        expect((yield* Effect.flip(tok.getToken()))._tag).toBe("MalformedTokenError")
        expect(source.requests).toHaveLength(1)
      }),
    )
  })

  describe("order of checks: options, then session, then cache", () => {
    it.effect("bad options while signed out are InvalidOptionsError", () =>
      withClient(makeFakeSource(), (tok) =>
        Effect.gen(function* () {
          const error = yield* Effect.flip(tok.getToken({ expirationBuffer: Number.NaN }))
          expect(error._tag).toBe("InvalidOptionsError")
          expect((yield* Effect.flip(tok.getToken()))._tag).toBe("NotSignedInError")
        }),
      ),
    )

    it.effect("bad options with a cached token are InvalidOptionsError", () =>
      withClient(makeFakeSource(), (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          yield* tok.getToken()
          const error = yield* Effect.flip(tok.getToken({ template: "" }))
          expect(error._tag).toBe("InvalidOptionsError")
        }),
      ),
    )
  })

  it.effect('Token.source is "network" for every caller of the request, "cache" afterwards', () => {
    const source = makeFakeSource({ delayMs: 10 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const callers = yield* Effect.forEach([1, 2, 3], () => Effect.forkChild(tok.getToken()))
        yield* TestClock.adjust("10 millis")
        for (const token of yield* Effect.forEach(callers, Fiber.join)) {
          expect(token.source).toBe("network")
        }
        expect((yield* tok.getToken()).source).toBe("cache")
        expect((yield* tok.getToken({ template: undefined })).source).toBe("cache")
      }),
    )
  })
})

describe("§3 errors", () => {
  it.effect("NotSignedInError: no current session", () =>
    withClient(makeFakeSource(), (tok) =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(tok.getToken())
        expect(error).toBeInstanceOf(NotSignedInError)
        expect((error as NotSignedInError).sessionId).toBeUndefined()
      }),
    ),
  )

  it.effect("NotSignedInError: the server answered 401", () => {
    const source = makeFakeSource({ respond: () => ({ fail: { status: 401 } }) })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const error = yield* Effect.flip(tok.getToken())
        expect(error).toBeInstanceOf(NotSignedInError)
        expect(error).toMatchObject({ sessionId: "sess_1" })
      }),
    )
  })

  it.effect("TemplateNotFoundError: the server answered 404 for a template", () => {
    const source = makeFakeSource({ respond: () => ({ fail: { status: 404 } }) })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const error = yield* Effect.flip(tok.getToken({ template: "firebase" }))
        expect(error).toBeInstanceOf(TemplateNotFoundError)
        expect(error).toMatchObject({ template: "firebase" })
        expect(error.message).toContain("firebase")
      }),
    )
  })

  it.effect("TokenRequestError: any other 4xx that is not retried, with its code", () => {
    const source = makeFakeSource({
      respond: () => ({ fail: { status: 422, code: "form_param_invalid" } }),
    })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const error = yield* Effect.flip(tok.getToken())
        expect(error).toBeInstanceOf(TokenRequestError)
        expect(error).toMatchObject({ status: 422, code: "form_param_invalid" })
      }),
    )
  })

  it.effect.each([
    ["network", {}],
    ["timeout", { status: 408 }],
    ["server", { status: 500 }],
    ["rate-limited", { status: 429, retryAfterMs: 100 }],
  ] as const)(
    "TokenUnavailableError: retries exhausted, reason %s, with status, retryAfterMs and attempts",
    ([reason, fail]) => {
      const source = makeFakeSource({ respond: () => ({ fail }) })
      return withClient(
        source,
        (tok) =>
          Effect.gen(function* () {
            yield* tok.setSession("sess_1")
            const fiber = yield* Effect.forkChild(Effect.flip(tok.getToken()))
            yield* TestClock.adjust("10 seconds")
            const error = yield* Fiber.join(fiber)
            expect(error).toBeInstanceOf(TokenUnavailableError)
            expect(error).toMatchObject({ reason, attempts: 2, ...fail })
          }),
        { retry: { attempts: 2 } },
      )
    },
  )

  it.effect(
    "MalformedTokenError: the answer is not a decodable JWT with numeric iat and exp",
    () => {
      const source = makeFakeSource({ respond: () => ({ jwt: fakeJwt({ iat: "0", exp: 60 }) }) })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const error = yield* Effect.flip(tok.getToken())
          expect(error).toBeInstanceOf(MalformedTokenError)
          expect(error).toMatchObject({ detail: expect.stringContaining("iat") })
        }),
      )
    },
  )

  it.effect.each([
    ["a non-finite buffer", { expirationBuffer: Number.POSITIVE_INFINITY }],
    ["an empty template name", { template: "" }],
  ] as const)("InvalidOptionsError: %s", ([, options]) =>
    withClient(makeFakeSource(), (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const error = yield* Effect.flip(tok.getToken(options))
        expect(error).toBeInstanceOf(InvalidOptionsError)
        expect(error).toMatchObject({ detail: expect.any(String) })
      }),
    ),
  )
})

describe("lifetime on the local clock", () => {
  it.effect.each([
    ["1 hour ahead", 3600],
    ["1 hour behind", -3600],
  ] as const)("a server clock %s changes nothing: 60 s tokens live 60 s locally", ([, skew]) => {
    const source = makeFakeSource({ serverSkewSeconds: skew })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const first = yield* tok.getToken()
        expect(first.expiresAt - first.issuedAt).toBe(60_000)
        for (let second = 0; second < 49; second++) {
          yield* TestClock.adjust("1 second")
          expect((yield* tok.getToken()).jwt).toBe(first.jwt)
        }
        yield* TestClock.adjust("1 second")
        expect((yield* tok.getToken()).jwt).not.toBe(first.jwt)
        expect(source.requests).toHaveLength(2)
      }),
    )
  })
})

describe("the cache", () => {
  it.effect("keys are per session, template and organization", () => {
    const source = makeFakeSource()
    const keys = [
      {},
      { template: "a" },
      { template: "b" },
      { organizationId: "org_1" },
      { organizationId: "org_2" },
      { template: "a", organizationId: "org_1" },
      { sessionId: "sess_2" },
      { sessionId: "sess_2", template: "a" },
    ]
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const first = yield* Effect.forEach(keys, (options) => tok.getToken(options))
        const again = yield* Effect.forEach(keys, (options) => tok.getToken(options))
        expect(source.requests).toHaveLength(keys.length)
        expect(again.map((t) => t.jwt)).toEqual(first.map((t) => t.jwt))
        expect(new Set(first.map((t) => t.jwt)).size).toBe(keys.length)
        expect(first[5]).toMatchObject({ template: "a", organizationId: "org_1" })
        expect(first[5]!.claims).toMatchObject({ template: "a", org_id: "org_1" })
      }),
    )
  })

  it.effect("holds maxEntries tokens and evicts the least recently used", () => {
    const source = makeFakeSource()
    return withClient(
      source,
      (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const a = yield* tok.getToken({ template: "a" })
          yield* tok.getToken({ template: "b" })
          yield* tok.getToken({ template: "a" })
          yield* tok.getToken({ template: "c" })
          expect(inspectClient(tok).cachedTokens).toBe(2)
          expect((yield* tok.getToken({ template: "a" })).jwt).toBe(a.jwt)
          expect(source.requests).toHaveLength(3)
          yield* tok.getToken({ template: "b" })
          expect(source.requests).toHaveLength(4)
        }),
      { maxEntries: 2 },
    )
  })
})

describe("sessions", () => {
  it.effect("backend use: getToken({ sessionId, template }) works with no current session", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        const token = yield* tok.getToken({ sessionId: "sess_a", template: "api" })
        expect(token).toMatchObject({ sessionId: "sess_a", template: "api" })
        expect(yield* tok.session.get).toBe(null)
        const other = yield* tok.getToken({ sessionId: "sess_b", template: "api" })
        expect(other.sessionId).toBe("sess_b")
      }),
    )
  })

  it.effect("session.changes streams the current id first, then each change", () =>
    withClient(makeFakeSource(), (tok) =>
      Effect.gen(function* () {
        const changes = yield* Effect.forkChild(
          Stream.runCollect(Stream.take(tok.session.changes, 4)),
        )
        yield* settle
        yield* tok.setSession("sess_1")
        yield* tok.setSession("sess_1")
        yield* tok.setSession("sess_2")
        yield* tok.setSession(null)
        expect(Array.from(yield* Fiber.join(changes))).toEqual([null, "sess_1", "sess_2", null])
      }),
    ),
  )
})

describe("any answer from a source", () => {
  const answers = fc.oneof(
    fc.string(),
    fc.string({ unit: "binary" }),
    fc.json(),
    fc.constantFrom(
      "",
      "<!doctype html><html><body>502 Bad Gateway</body></html>",
      "null",
      "a.b.c",
      fakeJwt({ iat: 1 }),
      fakeJwt({ exp: 1 }),
      fakeJwt({ iat: 10, exp: 5 }),
      fakeJwt({ iat: "1", exp: "2" }),
      fakeJwt({ iat: 1, exp: 2, pad: "x".repeat(70_000) }),
      "x".repeat(2 * 1024 * 1024),
    ),
    fc.anything(),
  )

  it("ends in a typed error (or a usable token), never a crash, never a bad token cached", async () => {
    await fc.assert(
      fc.asyncProperty(answers, async (answer) => {
        const source = makeFakeSource({ respond: () => ({ jwt: answer }) })
        const outcome = await runTest(
          withClient(source, (tok) =>
            Effect.gen(function* () {
              yield* tok.setSession("sess_1")
              const exit = yield* Effect.exit(tok.getToken())
              return { exit, cached: inspectClient(tok).cachedTokens }
            }),
          ),
        )
        if (Exit.isSuccess(outcome.exit)) {
          const token = outcome.exit.value
          expect(token.expiresAt).toBeGreaterThan(token.issuedAt)
          expect(token.claims.exp).toBeGreaterThan(token.claims.iat)
        } else {
          expect(outcome.exit).toEqual(Exit.fail(expect.any(MalformedTokenError)))
          expect(outcome.cached).toBe(0)
          expect(source.requests).toHaveLength(1)
        }
      }),
      { numRuns: 200 },
    )
  })
})

/** A logger that keeps what is logged at Error level. */
const errorLog = () => {
  const lines: Array<{ message: unknown; cause: Cause.Cause<unknown> }> = []
  const logger = Logger.make((options) => {
    if (options.logLevel === "Error") lines.push({ message: options.message, cause: options.cause })
  })
  return { lines, layer: Logger.layer([logger]) }
}

/** A client on `source` and `cache`, logging into `log`. */
const clientWith = (
  source: ReturnType<typeof makeFakeSource>,
  cache: TokenCache.Service,
  log: ReturnType<typeof errorLog>,
) =>
  TokenClient.layerWithoutDefaults().pipe(
    Layer.provide(
      Layer.mergeAll(
        source.layer,
        Layer.succeed(TokenCache.TokenCache, cache),
        Lifecycle.layerTest(makeTestLifecycle()),
      ),
    ),
    Layer.provide(log.layer),
  )

describe("§2.8 an Effect is a recipe", () => {
  it.effect(
    "§2.8 an Effect is a recipe: a stored getToken() effect re-reads the session, the cache and the clock on every run",
    () => {
      const source = makeFakeSource({ lifetimeSeconds: 60 })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const first = yield* tok.getToken()
          // Built while a cached token would answer it.
          const get = tok.getToken()
          expect((yield* get).jwt).toBe(first.jwt)
          expect(source.requests).toHaveLength(1)
          // Signed out: the same effect now fails.
          yield* tok.setSession(null)
          expect((yield* Effect.flip(get))._tag).toBe("NotSignedInError")
          // Signed in again: it fetches for the new session.
          yield* tok.setSession("sess_2")
          expect((yield* get).sessionId).toBe("sess_2")
          expect(source.requests).toHaveLength(2)
          // Past the buffer: it fetches anew, as a fresh call would.
          yield* TestClock.adjust("55 seconds")
          const later = yield* get
          expect(source.requests).toHaveLength(3)
          expect(later.source).toBe("network")
        }),
      )
    },
  )
})

describe("§2.9 every caller is answered", () => {
  it.effect(
    "§2.9 every caller is answered: a store that throws fails every caller of the request with the defect, logged once",
    () => {
      const boom = new Error("the store is full")
      const cache = TokenCache.make()
      const throwing: TokenCache.Service = {
        ...cache,
        set: () => {
          throw boom
        },
      }
      const source = makeFakeSource({ delayMs: 10 })
      const log = errorLog()
      return Effect.gen(function* () {
        const tok = yield* TokenClient.TokenClient
        yield* tok.setSession("sess_1")
        const callers = yield* Effect.forEach(Array.from({ length: 3 }), () =>
          Effect.forkChild(Effect.exit(tok.getToken())),
        )
        yield* TestClock.adjust("10 millis")
        const exits = yield* Effect.forEach(callers, Fiber.join)
        for (const exit of exits) {
          expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toBe(boom)
          expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
        }
        expect(source.requests).toHaveLength(1)
        expect(log.lines).toHaveLength(1)
        expect(Cause.squash(log.lines[0]!.cause)).toBe(boom)
        expect(inspectClient(tok).requests).toBe(0)
      }).pipe(Effect.provide(clientWith(source, throwing, log)))
    },
  )

  it.effect(
    "§2.9 a defect stays a defect: a source that dies fails its callers with the defect, is logged once and not retried",
    () => {
      const bug = new TypeError("undefined is not a function")
      const source = makeFakeSource()
      source.enqueue({ die: bug })
      const log = errorLog()
      return Effect.gen(function* () {
        const tok = yield* TokenClient.TokenClient
        yield* tok.setSession("sess_1")
        const exit = yield* Effect.exit(tok.getToken())
        expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
        expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toBe(bug)
        expect(source.requests).toHaveLength(1)
        expect(log.lines).toHaveLength(1)
        // The next call starts afresh.
        expect((yield* tok.getToken()).source).toBe("network")
      }).pipe(Effect.provide(clientWith(source, TokenCache.make(), log)))
    },
  )

  it("§2.9 a defect stays a defect: the Promise face rejects with the thrown value", async () => {
    const bug = new TypeError("undefined is not a function")
    const tok = createTokenClient({
      source: TokenSource.fromFunction(() => Effect.die(bug)),
      session: "sess_1",
    })
    await expect(tok.getToken({ template: "a" })).rejects.toBe(bug)
    await expect(tok.getToken()).rejects.toBe(bug)
    await tok.dispose()
  })

  it.effect(
    "§2.9 a defect stays a defect: invalidate passes a store's bug on, never as InvalidOptionsError",
    () => {
      const bug = new Error("entries is broken")
      const throwing: TokenCache.Service = {
        ...TokenCache.make(),
        entries: () => {
          throw bug
        },
      }
      return Effect.gen(function* () {
        const tok = yield* TokenClient.TokenClient
        const exit = yield* Effect.exit(tok.invalidate({ template: "a" }))
        expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
        expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toBe(bug)
        const bad = yield* Effect.flip(tok.invalidate("x" as never))
        expect(bad._tag).toBe("InvalidOptionsError")
      }).pipe(Effect.provide(clientWith(makeFakeSource(), throwing, errorLog())))
    },
  )
})

describe("§3 malformed lifetimes", () => {
  it.effect(
    "§3 errors: a lifetime too long to be a date (exp of 1e308) is MalformedTokenError, never cached forever",
    () => {
      const source = makeFakeSource()
      source.enqueue({ jwt: fakeJwt({ sub: "user_1", iat: 0, exp: 1e308 }) })
      source.enqueue({ jwt: fakeJwt({ sub: "user_1", iat: -1e308, exp: 1e308 }) })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          for (let i = 0; i < 2; i++) {
            const error = yield* Effect.flip(tok.getToken())
            expect(error._tag).toBe("MalformedTokenError")
          }
          expect(inspectClient(tok).cachedTokens).toBe(0)
        }),
      )
    },
  )
})

describe("§4 the public TokenClient type", () => {
  it.effect(
    "§4 TokenClient: the service holds only its public API, so a test double needs no engine",
    () =>
      Effect.gen(function* () {
        const tok = yield* TokenClient.TokenClient
        expect(Object.keys(tok).sort()).toEqual(
          ["changes", "getToken", "invalidate", "session", "setSession", "watch"].sort(),
        )
        // A double written against the public type alone is a TokenClient.
        const double: TokenClient.Service = {
          getToken: () => Effect.fail(new NotSignedInError()),
          setSession: () => Effect.void,
          session: { get: Effect.succeed(null), changes: Stream.make(null) },
          watch: () => Effect.die("not used"),
          invalidate: () => Effect.void,
          changes: () => Stream.empty,
        }
        const error = yield* Effect.flip(double.getToken())
        expect(error._tag).toBe("NotSignedInError")
      }).pipe(Effect.provide(testClientLayer(makeFakeSource()))),
  )
})

describe("TokenClient.changes", () => {
  it.effect(
    "streams a key's state (current first, then each change) and stops watching when the stream ends",
    () => {
      const source = makeFakeSource({ lifetimeSeconds: 60, delayMs: 100 })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const fiber = yield* Effect.forkChild(
            Stream.runCollect(Stream.take(tok.changes({ template: "a" }), 3)),
          )
          yield* TestClock.adjust("100 millis")
          expect(inspectClient(tok).watchedKeys).toBe(1)
          yield* tok.setSession(null)
          const states = yield* Fiber.join(fiber)
          expect(states.map((state) => state.status)).toEqual(["loading", "ready", "signed-out"])
          expect(inspectClient(tok)).toMatchObject({ watchedKeys: 0, fibers: 0 })
        }),
      )
    },
  )

  it.effect("bad options fail the stream with InvalidOptionsError", () =>
    withClient(makeFakeSource(), (tok) =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Stream.runCollect(tok.changes({ template: ".." })))
        expect(error._tag).toBe("InvalidOptionsError")
      }),
    ),
  )
})

describe("§2.3 fencing is per session and per filter", () => {
  it.effect(
    "§2.3 no token outlives its session: signing out fences only the ended session's requests",
    () => {
      const source = makeFakeSource({ delayMs: 100 })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const other = yield* Effect.forkChild(tok.getToken({ sessionId: "sess_2" }))
          const mine = yield* Effect.forkChild(Effect.exit(tok.getToken()))
          yield* TestClock.adjust("10 millis")
          yield* tok.setSession(null)
          yield* TestClock.adjust("100 millis")
          const token = yield* Fiber.join(other)
          expect(token.sessionId).toBe("sess_2")
          expect(Exit.isFailure(yield* Fiber.join(mine))).toBe(true)
          // The other session's result was cached: the next call is a hit.
          expect((yield* tok.getToken({ sessionId: "sess_2" })).source).toBe("cache")
          expect(source.requests).toHaveLength(2)
        }),
      )
    },
  )

  it.effect("§2.3 a 401 for one explicit session fences only that session's requests", () => {
    const source = makeFakeSource({
      respond: (request) =>
        request.sessionId === "sess_9" ? { fail: { status: 401 }, delayMs: 10 } : { delayMs: 100 },
    })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        const other = yield* Effect.forkChild(tok.getToken({ sessionId: "sess_2" }))
        const ended = yield* Effect.forkChild(Effect.flip(tok.getToken({ sessionId: "sess_9" })))
        yield* TestClock.adjust("100 millis")
        expect((yield* Fiber.join(ended))._tag).toBe("NotSignedInError")
        yield* Fiber.join(other)
        expect((yield* tok.getToken({ sessionId: "sess_2" })).source).toBe("cache")
      }),
    )
  })

  it.effect(
    "§2.3 invalidate with a narrow filter fences and refetches only what it matches",
    () => {
      const source = makeFakeSource({ delayMs: 100 })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watchA = yield* tok.watch({ template: "a" })
          const watchB = yield* tok.watch({ template: "b" })
          watchA.subscribe(() => undefined)
          watchB.subscribe(() => undefined)
          yield* TestClock.adjust("100 millis")
          expect(source.requests).toHaveLength(2)
          const inFlightB = yield* Effect.forkChild(
            tok.getToken({ template: "b", skipCache: true }),
          )
          yield* TestClock.adjust("10 millis")
          expect(inspectClient(tok).requests).toBe(1)
          const seenB = watchB.getSnapshot()
          yield* tok.invalidate({ template: "a" })
          yield* TestClock.adjust("100 millis")
          // Only "a" was refetched by its watcher; the "b" request's result was cached.
          expect(source.requests.filter((r) => r.template === "a")).toHaveLength(2)
          const fresh = yield* Fiber.join(inFlightB)
          expect((yield* tok.getToken({ template: "b" })).jwt).toBe(fresh.jwt)
          // The watcher of "b" was not woken into a request of its own.
          expect(source.requests.filter((r) => r.template === "b")).toHaveLength(2)
          expect(seenB.status).toBe("ready")
        }),
      )
    },
  )
})
