import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import { createTokenClient, Token, TokenClient, TokenSource, TokenSourceError } from "@tok/core"
import {
  fakeJwt,
  inspectClient,
  makeFakeSource,
  makeTestLifecycle,
  testClientLayer,
} from "@tok/core/testing"

const fetchOnce = (source: ReturnType<typeof makeFakeSource>, request: TokenSource.TokenRequest) =>
  Effect.gen(function* () {
    const tokens = yield* TokenSource.TokenSource
    return yield* Effect.exit(tokens.fetch(request))
  }).pipe(Effect.provide(source.layer))

describe("fakeJwt", () => {
  it("makes an unsigned JWT tok decodes", () => {
    const jwt = fakeJwt({ iat: 1, exp: 61, sub: "user_1" })
    expect(jwt.split(".")).toHaveLength(3)
    expect(Token.decodeClaims(jwt)).toEqual({ iat: 1, exp: 61, sub: "user_1" })
  })
})

describe("makeFakeSource", () => {
  it.effect("mints tokens for the request on the Clock, and logs requests and their times", () =>
    Effect.gen(function* () {
      const source = makeFakeSource({ lifetimeSeconds: 30 })
      yield* TestClock.adjust("5 seconds")
      const exit = yield* fetchOnce(source, { sessionId: "s", template: "t", organizationId: "o" })
      const claims = Token.decodeClaims(exit.pipe((e) => (e._tag === "Success" ? e.value : "")))
      expect(claims).toMatchObject({ sid: "s", template: "t", org_id: "o", iat: 5, exp: 35, n: 1 })
      expect(source.requests).toEqual([{ sessionId: "s", template: "t", organizationId: "o" }])
      expect(source.requestTimes).toEqual([5000])
      expect(source.answered).toBe(1)
    }),
  )

  it.effect("answers queued steps first, then `respond`, then mints", () =>
    Effect.gen(function* () {
      const source = makeFakeSource({
        respond: (_request, index) => (index === 1 ? { fail: { status: 503 } } : undefined),
      })
      source.enqueue({ jwt: "queued" })
      const request = { sessionId: "s" }
      const first = yield* fetchOnce(source, request)
      const second = yield* fetchOnce(source, request)
      const third = yield* fetchOnce(source, request)
      expect(first).toMatchObject({ _tag: "Success", value: "queued" })
      expect(second).toMatchObject({ _tag: "Failure" })
      expect(third._tag).toBe("Success")
    }),
  )

  it.effect("fails like a source: status, Retry-After, code; no status = network", () =>
    Effect.gen(function* () {
      const source = makeFakeSource()
      source.enqueue({ fail: { status: 429, retryAfterMs: 10, code: "slow_down" } }, { fail: {} })
      const failOnce = Effect.gen(function* () {
        const tokens = yield* TokenSource.TokenSource
        return yield* Effect.flip(tokens.fetch({ sessionId: "s" }))
      }).pipe(Effect.provide(source.layer))
      const rateLimited = yield* failOnce
      const network = yield* failOnce
      expect(rateLimited).toBeInstanceOf(TokenSourceError)
      expect(rateLimited).toMatchObject({ status: 429, retryAfterMs: 10, code: "slow_down" })
      expect(network.status).toBeUndefined()
    }),
  )

  it.effect("delays answers on the Clock, and hangs until interrupted", () =>
    Effect.gen(function* () {
      const source = makeFakeSource({ delayMs: 1000 })
      source.enqueue({ hang: true })
      const hung = yield* Effect.forkChild(fetchOnce(source, { sessionId: "s" }))
      const delayed = yield* Effect.forkChild(fetchOnce(source, { sessionId: "s" }))
      yield* TestClock.adjust("999 millis")
      expect(source.answered).toBe(0)
      yield* TestClock.adjust("1 millis")
      expect((yield* Fiber.join(delayed))._tag).toBe("Success")
      yield* TestClock.adjust("1 hour")
      expect(hung.pollUnsafe()).toBeUndefined()
      yield* Fiber.interrupt(hung)
    }),
  )

  it.effect("configure changes what follows; reset forgets the log and the queue", () =>
    Effect.gen(function* () {
      const source = makeFakeSource()
      source.enqueue({ jwt: "never used" })
      source.reset()
      source.configure({ serverSkewSeconds: 3600, lifetimeSeconds: 10 })
      const exit = yield* fetchOnce(source, { sessionId: "s" })
      const jwt = exit._tag === "Success" ? exit.value : ""
      expect(Token.decodeClaims(jwt)).toMatchObject({ iat: 3600, exp: 3610 })
      expect(source.requests).toHaveLength(1)
    }),
  )
})

describe("testClientLayer and inspectClient", () => {
  it.effect("runs a TokenClient under TestClock (the module example)", () => {
    const source = makeFakeSource({ lifetimeSeconds: 60 })
    return Effect.gen(function* () {
      const tok = yield* TokenClient.TokenClient
      yield* tok.setSession("sess_1")
      yield* tok.getToken()
      yield* TestClock.adjust("55 seconds")
      yield* tok.getToken()
      expect(source.requests).toHaveLength(2)
      expect(inspectClient(tok)).toEqual({
        fibers: 0,
        requests: 0,
        watchedKeys: 0,
        cachedTokens: 1,
      })
    }).pipe(Effect.provide(testClientLayer(source)))
  })

  it.effect("takes a hand-driven lifecycle", () => {
    const source = makeFakeSource()
    const lifecycle = makeTestLifecycle()
    return Effect.gen(function* () {
      const tok = yield* TokenClient.TokenClient
      yield* tok.setSession("sess_1")
      const watcher = yield* tok.watch()
      watcher.subscribe(() => undefined)
      lifecycle.setVisible(false)
      yield* TestClock.adjust("1 hour")
      expect(source.requests).toHaveLength(1)
    }).pipe(Effect.provide(testClientLayer(source, undefined, lifecycle)))
  })

  it("inspects a Promise-face client too, and refuses anything else", async () => {
    const tok = createTokenClient({ source: makeFakeSource().layer, session: "sess_1" })
    await tok.getToken()
    expect(inspectClient(tok)).toMatchObject({ cachedTokens: 1, watchedKeys: 0 })
    await tok.dispose()
    expect(() => inspectClient({} as never)).toThrow(TypeError)
  })
})
