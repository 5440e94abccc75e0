import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import { createTokenClient, InvalidOptionsError, TokenClient, TokenShare } from "@tok/core"
import {
  type FakeSource,
  fakeJwt,
  inspectClient,
  makeFakeSource,
  makeShareHub,
  type ShareHub,
  testClientLayer,
} from "@tok/core/testing"

const jwt = fakeJwt({ iat: 1000, exp: 1060, sid: "sess_1" })
const token = (overrides: Record<string, unknown> = {}) => ({
  _tag: "token",
  token: { request: { sessionId: "sess_1" }, jwt, expiresInMillis: 30_000, ...overrides },
})

describe("TokenShare.decodeMessage", () => {
  it("accepts a well-formed token for the key it claims", () => {
    expect(TokenShare.decodeMessage(token())).toEqual({
      _tag: "token",
      token: {
        request: { sessionId: "sess_1", template: undefined, organizationId: undefined },
        jwt,
        expiresInMillis: 30_000,
        from: undefined,
      },
    })
  })

  it.each([
    ["not an object", "token"],
    ["an unknown tag", { _tag: "hello" }],
    ["a JWT that does not decode", token({ jwt: "a.b.c" })],
    ["a JWT that is not a string", token({ jwt: 42 })],
    ["a JWT of another session (sid)", token({ request: { sessionId: "sess_2" } })],
    ["no session", token({ request: {} })],
    ["an empty template", token({ request: { sessionId: "sess_1", template: "" } })],
    ["a remaining life longer than exp − iat", token({ expiresInMillis: 60_001 })],
    ["no remaining life", token({ expiresInMillis: 0 })],
    ["a remaining life that is not a number", token({ expiresInMillis: "30000" })],
    ["an ended message without a session", { _tag: "ended" }],
    ["an invalidated message without a filter", { _tag: "invalidated" }],
    ["an invalidated filter with a number", { _tag: "invalidated", filter: { template: 1 } }],
  ])("ignores %s", (_, message) => {
    expect(TokenShare.decodeMessage(message)).toBeUndefined()
  })

  it("accepts session ends, switches and invalidations", () => {
    expect(TokenShare.decodeMessage({ _tag: "ended", sessionId: "sess_1" })).toEqual({
      _tag: "ended",
      sessionId: "sess_1",
    })
    expect(TokenShare.decodeMessage({ _tag: "switched", from: "a", to: "b" })).toEqual({
      _tag: "switched",
      from: "a",
      to: "b",
    })
    expect(
      TokenShare.decodeMessage({ _tag: "invalidated", filter: { template: "x" } }),
    ).toMatchObject({ _tag: "invalidated", filter: { template: "x" } })
  })
})

const SESSION = "sess_1"

/** K clients ("tabs") on one fake source and one hub, each in a scope of its own. */
const tabs = (
  k: number,
  source: FakeSource,
  hub: ShareHub,
  config?: TokenClient.Config,
  share?: Layer.Layer<never>,
) =>
  Effect.forEach(Array.from({ length: k }), () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        testClientLayer(source, config).pipe(Layer.provide(share ?? hub.layer())),
        scope,
      )
      const tok = Context.get(context, TokenClient.TokenClient)
      yield* tok.setSession(SESSION)
      return { tok, close: Scope.close(scope, Exit.void) }
    }),
  )

const closeAll = (clients: ReadonlyArray<{ close: Effect.Effect<void> }>) =>
  Effect.forEach(clients, (client) => client.close, { discard: true })

/** Every client watches the plain key for `duration`; resolves the request count. */
const watchFor = (k: number, duration: Duration.Input, config?: TokenClient.Config) =>
  Effect.gen(function* () {
    const source = makeFakeSource({ lifetimeSeconds: 60 })
    const clients = yield* tabs(k, source, makeShareHub(), config)
    const stops: Array<() => void> = []
    for (const { tok } of clients) {
      const watcher = yield* tok.watch()
      stops.push(watcher.subscribe(() => undefined))
    }
    yield* TestClock.adjust(duration)
    for (const stop of stops) stop()
    yield* closeAll(clients)
    return source.requests.length
  })

describe("TokenShare between clients (DESIGN §7)", () => {
  it.effect(
    "guarantee 1: 5 peers watching one key for an hour make at most 1.2 × one client's requests",
    () =>
      Effect.gen(function* () {
        const one = yield* watchFor(1, "1 hour")
        const five = yield* watchFor(5, "1 hour")
        expect(one).toBeLessThanOrEqual(75)
        expect(five).toBeLessThanOrEqual(Math.ceil(1.2 * one))
        expect(five).toBeLessThanOrEqual(90)
      }),
  )

  it.effect("with share: false the same 5 clients make 5 times the requests", () =>
    Effect.gen(function* () {
      const one = yield* watchFor(1, "10 minutes")
      const five = yield* watchFor(5, "10 minutes", { share: false })
      expect(five).toBeGreaterThanOrEqual(4.5 * one)
    }),
  )

  it.effect("one peer fetches a key while the others wait for its token (source: peer)", () =>
    Effect.gen(function* () {
      const source = makeFakeSource({ lifetimeSeconds: 60, delayMs: 200 })
      const clients = yield* tabs(3, source, makeShareHub())
      const fibers = yield* Effect.forEach(clients, ({ tok }) => Effect.forkChild(tok.getToken()))
      yield* TestClock.adjust("1 second")
      const tokens = yield* Effect.forEach(fibers, Fiber.join)
      expect(source.requests).toHaveLength(1)
      expect(new Set(tokens.map((token) => token.jwt)).size).toBe(1)
      expect(tokens.map((token) => token.source).sort()).toEqual(["network", "peer", "peer"])
      yield* closeAll(clients)
    }),
  )

  it.effect("a fresh token one client fetched is a cache hit in its peers", () =>
    Effect.gen(function* () {
      const source = makeFakeSource({ lifetimeSeconds: 60 })
      const [a, b] = yield* tabs(2, source, makeShareHub())
      const fetched = yield* a!.tok.getToken()
      yield* TestClock.adjust(0)
      const hit = yield* b!.tok.getToken()
      expect(source.requests).toHaveLength(1)
      expect(hit).toMatchObject({ jwt: fetched.jwt, source: "cache" })
      // Placed on the peer's clock as the fetcher placed it.
      expect(hit.expiresAt).toBe(fetched.expiresAt)
      yield* closeAll([a!, b!])
    }),
  )

  it.effect("a tab opened later asks its peers instead of fetching", () =>
    Effect.gen(function* () {
      const source = makeFakeSource({ lifetimeSeconds: 60 })
      const hub = makeShareHub()
      const [a] = yield* tabs(1, source, hub)
      yield* a!.tok.getToken()
      yield* TestClock.adjust("5 seconds")
      const [late] = yield* tabs(1, source, hub)
      const fiber = yield* Effect.forkChild(late!.tok.getToken())
      yield* TestClock.adjust("1 second")
      const token = yield* Fiber.join(fiber)
      expect(source.requests).toHaveLength(1)
      expect(token.source).toBe("peer")
      expect(token.expiresAt).toBe(55_000 + 5_000) // 60 s from the first fetch at 0
      yield* closeAll([a!, late!])
    }),
  )

  it.effect(
    "guarantee 2: a share that hangs never fails a caller: it fetches on its own within requestTimeout",
    () =>
      Effect.gen(function* () {
        const source = makeFakeSource({ lifetimeSeconds: 60 })
        const hanging = TokenShare.layer({
          ...TokenShare.none,
          kind: "hanging",
          get: () => Effect.never,
          lock: () => Effect.never,
          publish: () => Effect.never,
        })
        const [client] = yield* tabs(1, source, makeShareHub(), { requestTimeout: 1000 }, hanging)
        const fiber = yield* Effect.forkChild(client!.tok.getToken())
        yield* TestClock.adjust("999 millis")
        expect(source.requests).toHaveLength(0)
        yield* TestClock.adjust("1 millis")
        expect(source.requests).toHaveLength(1)
        // Publishing holds the answer at most 250 ms more.
        yield* TestClock.adjust("250 millis")
        const token = yield* Fiber.join(fiber)
        expect(token.source).toBe("network")
        yield* client!.close
      }),
  )

  it.effect("guarantee 2: a share that fails is skipped at once", () =>
    Effect.gen(function* () {
      const source = makeFakeSource({ lifetimeSeconds: 60 })
      const broken = new TokenShare.TokenShareError({ message: "down" })
      const failing = TokenShare.layer({
        ...TokenShare.none,
        kind: "failing",
        get: () => Effect.fail(broken),
        lock: () => Effect.fail(broken),
        publish: () => Effect.fail(broken),
        subscribe: () => Effect.fail(broken),
      })
      const [client] = yield* tabs(1, source, makeShareHub(), undefined, failing)
      const token = yield* client!.tok.getToken()
      expect(token.source).toBe("network")
      yield* client!.close
    }),
  )

  it.effect(
    "guarantee 2: a peer that holds the lock and never answers delays the others by one requestTimeout at most",
    () =>
      Effect.gen(function* () {
        const source = makeFakeSource({ lifetimeSeconds: 60 })
        source.enqueue({ delayMs: 60_000 }) // the first request hangs
        const [a, b] = yield* tabs(2, source, makeShareHub(), {
          requestTimeout: 1000,
          retry: { attempts: 1 },
        })
        yield* Effect.forkChild(a!.tok.getToken())
        yield* TestClock.adjust("10 millis")
        const fiber = yield* Effect.forkChild(b!.tok.getToken())
        yield* TestClock.adjust("1 second")
        const token = yield* Fiber.join(fiber)
        expect(token.source).toBe("network")
        expect(source.requests).toHaveLength(2)
        yield* closeAll([a!, b!])
      }),
  )

  it.effect("a closed client's lock is released: the peer waiting on it fetches at once", () =>
    Effect.gen(function* () {
      const source = makeFakeSource({ lifetimeSeconds: 60 })
      source.enqueue({ delayMs: 60_000 }) // the first request hangs
      const [a, b] = yield* tabs(2, source, makeShareHub(), { requestTimeout: 5000 })
      yield* Effect.forkChild(a!.tok.getToken())
      yield* TestClock.adjust("10 millis")
      const fiber = yield* Effect.forkChild(b!.tok.getToken())
      yield* TestClock.adjust("100 millis")
      expect(source.requests).toHaveLength(1)
      yield* a!.close // the tab holding the lock closes
      yield* TestClock.adjust("10 millis")
      const token = yield* Fiber.join(fiber)
      expect(token.source).toBe("network")
      expect(source.requests).toHaveLength(2)
      yield* b!.close
    }),
  )

  it.effect(
    "a peer's token expires on this client's clock: after a sleep it is refetched, never served",
    () =>
      Effect.gen(function* () {
        const source = makeFakeSource({ lifetimeSeconds: 60 })
        const [a, b] = yield* tabs(2, source, makeShareHub())
        const first = yield* a!.tok.getToken()
        yield* TestClock.adjust(0)
        yield* a!.close
        yield* TestClock.adjust("2 minutes") // the laptop slept
        const token = yield* b!.tok.getToken()
        expect(token.jwt).not.toBe(first.jwt)
        expect(token.source).toBe("network")
        expect(source.requests).toHaveLength(2)
        yield* b!.close
      }),
  )

  it.effect(
    "guarantee 3: a sign-out in one client signs every peer out of that session, with no request",
    () =>
      Effect.gen(function* () {
        const source = makeFakeSource({ lifetimeSeconds: 60 })
        const clients = yield* tabs(3, source, makeShareHub())
        const [a, b, c] = clients
        yield* a!.tok.getToken()
        yield* TestClock.adjust(0)
        const watcher = yield* c!.tok.watch()
        const stop = watcher.subscribe(() => undefined)
        yield* TestClock.adjust(0)
        yield* a!.tok.setSession(null)
        yield* TestClock.adjust(0)
        expect(yield* b!.tok.session.get).toBeNull()
        expect(watcher.getSnapshot()).toEqual({ status: "signed-out" })
        const error = yield* Effect.flip(b!.tok.getToken())
        expect(error._tag).toBe("NotSignedInError")
        expect(source.requests).toHaveLength(1)
        stop()
        yield* closeAll(clients)
      }),
  )

  it.effect("guarantee 3: a 401 in one client signs every peer out of that session", () =>
    Effect.gen(function* () {
      const source = makeFakeSource({ lifetimeSeconds: 60 })
      const [a, b] = yield* tabs(2, source, makeShareHub())
      source.enqueue({ fail: { status: 401 } })
      yield* Effect.flip(a!.tok.getToken())
      yield* TestClock.adjust(0)
      expect(yield* a!.tok.session.get).toBeNull()
      expect(yield* b!.tok.session.get).toBeNull()
      expect(source.requests).toHaveLength(1)
      yield* closeAll([a!, b!])
    }),
  )

  it.effect("guarantee 3: a peer's token for a session this client ended is ignored", () =>
    Effect.gen(function* () {
      const source = makeFakeSource({ lifetimeSeconds: 60 })
      const hub = makeShareHub()
      const [b] = yield* tabs(1, source, hub)
      yield* b!.tok.setSession(null)
      // A late (or forged) token of the ended session, well-formed otherwise.
      const channel = hub.channel(`tok:tok-test:${SESSION}`)
      const jwt = fakeJwt({ iat: 0, exp: 60, sid: SESSION })
      channel.postMessage({
        kind: "msg",
        from: "late-peer",
        message: {
          _tag: "token",
          token: { request: { sessionId: SESSION }, jwt, expiresInMillis: 60_000 },
        },
      })
      yield* TestClock.adjust(0)
      // Asked for that session explicitly, the client fetches rather than use it.
      const token = yield* b!.tok.getToken({ sessionId: SESSION })
      expect(token.jwt).not.toBe(jwt)
      expect(token.source).toBe("network")
      channel.close()
      yield* b!.close
    }),
  )

  it.effect("a switch to another session stays each client's own business", () =>
    Effect.gen(function* () {
      const source = makeFakeSource({ lifetimeSeconds: 60 })
      const [a, b] = yield* tabs(2, source, makeShareHub())
      yield* a!.tok.setSession("sess_2")
      yield* TestClock.adjust(0)
      expect(yield* b!.tok.session.get).toBe(SESSION)
      yield* closeAll([a!, b!])
    }),
  )

  it.effect(
    "with followSessionSwitch a switch in one client switches its peers on the same session",
    () =>
      Effect.gen(function* () {
        const source = makeFakeSource({ lifetimeSeconds: 60 })
        const [a, b] = yield* tabs(2, source, makeShareHub(), {
          share: { followSessionSwitch: true },
        })
        yield* a!.tok.setSession("sess_2")
        yield* TestClock.adjust(0)
        expect(yield* b!.tok.session.get).toBe("sess_2")
        yield* closeAll([a!, b!])
      }),
  )

  it.effect("an invalidate in one client drops the same tokens in its peers", () =>
    Effect.gen(function* () {
      const source = makeFakeSource({ lifetimeSeconds: 60 })
      const [a, b] = yield* tabs(2, source, makeShareHub())
      yield* a!.tok.getToken()
      yield* TestClock.adjust(0)
      expect(inspectClient(b!.tok).cachedTokens).toBe(1)
      yield* a!.tok.invalidate()
      yield* TestClock.adjust(0)
      expect(inspectClient(b!.tok).cachedTokens).toBe(0)
      yield* closeAll([a!, b!])
    }),
  )

  it.effect(
    "guarantee 4: a message that is not a well-formed token for the key it claims is ignored",
    () =>
      Effect.gen(function* () {
        const source = makeFakeSource({ lifetimeSeconds: 60 })
        const hub = makeShareHub()
        const [b] = yield* tabs(1, source, hub)
        const channel = hub.channel(`tok:tok-test:${SESSION}`)
        const now = 0
        const forged = (token: Record<string, unknown>) =>
          channel.postMessage({ kind: "msg", from: "intruder", message: { _tag: "token", token } })
        forged({ request: { sessionId: SESSION }, jwt: "not.a.jwt", expiresInMillis: 30_000 })
        forged({
          request: { sessionId: SESSION },
          jwt: fakeJwt({ iat: now, exp: now + 60, sid: "sess_other" }),
          expiresInMillis: 30_000,
        })
        forged({
          request: { sessionId: SESSION },
          jwt: fakeJwt({ iat: now, exp: now + 60 }),
          expiresInMillis: 3_600_000,
        })
        channel.postMessage("garbage")
        channel.postMessage({ kind: "msg", from: "intruder", message: { _tag: "ended" } })
        yield* TestClock.adjust(0)
        expect(inspectClient(b!.tok).cachedTokens).toBe(0)
        expect(yield* b!.tok.session.get).toBe(SESSION)
        const token = yield* b!.tok.getToken()
        expect(token.source).toBe("network")
        channel.close()
        yield* b!.close
      }),
  )

  it.effect("a local cache hit never touches the share", () =>
    Effect.gen(function* () {
      const source = makeFakeSource({ lifetimeSeconds: 60 })
      const hub = makeShareHub()
      const [a] = yield* tabs(1, source, hub)
      yield* a!.tok.getToken()
      yield* TestClock.adjust(0)
      const before = hub.posted.length
      for (let i = 0; i < 10; i++) yield* a!.tok.getToken()
      expect(hub.posted.length).toBe(before)
      yield* a!.close
    }),
  )
})

describe("sharing on the Promise face", () => {
  it("two clients given a ShareHub's channel and locks share tokens, peers and sign-outs", async () => {
    const hub = makeShareHub()
    const source = makeFakeSource({ lifetimeSeconds: 60 })
    const share = { name: "app", channel: hub.channel, locks: hub.locks }
    const a = createTokenClient({ source: source.layer, session: SESSION, share })
    const b = createTokenClient({ source: source.layer, session: SESSION, share })
    const first = await a.getToken()
    await new Promise((resolve) => setTimeout(resolve, 10))
    const second = await b.getToken()
    expect(second?.jwt).toBe(first?.jwt)
    expect(source.requests).toHaveLength(1)
    expect(await b.peers()).toBe(2)
    a.setSession(null)
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(b.session).toBeNull()
    await Promise.all([a.dispose(), b.dispose()])
  })

  it("a client alone, or with share: false, shares nothing and counts 1", async () => {
    const source = makeFakeSource({ lifetimeSeconds: 60 })
    const tok = createTokenClient({ source: source.layer, session: SESSION, share: false })
    expect(await tok.peers()).toBe(1)
    await tok.dispose()
  })

  it.each([
    ["a string", "yes"],
    ["an empty name", { name: "" }],
    ["a channel that is not a function", { channel: 1 }],
    ["locks without request", { locks: {} }],
    ["a followSessionSwitch that is not a boolean", { followSessionSwitch: "yes" }],
  ])("share as %s is an InvalidOptionsError", (_, share) => {
    const source = makeFakeSource()
    expect(() => createTokenClient({ source: source.layer, share: share as never })).toThrow(
      InvalidOptionsError,
    )
  })
})
