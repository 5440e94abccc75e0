/**
 * The engine's wiring, seen from outside (issue 21, second round): setting
 * the session it already has, which watchers an `invalidate` wakes, handles
 * of one key sharing one watch, what a client does once disposed, the
 * Promise face's waiters across session changes, and what peers are told.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import {
  createTokenClient,
  InvalidOptionsError,
  type Token,
  TokenClient,
  type TokenEvent,
} from "@tok/core"
import {
  type FakeSource,
  inspectClient,
  makeFakeSource,
  makeShareHub,
  type ShareHub,
  testClientLayer,
} from "@tok/core/testing"
import { jwtOf, settle, withClient } from "../support.ts"

describe("the session", () => {
  it.effect("setting the session it already has keeps its tokens", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const token = yield* tok.getToken()
        yield* tok.setSession("sess_1")
        expect(yield* tok.getToken()).toMatchObject({ jwt: token.jwt, source: "cache" })
        expect(source.requests).toHaveLength(1)
      }),
    )
  })

  it("a session id that is not a string or null is refused with a clear error", async () => {
    const source = makeFakeSource()
    const tok = createTokenClient({ source: source.layer, session: "sess_1" })
    let thrown: unknown
    try {
      tok.setSession(42 as never)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(InvalidOptionsError)
    expect((thrown as InvalidOptionsError).message).toContain(
      "a session id must be a string or null",
    )
    expect(tok.session).toBe("sess_1")
    await tok.dispose()
  })

  const namedHandleAfter = (order: "switch-then-401" | "401-then-switch") => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        // A handle naming sess_2, never subscribed: its snapshot follows the cache.
        const named = yield* tok.watch({ sessionId: "sess_2" })
        const token = yield* tok.getToken({ sessionId: "sess_2" })
        expect(jwtOf(named.getSnapshot())).toBe(token.jwt)
        const switchSession = tok.setSession("sess_3")
        const end401 = Effect.gen(function* () {
          source.enqueue({ fail: { status: 401 } })
          yield* Effect.flip(tok.getToken({ sessionId: "sess_2", skipCache: true }))
        })
        if (order === "switch-then-401") {
          yield* switchSession
          yield* end401
        } else {
          yield* end401
          yield* switchSession
        }
        // Two sessions ended since the snapshot was taken: sess_2's token is gone.
        expect(jwtOf(named.getSnapshot())).toBeUndefined()
      }),
    )
  }

  it.effect("a handle naming a session that ended (after a switch) no longer shows its token", () =>
    namedHandleAfter("switch-then-401"),
  )

  it.effect(
    "a handle naming a session that ended (before a switch) no longer shows its token",
    () => namedHandleAfter("401-then-switch"),
  )
})

describe("watch handles", () => {
  it.effect("two handles of one key share one refresher", () => {
    const source = makeFakeSource({ lifetimeSeconds: 60 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const first = yield* tok.watch()
        const second = yield* tok.watch()
        first.subscribe(() => undefined)
        yield* settle
        const fibers = inspectClient(tok).fibers
        second.subscribe(() => undefined)
        yield* settle
        expect(inspectClient(tok).fibers).toBe(fibers)
        expect(inspectClient(tok).watchedKeys).toBe(1)
        expect(source.requests).toHaveLength(1)
      }),
    )
  })

  it.effect(
    "an unsubscribed handle keeps what its own refresh() brought, an error included",
    () => {
      const source = makeFakeSource()
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watcher = yield* tok.watch({ template: "t" })
          source.enqueue({ fail: { status: 403 } })
          yield* Effect.promise(() => watcher.refresh())
          const state = watcher.getSnapshot()
          expect(state.status).toBe("error")
          expect((state as { error?: { _tag: string } }).error?._tag).toBe("TokenRequestError")
        }),
      )
    },
  )

  it.effect("invalidate wakes the watchers it matches, not the others", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const a = yield* tok.watch({ template: "a" })
        const b = yield* tok.watch({ template: "b" })
        a.subscribe(() => undefined)
        b.subscribe(() => undefined)
        yield* settle
        expect(source.requests).toHaveLength(2)
        yield* tok.invalidate({ template: "b" })
        yield* settle
        expect(source.requests.map((r) => r.template)).toEqual(["a", "b", "b"])
      }),
    )
  })

  it.effect("invalidate with a filter, signed out, leaves a subscribed watcher signed out", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        const watcher = yield* tok.watch()
        const states: Array<string> = []
        watcher.subscribe((state) => states.push(state.status))
        yield* settle
        // A signed-out watcher names no request: the filter is never asked about it.
        for (const filter of [
          { sessionId: "sess_1" },
          { template: "t" },
          { organizationId: "o" },
        ]) {
          yield* tok.invalidate(filter)
        }
        yield* settle
        expect(watcher.getSnapshot().status).toBe("signed-out")
        expect(states.filter((status) => status !== "signed-out")).toEqual([])
        expect(source.requests).toHaveLength(0)
      }),
    )
  })

  it.effect(
    "a refresh() queued behind a fetch in flight resolves when the client is disposed",
    () =>
      Effect.gen(function* () {
        const source = makeFakeSource({ delayMs: 100 })
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(testClientLayer(source), scope)
        const tok = Context.get(context, TokenClient.TokenClient)
        yield* tok.setSession("sess_1")
        const watcher = yield* tok.watch()
        watcher.subscribe(() => undefined)
        yield* TestClock.adjust("10 millis")
        let done = false
        const refreshed = watcher.refresh().then(() => (done = true))
        yield* TestClock.adjust("10 millis")
        yield* Scope.close(scope, Exit.void)
        yield* TestClock.adjust("1 second")
        yield* Effect.promise(() => Promise.race([refreshed, Promise.resolve()]))
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 0)))
        expect(done).toBe(true)
      }),
  )
})

describe("after dispose (Promise face)", () => {
  it("subscribing a watcher starts nothing", async () => {
    const source = makeFakeSource()
    const tok = createTokenClient({ source: source.layer, session: "sess_1" })
    const watcher = tok.watch()
    await tok.dispose()
    watcher.subscribe(() => undefined)
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(inspectClient(tok)).toMatchObject({ fibers: 0, watchedKeys: 0 })
    expect(source.requests).toHaveLength(0)
  })
})

describe("the Promise face across a session change", () => {
  it("a plain getToken() waiting when the session ends resolves null", async () => {
    const source = makeFakeSource({ delayMs: 50 })
    const tok = createTokenClient({ source: source.layer, session: "sess_1" })
    const pending = tok.getToken()
    tok.setSession(null)
    expect(await pending).toBeNull()
    await tok.dispose()
  })

  it("a getToken(options) waiting when the session switches is answered for the new one", async () => {
    const source = makeFakeSource({ delayMs: 50 })
    const tok = createTokenClient({ source: source.layer, session: "sess_1" })
    const pending = tok.getToken({ template: "t" })
    tok.setSession("sess_2")
    expect(await pending).toMatchObject({ sessionId: "sess_2", template: "t" })
    await tok.dispose()
  })
})

describe("refresh events", () => {
  it("a watcher's background fetch is a refresh of its session; its refresh() is not", async () => {
    const source = makeFakeSource()
    const tok = createTokenClient({ source: source.layer, session: "sess_1" })
    const events: Array<TokenEvent> = []
    tok.events.subscribe((event) => events.push(event))
    const watcher = tok.watch({ template: "t" })
    watcher.subscribe(() => undefined)
    await new Promise((resolve) => setTimeout(resolve, 20))
    const refreshes = () => events.filter((event) => event.type === "refresh")
    expect(refreshes()).toHaveLength(1)
    expect(refreshes()[0]).toMatchObject({ key: { sessionId: "sess_1", template: "t" } })
    await watcher.refresh()
    expect(refreshes()).toHaveLength(1)
    expect(source.requests).toHaveLength(2)
    await tok.dispose()
  })
})

// ---------------------------------------------------------------------------
// Peers (DESIGN §7): what a client tells its peers, and what it does with what they tell.

const tab = (
  source: FakeSource,
  hub: ShareHub,
  session: string | null,
  followSessionSwitch = false,
) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      testClientLayer(source, { share: { followSessionSwitch } }).pipe(Layer.provide(hub.layer())),
      scope,
    )
    const tok = Context.get(context, TokenClient.TokenClient)
    yield* tok.setSession(session)
    return { tok, close: Scope.close(scope, Exit.void) }
  })

const told = (hub: ShareHub, tag: string) =>
  hub.posted.filter((post) => {
    const data = post.data as { kind?: string; message?: { _tag?: string } }
    return data.kind === "msg" && data.message?._tag === tag
  })

describe("peers", () => {
  it.effect("a client that does not follow switches does not tell its own", () =>
    Effect.gen(function* () {
      const source = makeFakeSource()
      const hub = makeShareHub()
      const a = yield* tab(source, hub, "sess_1", false)
      const b = yield* tab(source, hub, "sess_1", true)
      yield* a.tok.setSession("sess_2")
      yield* TestClock.adjust(0)
      expect(yield* b.tok.session.get).toBe("sess_1")
      expect(told(hub, "switched")).toHaveLength(0)
      yield* a.close
      yield* b.close
    }),
  )

  it.effect("a switch is followed once, only by a follower on the session left", () =>
    Effect.gen(function* () {
      const source = makeFakeSource()
      const hub = makeShareHub()
      const a = yield* tab(source, hub, "sess_1", true)
      const follower = yield* tab(source, hub, "sess_1", true)
      const other = yield* tab(source, hub, "sess_9", true)
      const notFollowing = yield* tab(source, hub, "sess_1", false)
      yield* a.tok.setSession("sess_2")
      yield* TestClock.adjust(0)
      expect(yield* follower.tok.session.get).toBe("sess_2")
      expect(yield* other.tok.session.get).toBe("sess_9")
      expect(yield* notFollowing.tok.session.get).toBe("sess_1")
      expect(told(hub, "switched")).toHaveLength(1)
      for (const client of [a, follower, other, notFollowing]) yield* client.close
    }),
  )

  it.effect("signing in is not told as a switch", () =>
    Effect.gen(function* () {
      const source = makeFakeSource()
      const hub = makeShareHub()
      const a = yield* tab(source, hub, null, true)
      const b = yield* tab(source, hub, null, true)
      yield* a.tok.setSession("sess_1")
      yield* TestClock.adjust(0)
      expect(yield* b.tok.session.get).toBeNull()
      expect(told(hub, "switched")).toHaveLength(0)
      yield* a.close
      yield* b.close
    }),
  )

  it.effect("a sign-out is told once; the peer that follows it does not tell it again", () =>
    Effect.gen(function* () {
      const source = makeFakeSource()
      const hub = makeShareHub()
      const a = yield* tab(source, hub, "sess_1")
      const b = yield* tab(source, hub, "sess_1")
      yield* a.tok.setSession(null)
      yield* TestClock.adjust(0)
      expect(yield* b.tok.session.get).toBeNull()
      expect(told(hub, "ended")).toHaveLength(1)
      yield* a.close
      yield* b.close
    }),
  )

  it.effect("a 401 is told once", () =>
    Effect.gen(function* () {
      const source = makeFakeSource()
      const hub = makeShareHub()
      const a = yield* tab(source, hub, "sess_1")
      const b = yield* tab(source, hub, "sess_1")
      source.enqueue({ fail: { status: 401 } })
      yield* Effect.flip(a.tok.getToken())
      yield* TestClock.adjust(0)
      expect(yield* a.tok.session.get).toBeNull()
      expect(yield* b.tok.session.get).toBeNull()
      expect(told(hub, "ended")).toHaveLength(1)
      yield* a.close
      yield* b.close
    }),
  )

  it.effect("an invalidate is told with its filter: peers drop only what it names", () =>
    Effect.gen(function* () {
      const source = makeFakeSource()
      const hub = makeShareHub()
      const a = yield* tab(source, hub, "sess_1")
      const b = yield* tab(source, hub, "sess_1")
      yield* b.tok.getToken()
      yield* b.tok.getToken({ template: "t" })
      yield* TestClock.adjust(0)
      yield* a.tok.invalidate({ template: "t" })
      yield* TestClock.adjust(0)
      expect((yield* b.tok.getToken()).source).toBe("cache")
      expect((yield* b.tok.getToken({ template: "t" })).source).toBe("network")
      yield* a.close
      yield* b.close
    }),
  )

  it.effect("a token a peer fetched shows in a watcher of its key, as a peer's", () =>
    Effect.gen(function* () {
      const source = makeFakeSource()
      const hub = makeShareHub()
      const a = yield* tab(source, hub, "sess_1")
      const b = yield* tab(source, hub, "sess_1")
      const watcher = yield* b.tok.watch({ template: "t" })
      const seen: Array<Token.TokenState> = []
      watcher.subscribe((state) => seen.push(state))
      // Ten seconds on, a fresh token outlives the one B holds.
      yield* TestClock.adjust("10 seconds")
      const before = source.requests.length
      const fresh = yield* a.tok.getToken({ template: "t", skipCache: true })
      yield* TestClock.adjust(0)
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 0)))
      yield* TestClock.adjust(0)
      expect(source.requests).toHaveLength(before + 1)
      const state = watcher.getSnapshot() as { token?: Token.Token }
      expect(state.token?.jwt).toBe(fresh.jwt)
      expect(state.token?.source).toBe("peer")
      expect(seen.at(-1)).toMatchObject({ status: "ready", token: { jwt: fresh.jwt } })
      yield* a.close
      yield* b.close
    }),
  )

  it.effect("a switch heard on another session's channel is not followed", () =>
    Effect.gen(function* () {
      const source = makeFakeSource()
      const hub = makeShareHub()
      const follower = yield* tab(source, hub, "sess_9", true)
      const channel = hub.channel("tok:tok-test:sess_9")
      channel.postMessage({
        kind: "msg",
        from: "a-peer",
        message: { _tag: "switched", from: "sess_1", to: "sess_2" },
      })
      yield* TestClock.adjust(0)
      expect(yield* follower.tok.session.get).toBe("sess_9")
      channel.close()
      yield* follower.close
    }),
  )

  it.effect("a peer's token no newer than the one held is ignored", () =>
    Effect.gen(function* () {
      const source = makeFakeSource()
      const hub = makeShareHub()
      const a = yield* tab(source, hub, "sess_1")
      const b = yield* tab(source, hub, "sess_1")
      const held = yield* b.tok.getToken({ template: "t" })
      yield* TestClock.adjust(0)
      // Same virtual second: A's token expires when B's does.
      yield* a.tok.getToken({ template: "t", skipCache: true })
      yield* TestClock.adjust(0)
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 0)))
      expect(yield* b.tok.getToken({ template: "t" })).toMatchObject({
        jwt: held.jwt,
        source: "cache",
      })
      yield* a.close
      yield* b.close
    }),
  )
})

describe("events of the Promise face", () => {
  it("a token adopted from a peer is a shared event of its key, from a peer", async () => {
    const hub = makeShareHub()
    const source = makeFakeSource({ lifetimeSeconds: 60 })
    const share = { name: "app", channel: hub.channel, locks: hub.locks }
    const a = createTokenClient({ source: source.layer, session: "sess_1", share })
    const b = createTokenClient({ source: source.layer, session: "sess_1", share })
    await b.getToken({ template: "t" })
    await new Promise((resolve) => setTimeout(resolve, 10))
    const events: Array<TokenEvent> = []
    b.events.subscribe((event) => events.push(event))
    source.enqueue({ mint: { lifetimeSeconds: 120 } })
    const fresh = await a.getToken({ template: "t", skipCache: true })
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(events.filter((event) => event.type === "shared")).toMatchObject([
      { key: { sessionId: "sess_1", template: "t" }, from: "peer" },
    ])
    expect((await b.getToken({ template: "t" }))?.jwt).toBe(fresh?.jwt)
    await Promise.all([a.dispose(), b.dispose()])
  })

  it("a disposed client tells its listeners nothing more", async () => {
    const source = makeFakeSource({ delayMs: 50 })
    const tok = createTokenClient({ source: source.layer, session: "sess_1" })
    const events: Array<TokenEvent> = []
    tok.events.subscribe((event) => events.push(event))
    const pending = tok.getToken().catch(() => undefined)
    const watcher = tok.watch({ template: "t" })
    watcher.subscribe(() => undefined)
    await new Promise((resolve) => setTimeout(resolve, 5))
    const closing = tok.dispose()
    const told = events.length
    await closing
    await pending
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(events.slice(told)).toEqual([])
  })
})
