/**
 * Requests in flight at the edges the mutation run found unchecked (issue 21,
 * second round): what a finished request caches and tells (start order wins,
 * a peer's answer included), a JWT answered again, a token that expires as
 * it lands, a 2xx failure, credential codes on a 401, and what a request's
 * end tells events and the log, and a session switch that lands between a
 * request's end and its Effect caller's next turn.
 */
import { describe, expect, it } from "@effect/vitest"
import type * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import {
  createTokenClient,
  TokenClient,
  type TokenEvent,
  TokenSource,
  TokenSourceError,
} from "@tok/core"
import {
  type FakeSource,
  fakeJwt,
  makeFakeSource,
  makeShareHub,
  type ShareHub,
  testClientLayer,
} from "@tok/core/testing"
import { jwtOf, withClient } from "../support.ts"

const nextTick = () => new Promise((resolve) => setTimeout(resolve, 10))

describe("what a finished request caches", () => {
  it.effect("an older request finishing last neither replaces nor hides the newer token", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const watcher = yield* tok.watch({ template: "t" })
        watcher.subscribe(() => undefined)
        yield* TestClock.adjust("10 millis")
        source.enqueue({ delayMs: 200 }, { delayMs: 50 })
        const older = yield* Effect.forkChild(tok.getToken({ template: "t", skipCache: true }))
        yield* TestClock.adjust("10 millis")
        const newer = yield* Effect.forkChild(tok.getToken({ template: "t", skipCache: true }))
        yield* TestClock.adjust("60 millis")
        const fresh = yield* Fiber.join(newer)
        expect(jwtOf(watcher.getSnapshot())).toBe(fresh.jwt)
        yield* TestClock.adjust("200 millis")
        yield* Fiber.join(older)
        expect(jwtOf(watcher.getSnapshot())).toBe(fresh.jwt)
        expect((yield* tok.getToken({ template: "t" })).jwt).toBe(fresh.jwt)
      }),
    )
  })

  it.effect("a JWT answered again keeps the life it was given, and comes back as network", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const jwt = fakeJwt({ iat: 0, exp: 60, sid: "sess_1" })
        source.enqueue({ jwt }, { jwt })
        const first = yield* tok.getToken()
        yield* TestClock.adjust("10 seconds")
        const again = yield* tok.getToken({ skipCache: true })
        expect(again).toMatchObject({ jwt, source: "network", expiresAt: first.expiresAt })
      }),
    )
  })

  it.effect("a JWT answered again the moment it expires is refused as the server's fault", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const jwt = fakeJwt({ iat: 0, exp: 60, sid: "sess_1" })
        source.enqueue({ jwt }, { jwt })
        yield* tok.getToken()
        yield* TestClock.adjust("60 seconds")
        const error = yield* Effect.flip(tok.getToken({ skipCache: true }))
        expect(error).toMatchObject({ _tag: "TokenUnavailableError", reason: "server" })
      }),
    )
  })
})

describe("how a failure is classified", () => {
  it.effect("a 2xx failure of the source is a malformed answer that says why", () => {
    const layer = testClientLayer({
      layer: TokenSource.fromFunction(() =>
        Effect.fail(new TokenSourceError({ status: 200, message: "the answer has no jwt string" })),
      ),
    } as unknown as FakeSource)
    return Effect.gen(function* () {
      const tok = yield* TokenClient.TokenClient
      yield* tok.setSession("sess_1")
      const error = yield* Effect.flip(tok.getToken())
      expect(error._tag).toBe("MalformedTokenError")
      expect(error.message).toContain("the answer has no jwt string")
    }).pipe(Effect.provide(layer))
  })

  it.effect.each([
    "clerk_key_invalid",
    "secret_key_invalid",
    "authorization_header_missing",
    "authorization_header_format_invalid",
    "authorization_invalid",
    "dev_browser_unauthenticated",
  ])("a 401 with %s is a request error, not a sign-out", (code) => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        source.enqueue({ fail: { status: 401, code } })
        const error = yield* Effect.flip(tok.getToken())
        expect(error).toMatchObject({ _tag: "TokenRequestError", status: 401, code })
        expect(yield* tok.session.get).toBe("sess_1")
      }),
    )
  })
})

describe("what a request's end tells", () => {
  it("a request ended by a sign-out is a fenced request-ended event", async () => {
    const source = makeFakeSource({ delayMs: 50 })
    const tok = createTokenClient({ source: source.layer, session: "sess_1" })
    const events: Array<TokenEvent> = []
    tok.events.subscribe((event) => events.push(event))
    const pending = tok.getToken()
    tok.setSession(null)
    expect(await pending).toBeNull()
    await nextTick()
    const ended = events.filter((event) => event.type === "request-ended")
    expect(ended).toHaveLength(1)
    expect(ended[0]).toMatchObject({ fenced: true })
    expect((ended[0] as { error?: unknown }).error).toBeUndefined()
    await tok.dispose()
  })

  it("a source that dies ends its request with a defect, not fenced", async () => {
    const tok = createTokenClient({
      source: TokenSource.fromFunction(() => Effect.die(new Error("a bug in the source"))),
      session: "sess_1",
    })
    const events: Array<TokenEvent> = []
    tok.events.subscribe((event) => events.push(event))
    await expect(tok.getToken()).rejects.toThrow("a bug in the source")
    await nextTick()
    const ended = events.filter((event) => event.type === "request-ended")
    expect(ended).toHaveLength(1)
    expect(ended[0]).toMatchObject({ error: { tag: "Defect", reason: "defect" }, fenced: false })
    await tok.dispose()
  })

  it.effect("only a request that died is logged as one", () => {
    const lines: Array<{ message: unknown; cause: Cause.Cause<unknown> }> = []
    const logger = Logger.make((options) => {
      if (options.logLevel === "Error")
        lines.push({ message: options.message, cause: options.cause })
    })
    const source = makeFakeSource()
    return Effect.gen(function* () {
      const tok = yield* TokenClient.TokenClient
      yield* tok.setSession("sess_1")
      yield* tok.getToken()
      source.enqueue({ fail: { status: 403 } })
      yield* Effect.flip(tok.getToken({ template: "t" }))
      expect(lines).toEqual([])
      source.enqueue({ die: new Error("a bug") })
      yield* Effect.exit(tok.getToken({ template: "u" }))
      expect(lines).toHaveLength(1)
      expect(String(lines[0]!.message)).toContain("a token request died")
    }).pipe(Effect.provide(testClientLayer(source).pipe(Layer.provide(Logger.layer([logger])))))
  })
})

// ---------------------------------------------------------------------------
// A peer's answer to a request (DESIGN §7).

const tab = (source: FakeSource, hub: ShareHub) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      testClientLayer(source).pipe(Layer.provide(hub.layer())),
      scope,
    )
    const tok = Context.get(context, TokenClient.TokenClient)
    yield* tok.setSession("sess_1")
    return { tok, close: Scope.close(scope, Exit.void) }
  })

describe("a peer's answer", () => {
  // A peer's token of a session that is not current is not adopted from the
  // channel: only the request that waited for it caches it. Both are shown.
  it.effect.each([
    { name: "of the current session", key: { template: "t" } },
    {
      name: "of a session other than the current one",
      key: { sessionId: "sess_2", template: "t" },
    },
  ])("$name is cached and shown to the watchers of its key", ({ key }) =>
    Effect.gen(function* () {
      const source = makeFakeSource({ delayMs: 100 })
      const hub = makeShareHub()
      const a = yield* tab(source, hub)
      const b = yield* tab(source, hub)
      const fetching = yield* Effect.forkChild(a.tok.getToken(key))
      yield* TestClock.adjust("10 millis")
      const waiting = yield* Effect.forkChild(b.tok.getToken(key))
      yield* TestClock.adjust("10 millis")
      // B's watcher of the key subscribes while B waits for A's answer.
      const watcher = yield* b.tok.watch(key)
      watcher.subscribe(() => undefined)
      yield* TestClock.adjust("100 millis")
      const token = yield* Fiber.join(fetching)
      expect(yield* Fiber.join(waiting)).toMatchObject({ jwt: token.jwt, source: "peer" })
      expect(source.requests).toHaveLength(1)
      expect(jwtOf(watcher.getSnapshot())).toBe(token.jwt)
      expect(yield* b.tok.getToken(key)).toMatchObject({ jwt: token.jwt, source: "cache" })
      yield* a.close
      yield* b.close
    }),
  )

  it.effect("is not cached when the key was invalidated while waiting", () =>
    Effect.gen(function* () {
      const source = makeFakeSource({ delayMs: 100 })
      const hub = makeShareHub()
      const a = yield* tab(source, hub)
      const b = yield* tab(source, hub)
      const fetching = yield* Effect.forkChild(a.tok.getToken({ template: "t" }))
      yield* TestClock.adjust("10 millis")
      const waiting = yield* Effect.forkChild(b.tok.getToken({ template: "t" }))
      yield* TestClock.adjust("10 millis")
      yield* b.tok.invalidate({ template: "t" })
      yield* TestClock.adjust("30 seconds")
      yield* Fiber.await(fetching)
      yield* Fiber.await(waiting)
      // Nothing of the fenced answer was cached: B asks again.
      const again = yield* Effect.forkChild(b.tok.getToken({ template: "t" }))
      yield* TestClock.adjust("30 seconds")
      expect((yield* Fiber.join(again)).source).not.toBe("cache")
      yield* a.close
      yield* b.close
    }),
  )

  it("is a shared event from a peer", async () => {
    const hub = makeShareHub()
    const source = makeFakeSource({ delayMs: 50 })
    const share = { name: "app", channel: hub.channel, locks: hub.locks }
    const a = createTokenClient({ source: source.layer, session: "sess_1", share })
    const b = createTokenClient({ source: source.layer, session: "sess_1", share })
    const events: Array<TokenEvent> = []
    b.events.subscribe((event) => events.push(event))
    const first = a.getToken({ template: "t" })
    await new Promise((resolve) => setTimeout(resolve, 5))
    const second = await b.getToken({ template: "t" })
    expect(second?.jwt).toBe((await first)?.jwt)
    expect(source.requests).toHaveLength(1)
    // The browser share does not name the tab: every shared event says "peer".
    const shared = events.filter((event) => event.type === "shared")
    expect(shared.length).toBeGreaterThan(0)
    for (const event of shared) {
      expect(event).toMatchObject({ key: { sessionId: "sess_1", template: "t" }, from: "peer" })
    }
    await Promise.all([a.dispose(), b.dispose()])
  })

  it.effect("adopted after an older request of this client started wins over it", () =>
    Effect.gen(function* () {
      const source = makeFakeSource()
      const hub = makeShareHub()
      const a = yield* tab(source, hub)
      const b = yield* tab(source, hub)
      // B's own request (slow) starts first; A's (fast, longer-lived) lands first.
      source.enqueue({ delayMs: 200 }, { delayMs: 0, mint: { lifetimeSeconds: 120 } })
      const own = yield* Effect.forkChild(b.tok.getToken({ template: "t", skipCache: true }))
      yield* TestClock.adjust("10 millis")
      const shared = yield* a.tok.getToken({ template: "t", skipCache: true })
      yield* TestClock.adjust("10 millis")
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 0)))
      yield* TestClock.adjust("300 millis")
      yield* Fiber.join(own)
      expect((yield* b.tok.getToken({ template: "t" })).jwt).toBe(shared.jwt)
      yield* a.close
      yield* b.close
    }),
  )
})

describe("a session switch between a request's end and its caller's turn (§2.3)", () => {
  it.effect("the Effect caller gets the new session's token, never the old one's", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        // A watcher is told of the token as the request ends, before the
        // caller's fiber runs again: it switches the session right there.
        source.enqueue({ delayMs: 100 }, { delayMs: 100 })
        const watcher = yield* tok.watch()
        let switched = false
        watcher.subscribe(() => {
          if (switched || jwtOf(watcher.getSnapshot()) === undefined) return
          switched = true
          Effect.runSync(tok.setSession("sess_2"))
        })
        const caller = yield* Effect.forkChild(tok.getToken())
        yield* TestClock.adjust("100 millis")
        expect(switched).toBe(true)
        yield* TestClock.adjust("100 millis")
        const token = yield* Fiber.join(caller)
        expect(token.sessionId).toBe("sess_2")
        expect(token.claims.sid).toBe("sess_2")
        expect(source.requests.map((request) => request.sessionId)).toEqual(["sess_1", "sess_2"])
      }),
    )
  })
})
