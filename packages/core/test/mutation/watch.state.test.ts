/**
 * A watcher's state at the edges the mutation run found unchecked (issue 21,
 * second round): statuses after a fetch, a second error, a sign-out during
 * the first fetch, a source that dies, transient failures retried, a token
 * another client put in a shared cache, snapshots that stay the same object,
 * unsubscribing a watcher of a disposed client, and a refresh() that fails
 * transiently while the token is good (it waits for the plan, and counts
 * toward the backoff).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import { createTokenClient, Lifecycle, type Token, TokenCache, TokenClient } from "@tok/core"
import { inspectClient, makeFakeSource, makeTestLifecycle } from "@tok/core/testing"
import { jwtOf, settle, withClient } from "../support.ts"

const errorOf = (state: Token.TokenState): string | undefined =>
  (state as { error?: { _tag: string } }).error?._tag

describe("statuses", () => {
  it.effect("a fetched token is ready, for the snapshot and the listener", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const watcher = yield* tok.watch()
        const seen: Array<string> = []
        watcher.subscribe((state) => seen.push(state.status))
        yield* settle
        expect(watcher.getSnapshot().status).toBe("ready")
        yield* Effect.promise(() => watcher.refresh())
        expect(watcher.getSnapshot().status).toBe("ready")
        expect(seen).toEqual(["ready"])
      }),
    )
  })

  it.effect("a second, different error replaces the first", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const watcher = yield* tok.watch({ template: "t" })
        const seen: Array<string | undefined> = []
        watcher.subscribe((state) => seen.push(errorOf(state)))
        yield* settle
        // Both errors keep the valid token the watcher showed.
        source.enqueue({ fail: { status: 403 } }, { fail: { status: 404 } })
        yield* Effect.promise(() => watcher.refresh())
        expect(errorOf(watcher.getSnapshot())).toBe("TokenRequestError")
        yield* Effect.promise(() => watcher.refresh())
        expect(errorOf(watcher.getSnapshot())).toBe("TemplateNotFoundError")
        expect(seen.at(-1)).toBe("TemplateNotFoundError")
      }),
    )
  })

  it.effect("signing out during the first fetch shows signed-out", () => {
    const source = makeFakeSource({ delayMs: 100 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const watcher = yield* tok.watch()
        watcher.subscribe(() => undefined)
        yield* TestClock.adjust("10 millis")
        expect(watcher.getSnapshot().status).toBe("loading")
        yield* tok.setSession(null)
        expect(watcher.getSnapshot().status).toBe("signed-out")
      }),
    )
  })

  it.effect("a signed-out watcher's refresh() never shows loading", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        const watcher = yield* tok.watch()
        const seen: Array<string> = []
        watcher.subscribe((state) => seen.push(state.status))
        yield* settle
        yield* Effect.promise(() => watcher.refresh())
        yield* settle
        expect(seen).not.toContain("loading")
        expect(watcher.getSnapshot().status).toBe("signed-out")
        expect(source.requests).toHaveLength(0)
      }),
    )
  })

  it.effect("a bad session id is never shown as a token (whatever it is)", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("")
        const watcher = yield* tok.watch()
        expect(watcher.getSnapshot().status).not.toBe("ready")
        expect(jwtOf(watcher.getSnapshot())).toBeUndefined()
      }),
    )
  })
})

describe("failures", () => {
  it.effect("a source that dies leaves the state, parks, and a refresh() recovers", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        source.enqueue({ die: new Error("a bug in the source") })
        const watcher = yield* tok.watch()
        watcher.subscribe(() => undefined)
        yield* settle
        expect(watcher.getSnapshot().status).toBe("loading")
        yield* TestClock.adjust("1 minute")
        expect(source.requests).toHaveLength(1)
        yield* Effect.promise(() => watcher.refresh())
        expect(watcher.getSnapshot().status).toBe("ready")
      }),
    )
  })

  it.effect("an unavailable server is retried on the backoff", () => {
    const source = makeFakeSource()
    return withClient(
      source,
      (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          source.enqueue({ fail: { status: 503 } }, { fail: { status: 503 } })
          const watcher = yield* tok.watch()
          watcher.subscribe(() => undefined)
          yield* settle
          expect(errorOf(watcher.getSnapshot())).toBe("TokenUnavailableError")
          yield* TestClock.adjust("30 seconds")
          expect(watcher.getSnapshot().status).toBe("ready")
        }),
      { retry: { attempts: 1 } },
    )
  })
})

describe("snapshots of a handle nobody subscribes", () => {
  it.effect("stay the same object while nothing changes", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        yield* tok.getToken()
        const watcher = yield* tok.watch()
        const first = watcher.getSnapshot()
        expect(first.status).toBe("ready")
        expect(watcher.getSnapshot()).toBe(first)
      }),
    )
  })

  it.effect("keep an error when another session ends", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const watcher = yield* tok.watch({ template: "t" })
        source.enqueue({ fail: { status: 403 } })
        yield* Effect.promise(() => watcher.refresh())
        expect(errorOf(watcher.getSnapshot())).toBe("TokenRequestError")
        source.enqueue({ fail: { status: 401 } })
        yield* Effect.flip(tok.getToken({ sessionId: "sess_2" }))
        expect(errorOf(watcher.getSnapshot())).toBe("TokenRequestError")
      }),
    )
  })
})

describe("a cache shared by two clients", () => {
  it.effect("a token the other client put there shows at the watcher's next turn", () =>
    Effect.gen(function* () {
      const source = makeFakeSource()
      const cache = TokenCache.make()
      const lifecycle = makeTestLifecycle()
      const client = (life: Lifecycle.TestLifecycle) =>
        Effect.gen(function* () {
          const scope = yield* Scope.make()
          const context = yield* Layer.buildWithScope(
            TokenClient.layerWithoutDefaults().pipe(
              Layer.provide(
                Layer.mergeAll(
                  source.layer,
                  Layer.succeed(TokenCache.TokenCache, cache),
                  Lifecycle.layerTest(life),
                ),
              ),
            ),
            scope,
          )
          const tok = Context.get(context, TokenClient.TokenClient)
          yield* tok.setSession("sess_1")
          return { tok, close: Scope.close(scope, Exit.void) }
        })
      const a = yield* client(makeTestLifecycle())
      const b = yield* client(lifecycle)
      const watcher = yield* b.tok.watch()
      watcher.subscribe(() => undefined)
      yield* settle
      const before = jwtOf(watcher.getSnapshot())
      yield* TestClock.adjust("10 seconds")
      const fresh = yield* a.tok.getToken({ skipCache: true })
      expect(fresh.jwt).not.toBe(before)
      const requests = source.requests.length
      lifecycle.focus()
      yield* settle
      expect(watcher.getSnapshot()).toMatchObject({ status: "ready", token: { jwt: fresh.jwt } })
      expect(source.requests).toHaveLength(requests)
      yield* a.close
      yield* b.close
    }),
  )
})

describe("after dispose", () => {
  it("a watcher subscribed and unsubscribed does nothing", async () => {
    const source = makeFakeSource()
    const tok = createTokenClient({ source: source.layer, session: "sess_1" })
    const watcher = tok.watch()
    await tok.dispose()
    const leave = watcher.subscribe(() => undefined)
    expect(() => leave()).not.toThrow()
    expect(inspectClient(tok)).toMatchObject({ fibers: 0, watchedKeys: 0 })
  })
})

describe("a refresh that fails transiently while the token is still good", () => {
  it.effect(
    "waits for the plan, and counts toward the backoff when the planned one fails too",
    () => {
      // An hour-long token: its planned refresh is about 59 minutes away.
      const source = makeFakeSource({ lifetimeSeconds: 3_600 })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watcher = yield* tok.watch()
          watcher.subscribe(() => undefined)
          yield* settle
          // Two rounds of four attempts answer 503 (refresh(), then the planned
          // refresh); the requests after them mint.
          source.configure({
            respond: (_, index) =>
              index >= 1 && index <= 8 ? { fail: { status: 503 } } : undefined,
          })
          void watcher.refresh()
          yield* TestClock.adjust("4 seconds")
          expect(source.requests).toHaveLength(5)
          expect(errorOf(watcher.getSnapshot())).toBe("TokenUnavailableError")
          expect(jwtOf(watcher.getSnapshot())).toBeDefined()
          // The token is good: nothing more until its plan, however long.
          yield* TestClock.adjust("30 minutes")
          expect(source.requests).toHaveLength(5)
          yield* TestClock.adjust("1 hour")
          expect(source.requests).toHaveLength(10)
          expect(watcher.getSnapshot().status).toBe("ready")
          // The planned round failed as the second in a row: 10–12 s of backoff
          // after it (a first failure would wait 5–6 s).
          const times = source.requestTimes
          expect(times[9]! - times[8]!).toBeGreaterThanOrEqual(10_000)
          expect(times[9]! - times[8]!).toBeLessThanOrEqual(12_010)
        }),
      )
    },
  )
})
