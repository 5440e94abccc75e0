import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import type { Token, TokenClient, TokenState, TokenWatcher } from "@tok/core"
import {
  type FakeStep,
  fakeJwt,
  inspectClient,
  makeFakeSource,
  makeTestLifecycle,
} from "@tok/core/testing"
import { settle, withClient } from "./support.ts"

/** Subscribes `count` listeners to `watcher`; returns the states each saw and the unsubscribes. */
const subscribeMany = (watcher: TokenWatcher, count: number) => {
  const seen: Array<Array<TokenState>> = []
  const stops = Array.from({ length: count }, (_, i) => {
    seen[i] = []
    return watcher.subscribe((state) => seen[i]!.push(state))
  })
  return { seen, stop: () => stops.forEach((stop) => stop()) }
}

interface ReadLog {
  reads: number
  misses: number
  minValidityMs: number
  expired: number
}

/**
 * Every virtual second for `seconds` seconds, `readers` readers each read the
 * key once with `getToken` (in one fiber per second, so a reader that has to
 * wait never holds the clock) and check the snapshot.
 */
const readEverySecond = (
  tok: TokenClient.Service,
  watchers: ReadonlyArray<TokenWatcher>,
  options: TokenClient.GetTokenOptions | undefined,
  seconds: number,
) =>
  Effect.gen(function* () {
    const log: ReadLog = { reads: 0, misses: 0, minValidityMs: Infinity, expired: 0 }
    const check = (token: Token.Token, now: number) => {
      log.reads++
      if (token.source !== "cache") log.misses++
      log.minValidityMs = Math.min(log.minValidityMs, token.expiresAt - now)
      if (token.expiresAt <= now) log.expired++
    }
    const pending: Array<Fiber.Fiber<void, unknown>> = []
    for (let second = 0; second < seconds; second++) {
      const fiber = yield* Effect.forkChild(
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          for (const watcher of watchers) {
            const state = watcher.getSnapshot()
            const token = (state as { token?: Token.Token }).token
            if (token !== undefined && token.expiresAt <= now) log.expired++
            const read = yield* tok.getToken(options)
            check(read, yield* Clock.currentTimeMillis)
          }
        }),
      )
      if (fiber.pollUnsafe() === undefined) pending.push(fiber)
      if (second < seconds - 1) yield* TestClock.adjust("1 second")
    }
    yield* TestClock.adjust("1 minute")
    yield* Effect.forEach(pending, Fiber.join)
    return log
  })

const HOUR = 3600

/** The requests made in the first `seconds` seconds of virtual time. */
const requestsWithin = (times: ReadonlyArray<number>, seconds: number) =>
  times.filter((t) => t < seconds * 1000)

describe("§2.4 minimal traffic", () => {
  it.effect(
    "1,000 subscribed readers of one key for an hour cost at most 75 requests, every read a hit with ≥ 10 s left",
    () => {
      const source = makeFakeSource({ lifetimeSeconds: 60 })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watchers = yield* Effect.forEach(Array.from({ length: 1000 }), () => tok.watch())
          const { seen, stop } = subscribeMany(watchers[0]!, 1)
          for (const watcher of watchers.slice(1)) watcher.subscribe(() => undefined)
          yield* settle
          // The first subscriber fetched at once: readers start on a warm key.
          expect(source.requests).toHaveLength(1)
          const log = yield* readEverySecond(tok, watchers, undefined, HOUR)
          expect(requestsWithin(source.requestTimes, HOUR).length).toBeLessThanOrEqual(75)
          expect(log.reads).toBe(1000 * HOUR)
          expect(log.misses).toBe(0)
          expect(log.expired).toBe(0)
          expect(log.minValidityMs).toBeGreaterThanOrEqual(10_000)
          // A background refresh keeps `ready`: never `loading` once a token was had.
          const statuses = seen[0]!.map((state) => state.status)
          expect(statuses.filter((s) => s !== "ready")).toEqual([])
          stop()
        }),
      )
    },
    120_000,
  )

  it.effect(
    "with refreshJitter: 0 one key costs exactly 72 requests an hour",
    () => {
      const source = makeFakeSource({ lifetimeSeconds: 60 })
      return withClient(
        source,
        (tok) =>
          Effect.gen(function* () {
            yield* tok.setSession("sess_1")
            const watchers = yield* Effect.forEach(Array.from({ length: 1000 }), () => tok.watch())
            for (const watcher of watchers) watcher.subscribe(() => undefined)
            const log = yield* readEverySecond(tok, watchers, undefined, HOUR)
            expect(requestsWithin(source.requestTimes, HOUR)).toHaveLength(72)
            expect(log.expired).toBe(0)
            expect(log.minValidityMs).toBeGreaterThanOrEqual(10_000)
          }),
        { refreshJitter: 0 },
      )
    },
    120_000,
  )

  it.effect(
    "with refreshJitter: 0 readers that reach the boundary join the refresh in flight",
    () => {
      const source = makeFakeSource({ lifetimeSeconds: 60, delayMs: 1500 })
      return withClient(
        source,
        (tok) =>
          Effect.gen(function* () {
            yield* tok.setSession("sess_1")
            const watchers = yield* Effect.forEach(Array.from({ length: 100 }), () => tok.watch())
            for (const watcher of watchers) watcher.subscribe(() => undefined)
            yield* TestClock.adjust("1500 millis")
            const log = yield* readEverySecond(tok, watchers, undefined, 600)
            expect(requestsWithin(source.requestTimes, 600).length).toBeLessThanOrEqual(600 / 50)
            expect(log.misses).toBeGreaterThan(0)
            expect(log.expired).toBe(0)
          }),
        { refreshJitter: 0 },
      )
    },
    120_000,
  )

  it.effect(
    "watchers of 3 templates for an hour cost at most 75 requests each",
    () => {
      const source = makeFakeSource({ lifetimeSeconds: 60 })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const templates = ["a", "b", "c"]
          for (const template of templates) {
            const watcher = yield* tok.watch({ template })
            watcher.subscribe(() => undefined)
          }
          for (let second = 0; second < HOUR; second++) {
            for (const template of templates) {
              const token = yield* tok.getToken({ template })
              expect(token.source).toBe("cache")
            }
            yield* TestClock.adjust("1 second")
          }
          for (const template of templates) {
            const count = source.requests.filter((r) => r.template === template).length
            expect(count).toBeGreaterThanOrEqual(72)
            expect(count).toBeLessThanOrEqual(75)
          }
        }),
      )
    },
    120_000,
  )

  it.effect(
    "with a flaky source (1 request in 5 fails) no reader ever gets an expired token",
    () => {
      const source = makeFakeSource({
        lifetimeSeconds: 60,
        respond: (_request, index) => (index % 5 === 4 ? { fail: { status: 503 } } : undefined),
      })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watchers = yield* Effect.forEach(Array.from({ length: 100 }), () => tok.watch())
          const { seen } = subscribeMany(watchers[0]!, 1)
          for (const watcher of watchers.slice(1)) watcher.subscribe(() => undefined)
          const log = yield* readEverySecond(tok, watchers, undefined, HOUR)
          expect(log.expired).toBe(0)
          expect(log.minValidityMs).toBeGreaterThanOrEqual(10_000)
          expect(source.requests.filter((_, i) => i % 5 === 4).length).toBeGreaterThan(10)
          for (const state of seen[0]!) {
            expect(state.status).not.toBe("signed-out")
          }
        }),
      )
    },
    120_000,
  )
})

describe("watch", () => {
  it.effect(
    "the first subscriber starts a fetch at once; subscribe never calls the listener synchronously",
    () => {
      const source = makeFakeSource()
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watcher = yield* tok.watch()
          expect(source.requests).toHaveLength(0)
          expect(watcher.getSnapshot().status).toBe("loading")
          const calls: Array<TokenState> = []
          watcher.subscribe((state) => calls.push(state))
          expect(calls).toEqual([])
          expect(source.requests).toHaveLength(1)
          expect(watcher.getSnapshot().status).toBe("ready")
        }),
      )
    },
  )

  it.effect(
    "creating a handle makes no request; reading it before subscribing follows the cache",
    () => {
      const source = makeFakeSource()
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          const watcher = yield* tok.watch({ template: "a" })
          expect(watcher.getSnapshot()).toEqual({ status: "signed-out" })
          yield* tok.setSession("sess_1")
          expect(watcher.getSnapshot()).toEqual({ status: "loading" })
          const token = yield* tok.getToken({ template: "a" })
          expect(watcher.getSnapshot()).toMatchObject({
            status: "ready",
            token: { jwt: token.jwt },
          })
          expect(source.requests).toHaveLength(1)
          expect(inspectClient(tok).watchedKeys).toBe(0)
        }),
      )
    },
  )

  it.effect("handles of one key and buffer share one refresher", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const a = yield* tok.watch({ template: "t" })
        const b = yield* tok.watch({ template: "t", organizationId: "" })
        const stopA = a.subscribe(() => undefined)
        const stopB = b.subscribe(() => undefined)
        expect(inspectClient(tok).watchedKeys).toBe(1)
        yield* TestClock.adjust("10 minutes")
        expect(source.requests.length).toBeLessThanOrEqual(Math.ceil(600 / 48) + 1)
        stopA()
        expect(inspectClient(tok).watchedKeys).toBe(1)
        stopB()
        expect(inspectClient(tok).watchedKeys).toBe(0)
      }),
    )
  })

  it.effect("a watcher's expirationBuffer sets its refresh point", () => {
    const source = makeFakeSource({ lifetimeSeconds: 60 })
    return withClient(
      source,
      (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watcher = yield* tok.watch({ expirationBuffer: 30 })
          watcher.subscribe(() => undefined)
          yield* TestClock.adjust("29 seconds")
          expect(source.requests).toHaveLength(1)
          yield* TestClock.adjust("1 second")
          expect(source.requests).toHaveLength(2)
          yield* TestClock.adjust("29 seconds")
          expect(source.requests).toHaveLength(2)
          yield* TestClock.adjust("1 second")
          expect(source.requests).toHaveLength(3)
        }),
      { refreshJitter: 0 },
    )
  })

  it.effect("the refresh fires at expiresAt − buffer − L with L in [J/2, J]", () => {
    const source = makeFakeSource({ lifetimeSeconds: 60 })
    return withClient(
      source,
      (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watcher = yield* tok.watch()
          watcher.subscribe(() => undefined)
          yield* TestClock.adjust("1 hour")
          const times = source.requestTimes
          for (let i = 1; i < times.length; i++) {
            const gap = times[i]! - times[i - 1]!
            expect(gap).toBeGreaterThanOrEqual(60_000 - 10_000 - 4_000)
            expect(gap).toBeLessThanOrEqual(60_000 - 10_000 - 2_000)
          }
        }),
      { refreshJitter: 4000 },
    )
  })

  it.effect("a token living less than buffer + J is refreshed at half its life", () => {
    const source = makeFakeSource({ lifetimeSeconds: 8 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const watcher = yield* tok.watch()
        watcher.subscribe(() => undefined)
        expect(watcher.getSnapshot().status).toBe("ready")
        yield* TestClock.adjust("3999 millis")
        expect(source.requests).toHaveLength(1)
        yield* TestClock.adjust("1 millis")
        expect(source.requests).toHaveLength(2)
        yield* TestClock.adjust("1 minute")
        expect(source.requests).toHaveLength(17)
        expect(watcher.getSnapshot().status).toBe("ready")
      }),
    )
  })

  it.effect("unsubscribing the last watcher stops every fiber and timer of the key", () => {
    const source = makeFakeSource({ lifetimeSeconds: 60 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const watchers = yield* Effect.forEach([1, 2, 3], () => tok.watch({ template: "a" }))
        const stops = watchers.map((w) => w.subscribe(() => undefined))
        yield* TestClock.adjust("5 minutes")
        const before = source.requests.length
        expect(before).toBeGreaterThan(5)
        stops.forEach((stop) => stop())
        yield* settle
        expect(inspectClient(tok)).toMatchObject({ fibers: 0, requests: 0, watchedKeys: 0 })
        yield* TestClock.adjust("3 hours")
        expect(source.requests).toHaveLength(before)
        expect(inspectClient(tok).fibers).toBe(0)
      }),
    )
  })

  it.effect(
    "unsubscribing during a refresh in flight stops it too; the request still fills the cache",
    () => {
      const source = makeFakeSource({ lifetimeSeconds: 60 })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watcher = yield* tok.watch()
          const stop = watcher.subscribe(() => undefined)
          source.configure({ delayMs: 5000 })
          yield* TestClock.adjust("49 seconds")
          expect(source.requests).toHaveLength(2)
          stop()
          yield* TestClock.adjust("5 seconds")
          expect(inspectClient(tok)).toMatchObject({ fibers: 0, requests: 0, watchedKeys: 0 })
          expect(source.answered).toBe(2)
          expect((yield* tok.getToken()).source).toBe("cache")
          yield* TestClock.adjust("2 hours")
          expect(source.requests).toHaveLength(2)
        }),
      )
    },
  )

  it.effect("resubscribing after the last unsubscribe starts again", () => {
    const source = makeFakeSource({ lifetimeSeconds: 60 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const watcher = yield* tok.watch()
        watcher.subscribe(() => undefined)()
        yield* TestClock.adjust("2 minutes")
        expect(source.requests).toHaveLength(1)
        const stop = watcher.subscribe(() => undefined)
        expect(source.requests).toHaveLength(2)
        yield* TestClock.adjust("2 minutes")
        expect(source.requests.length).toBeGreaterThanOrEqual(4)
        stop()
      }),
    )
  })

  describe("lifecycle", () => {
    it.effect(
      "no background refresh while hidden; visible again with a near-expiry token refreshes",
      () => {
        const source = makeFakeSource({ lifetimeSeconds: 60 })
        const lifecycle = makeTestLifecycle()
        return withClient(
          source,
          (tok) =>
            Effect.gen(function* () {
              yield* tok.setSession("sess_1")
              const watcher = yield* tok.watch()
              watcher.subscribe(() => undefined)
              lifecycle.setVisible(false)
              yield* TestClock.adjust("55 seconds")
              expect(source.requests).toHaveLength(1)
              expect(watcher.getSnapshot().status).toBe("ready")
              lifecycle.setVisible(true)
              yield* settle
              expect(source.requests).toHaveLength(2)
              expect(watcher.getSnapshot()).toMatchObject({ status: "ready" })
            }),
          undefined,
          lifecycle,
        )
      },
    )

    it.effect("visible again with a fresh token does not refresh early", () => {
      const source = makeFakeSource({ lifetimeSeconds: 60 })
      const lifecycle = makeTestLifecycle()
      return withClient(
        source,
        (tok) =>
          Effect.gen(function* () {
            yield* tok.setSession("sess_1")
            const watcher = yield* tok.watch()
            watcher.subscribe(() => undefined)
            lifecycle.setVisible(false)
            yield* TestClock.adjust("10 seconds")
            lifecycle.setVisible(true)
            lifecycle.focus()
            yield* settle
            expect(source.requests).toHaveLength(1)
            yield* TestClock.adjust("40 seconds")
            expect(source.requests).toHaveLength(2)
          }),
        undefined,
        lifecycle,
      )
    })

    it.effect("offline pauses background refresh; online resumes it", () => {
      const source = makeFakeSource({ lifetimeSeconds: 60 })
      const lifecycle = makeTestLifecycle()
      return withClient(
        source,
        (tok) =>
          Effect.gen(function* () {
            yield* tok.setSession("sess_1")
            const watcher = yield* tok.watch()
            watcher.subscribe(() => undefined)
            lifecycle.setOnline(false)
            yield* TestClock.adjust("2 minutes")
            expect(source.requests).toHaveLength(1)
            // Past expiry: never shown, and not refreshed in the background either.
            expect(watcher.getSnapshot().status).toBe("loading")
            lifecycle.setOnline(true)
            yield* settle
            expect(source.requests).toHaveLength(2)
            expect(watcher.getSnapshot().status).toBe("ready")
          }),
        undefined,
        lifecycle,
      )
    })

    it.effect("hidden at subscribe, with no token yet, still fetches", () => {
      const source = makeFakeSource({ lifetimeSeconds: 60 })
      const lifecycle = makeTestLifecycle()
      lifecycle.setVisible(false)
      return withClient(
        source,
        (tok) =>
          Effect.gen(function* () {
            yield* tok.setSession("sess_1")
            const watcher = yield* tok.watch()
            watcher.subscribe(() => undefined)
            expect(source.requests).toHaveLength(1)
            expect(watcher.getSnapshot().status).toBe("ready")
          }),
        undefined,
        lifecycle,
      )
    })
  })

  it.effect("autoRefresh: false fetches on subscribe and on session change only", () => {
    const source = makeFakeSource({ lifetimeSeconds: 60 })
    const lifecycle = makeTestLifecycle()
    return withClient(
      source,
      (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watcher = yield* tok.watch()
          watcher.subscribe(() => undefined)
          expect(source.requests).toHaveLength(1)
          yield* TestClock.adjust("1 hour")
          lifecycle.focus()
          expect(watcher.getSnapshot()).toEqual({ status: "loading" })
          yield* settle
          expect(source.requests).toHaveLength(1)
          yield* tok.setSession("sess_2")
          expect(source.requests).toHaveLength(2)
          expect(watcher.getSnapshot().status).toBe("ready")
          yield* TestClock.adjust("1 hour")
          expect(source.requests).toHaveLength(2)
          yield* Effect.promise(() => watcher.refresh())
          expect(source.requests).toHaveLength(3)
          expect(watcher.getSnapshot().status).toBe("ready")
        }),
      { autoRefresh: false },
      lifecycle,
    )
  })

  describe("sessions", () => {
    it.effect("sign-out reaches every watcher at once as signed-out", () => {
      const source = makeFakeSource()
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watchers = yield* Effect.forEach(["a", "b", undefined], (template) =>
            tok.watch({ template }),
          )
          const { seen } = subscribeMany(watchers[0]!, 1)
          for (const watcher of watchers) watcher.subscribe(() => undefined)
          yield* tok.setSession(null)
          for (const watcher of watchers) {
            expect(watcher.getSnapshot()).toEqual({ status: "signed-out" })
          }
          expect(seen[0]!.at(-1)).toEqual({ status: "signed-out" })
          yield* TestClock.adjust("1 hour")
          expect(source.requests).toHaveLength(3)
        }),
      )
    })

    it.effect("a switch goes loading → ready for the new session, for every watcher", () => {
      const source = makeFakeSource({ delayMs: 100 })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watchers = yield* Effect.forEach(["a", "b"], (template) => tok.watch({ template }))
          const seen = watchers.map((watcher) => subscribeMany(watcher, 1).seen[0]!)
          yield* TestClock.adjust("100 millis")
          yield* tok.setSession("sess_2")
          yield* TestClock.adjust("100 millis")
          for (const states of seen) {
            expect(states.map((s) => s.status)).toEqual(["ready", "loading", "ready"])
            expect((states.at(-1) as { token: Token.Token }).token.sessionId).toBe("sess_2")
          }
        }),
      )
    })

    it.effect("a 401 signs out and every watcher sees signed-out", () => {
      const source = makeFakeSource({ lifetimeSeconds: 60 })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const a = yield* tok.watch()
          const b = yield* tok.watch({ template: "b" })
          a.subscribe(() => undefined)
          b.subscribe(() => undefined)
          source.configure({ respond: () => ({ fail: { status: 401 } }) })
          yield* TestClock.adjust("1 minute")
          expect(yield* tok.session.get).toBe(null)
          expect(a.getSnapshot()).toEqual({ status: "signed-out" })
          expect(b.getSnapshot()).toEqual({ status: "signed-out" })
          const requests = source.requests.length
          yield* TestClock.adjust("1 hour")
          expect(source.requests).toHaveLength(requests)
        }),
      )
    })

    it.effect("a watcher of an explicit session ignores the current session", () => {
      const source = makeFakeSource()
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          const watcher = yield* tok.watch({ sessionId: "sess_9" })
          watcher.subscribe(() => undefined)
          expect(watcher.getSnapshot()).toMatchObject({
            status: "ready",
            token: { sessionId: "sess_9" },
          })
          yield* tok.setSession("sess_1")
          yield* tok.setSession(null)
          expect(watcher.getSnapshot().status).toBe("ready")
        }),
      )
    })
  })

  it.effect("an error keeps the last valid token, and drops it once expired", () => {
    const source = makeFakeSource({ lifetimeSeconds: 60 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const watcher = yield* tok.watch()
        watcher.subscribe(() => undefined)
        const token = (watcher.getSnapshot() as { token: Token.Token }).token
        source.configure({ respond: () => ({ fail: { status: 403 } }) })
        yield* TestClock.adjust("49 seconds")
        const state = watcher.getSnapshot()
        expect(state).toMatchObject({ status: "error", error: { _tag: "TokenRequestError" } })
        expect((state as { token?: Token.Token }).token?.jwt).toBe(token.jwt)
        yield* TestClock.adjust("11 seconds")
        const after = watcher.getSnapshot()
        expect(after.status).toBe("error")
        expect((after as { token?: Token.Token }).token).toBeUndefined()
      }),
    )
  })

  it.effect("a permanently failed background refresh waits for a trigger, then tries once", () => {
    const source = makeFakeSource({ lifetimeSeconds: 60 })
    return withClient(
      source,
      (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watcher = yield* tok.watch()
          watcher.subscribe(() => undefined)
          source.enqueue({ fail: { status: 403 } })
          yield* TestClock.adjust("50 seconds")
          expect(source.requests).toHaveLength(2)
          expect(watcher.getSnapshot().status).toBe("error")
          yield* TestClock.adjust("1 hour")
          expect(source.requests).toHaveLength(2)
          yield* Effect.promise(() => watcher.refresh())
          expect(source.requests).toHaveLength(3)
          expect(watcher.getSnapshot().status).toBe("ready")
        }),
      { refreshJitter: 0, retry: { maxDelay: 2000 } },
    )
  })

  it.effect("getSnapshot never returns an expired token, even when the refresher is late", () => {
    const source = makeFakeSource({ lifetimeSeconds: 60 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const watcher = yield* tok.watch()
        const seen: Array<TokenState> = []
        watcher.subscribe((state) => seen.push(state))
        // The refresh hangs: nothing replaces the token before it expires.
        source.configure({ respond: () => ({ hang: true }) })
        yield* TestClock.adjust("59999 millis")
        expect(watcher.getSnapshot().status).toBe("ready")
        yield* TestClock.adjust("1 millis")
        expect(watcher.getSnapshot()).toEqual({ status: "loading" })
        yield* Effect.promise(() => Promise.resolve())
        expect(seen.at(-1)).toEqual({ status: "loading" })
      }),
    )
  })

  it.effect(
    "refresh() starts a skipCache fetch and resolves once its result is in the state",
    () => {
      const source = makeFakeSource({ delayMs: 100 })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watcher = yield* tok.watch()
          watcher.subscribe(() => undefined)
          yield* TestClock.adjust("100 millis")
          const before = (watcher.getSnapshot() as { token: Token.Token }).token
          let done = false
          const refreshed = watcher.refresh().then(() => (done = true))
          yield* TestClock.adjust("50 millis")
          expect(done).toBe(false)
          yield* TestClock.adjust("50 millis")
          yield* Effect.promise(() => refreshed)
          const after = (watcher.getSnapshot() as { token: Token.Token }).token
          expect(after.jwt).not.toBe(before.jwt)
          expect(source.requests).toHaveLength(2)
        }),
      )
    },
  )

  it.effect("refresh() never rejects: a failure shows in the state", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const watcher = yield* tok.watch()
        watcher.subscribe(() => undefined)
        source.enqueue({ fail: { status: 400 } })
        yield* Effect.promise(() => watcher.refresh())
        expect(watcher.getSnapshot()).toMatchObject({
          status: "error",
          error: { _tag: "TokenRequestError" },
          token: { sessionId: "sess_1" },
        })
      }),
    )
  })

  it.effect("refresh() of a handle nobody subscribes fetches once into its state", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const watcher = yield* tok.watch({ template: "a" })
        yield* Effect.promise(() => watcher.refresh())
        expect(watcher.getSnapshot()).toMatchObject({ status: "ready", token: { template: "a" } })
        yield* TestClock.adjust("1 hour")
        expect(source.requests).toHaveLength(1)
        expect(inspectClient(tok).fibers).toBe(0)
      }),
    )
  })

  it.effect("invalidate makes a watcher of the key refetch", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const watcher = yield* tok.watch({ template: "a" })
        watcher.subscribe(() => undefined)
        const before = (watcher.getSnapshot() as { token: Token.Token }).token
        yield* tok.invalidate({ template: "a" })
        yield* settle
        expect(source.requests).toHaveLength(2)
        expect((watcher.getSnapshot() as { token: Token.Token }).token.jwt).not.toBe(before.jwt)
      }),
    )
  })

  it.effect("a listener that throws does not stop the others", () => {
    const source = makeFakeSource({ delayMs: 10 })
    const reported: Array<unknown> = []
    const original = globalThis.reportError
    globalThis.reportError = (error: unknown) => void reported.push(error)
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const watcher = yield* tok.watch()
        const seen: Array<string> = []
        watcher.subscribe(() => {
          throw new Error("boom")
        })
        watcher.subscribe((state) => seen.push(state.status))
        yield* TestClock.adjust("10 millis")
        expect(seen).toEqual(["ready"])
        expect(reported).toHaveLength(1)
      }),
    ).pipe(Effect.ensuring(Effect.sync(() => (globalThis.reportError = original))))
  })

  it.effect("watch options are checked: bad ones fail with InvalidOptionsError", () =>
    withClient(makeFakeSource(), (tok) =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(tok.watch({ template: ".." }))
        expect(error._tag).toBe("InvalidOptionsError")
      }),
    ),
  )
})

/** A fake source that stops answering after `limit` requests, so a storm ends the test instead of hanging it. */
const bounded = (limit: number, answer: () => FakeStep | undefined) =>
  makeFakeSource({
    lifetimeSeconds: 60,
    respond: (_request, index) => (index >= limit ? { hang: true } : answer()),
  })

describe("§2.4 minimal traffic: failures and repeats", () => {
  it.effect(
    "§2.4 minimal traffic: a source that repeats a JWT never causes a refetch storm",
    () => {
      // A caching proxy: the same JWT, 60 s of life, whatever is asked.
      const same = fakeJwt({ sub: "user_1", iat: 0, exp: 60 })
      const source = bounded(10_000, () => ({ jwt: same }))
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watcher = yield* tok.watch()
          watcher.subscribe(() => undefined)
          yield* settle
          const first = (watcher.getSnapshot() as { token: Token.Token }).token
          yield* TestClock.adjust("1 hour")
          expect(source.requests.length).toBeLessThanOrEqual(75)
          // Received again, the JWT kept the expiry it was first given.
          const again = yield* Effect.exit(tok.getToken({ skipCache: true }))
          expect(again._tag).toBe("Failure")
          expect(first.expiresAt).toBe(60_000)
        }),
      )
    },
  )

  it.effect(
    "§2.4 minimal traffic: a JWT received again keeps the expiry it was first given",
    () => {
      const same = fakeJwt({ sub: "user_1", iat: 0, exp: 60 })
      const source = makeFakeSource({ respond: () => ({ jwt: same }) })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const first = yield* tok.getToken()
          yield* TestClock.adjust("30 seconds")
          const again = yield* tok.getToken({ skipCache: true })
          expect(again.jwt).toBe(first.jwt)
          expect(again.expiresAt).toBe(first.expiresAt)
          expect(source.requests).toHaveLength(2)
        }),
      )
    },
  )

  it.effect(
    "§2.4 minimal traffic: a permanent failure costs a watched key one request per trigger, at most 10 an hour",
    () => {
      const source = bounded(10_000, () => ({ fail: { status: 404 } }))
      const lifecycle = makeTestLifecycle()
      return withClient(
        source,
        (tok) =>
          Effect.gen(function* () {
            yield* tok.setSession("sess_1")
            const watcher = yield* tok.watch({ template: "gone" })
            watcher.subscribe(() => undefined)
            yield* TestClock.adjust("1 hour")
            expect(source.requests).toHaveLength(1)
            expect(watcher.getSnapshot()).toMatchObject({
              status: "error",
              error: { _tag: "TemplateNotFoundError" },
            })
            // Each trigger costs one request: refresh(), invalidate, a resume, a session change.
            yield* Effect.promise(() => watcher.refresh())
            expect(source.requests).toHaveLength(2)
            yield* tok.invalidate({ template: "gone" })
            yield* settle
            expect(source.requests).toHaveLength(3)
            lifecycle.setVisible(false)
            lifecycle.setVisible(true)
            yield* settle
            expect(source.requests).toHaveLength(4)
            yield* tok.setSession("sess_2")
            yield* settle
            expect(source.requests).toHaveLength(5)
            yield* TestClock.adjust("1 hour")
            expect(source.requests).toHaveLength(5)
          }),
        undefined,
        lifecycle,
      )
    },
  )

  it.effect("§2.4 minimal traffic: a forbidden session (403) is not polled", () => {
    const source = bounded(10_000, () => ({ fail: { status: 403 } }))
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const watcher = yield* tok.watch()
        watcher.subscribe(() => undefined)
        yield* TestClock.adjust("1 hour")
        expect(source.requests).toHaveLength(1)
      }),
    )
  })

  it.effect(
    "§2.4 minimal traffic: a dead server costs a watched key no more than a healthy one (≤ 75 an hour), on a backoff from 5 s",
    () => {
      const source = bounded(10_000, () => ({ fail: {} }))
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watcher = yield* tok.watch()
          watcher.subscribe(() => undefined)
          // The first round: 4 attempts within the retry policy's delays.
          yield* TestClock.adjust("2 seconds")
          expect(source.requests).toHaveLength(4)
          expect(watcher.getSnapshot()).toMatchObject({
            status: "error",
            error: { _tag: "TokenUnavailableError" },
          })
          const lastOfRound = source.requestTimes[3]!
          yield* TestClock.adjust("1 hour")
          // The next round starts at least 5 s after the first ended.
          expect(source.requestTimes[4]! - lastOfRound).toBeGreaterThanOrEqual(5000)
          const withinHour = source.requestTimes.filter((t) => t < 3_600_000)
          expect(withinHour.length).toBeLessThanOrEqual(75)
          // It keeps trying, on a backoff capped at 5 min (plus jitter).
          expect(withinHour.length).toBeGreaterThanOrEqual(4 * 12)
          const gaps = source.requestTimes.slice(1).map((t, i) => t - source.requestTimes[i]!)
          expect(Math.max(...gaps)).toBeLessThanOrEqual(6 * 60_000)
        }),
      )
    },
  )
})

describe("§2.5 a 401 ends a session for its watchers too", () => {
  it.effect(
    "§2.5 transient and permanent failures: a 401 for an explicit session tells its watchers, none keeps its token",
    () => {
      const source = makeFakeSource()
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const plain = yield* tok.watch({ sessionId: "sess_9" })
          const templated = yield* tok.watch({ sessionId: "sess_9", template: "a" })
          const mine = yield* tok.watch()
          for (const watcher of [plain, templated, mine]) watcher.subscribe(() => undefined)
          yield* settle
          expect(plain.getSnapshot().status).toBe("ready")
          expect(templated.getSnapshot().status).toBe("ready")
          source.enqueue({ fail: { status: 401 } })
          const error = yield* Effect.flip(
            tok.getToken({ sessionId: "sess_9", template: "b", skipCache: true }),
          )
          expect(error._tag).toBe("NotSignedInError")
          expect(plain.getSnapshot()).toEqual({ status: "signed-out" })
          expect(templated.getSnapshot()).toEqual({ status: "signed-out" })
          // The current session's watcher is not touched.
          expect(mine.getSnapshot().status).toBe("ready")
          yield* TestClock.adjust("1 hour")
          expect(plain.getSnapshot()).toEqual({ status: "signed-out" })
        }),
      )
    },
  )
})

describe("§2.3 watchers of different keys never share a refresher", () => {
  it.effect(
    "§2.3 no token outlives its session: watchers of two explicit sessions (or organizations) each show their own token",
    () => {
      const source = makeFakeSource()
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          const a = yield* tok.watch({ sessionId: "sess_A" })
          const b = yield* tok.watch({ sessionId: "sess_B" })
          const orgA = yield* tok.watch({ sessionId: "sess_A", organizationId: "org_1" })
          const orgB = yield* tok.watch({ sessionId: "sess_A", organizationId: "org_2" })
          for (const watcher of [a, b, orgA, orgB]) watcher.subscribe(() => undefined)
          yield* settle
          const shown = [a, b, orgA, orgB].map(
            (w) => (w.getSnapshot() as { token: Token.Token }).token,
          )
          expect(shown.map((t) => [t.sessionId, t.organizationId])).toEqual([
            ["sess_A", undefined],
            ["sess_B", undefined],
            ["sess_A", "org_1"],
            ["sess_A", "org_2"],
          ])
          expect(inspectClient(tok).watchedKeys).toBe(4)
          expect(source.requests).toHaveLength(4)
        }),
      )
    },
  )
})

describe("§2.3 no token outlives its session: watchers that name the session", () => {
  it.effect(
    "§2.3 no token outlives its session: a switch away from the current session signs out the watchers that name it, not those of other sessions",
    () => {
      const source = makeFakeSource()
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const named = yield* tok.watch({ sessionId: "sess_1", template: "a" })
          const other = yield* tok.watch({ sessionId: "sess_9" })
          for (const watcher of [named, other]) watcher.subscribe(() => undefined)
          yield* settle
          expect(named.getSnapshot().status).toBe("ready")
          yield* tok.setSession("sess_2")
          expect(named.getSnapshot()).toEqual({ status: "signed-out" })
          // Backend code names sessions: a switch signs no other one out.
          expect(other.getSnapshot().status).toBe("ready")
          yield* TestClock.adjust("1 hour")
          // Signed out, it makes no request until a trigger.
          expect(named.getSnapshot()).toEqual({ status: "signed-out" })
          expect(source.requests.filter((r) => r.sessionId === "sess_1")).toHaveLength(1)
          yield* Effect.promise(() => named.refresh())
          expect(named.getSnapshot().status).toBe("ready")
        }),
      )
    },
  )

  it.effect(
    "§2.3 no token outlives its session: a 401 of the current session signs out the watchers that name it",
    () => {
      const source = makeFakeSource()
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const named = yield* tok.watch({ sessionId: "sess_1" })
          named.subscribe(() => undefined)
          yield* settle
          expect(named.getSnapshot().status).toBe("ready")
          source.enqueue({ fail: { status: 401 } })
          yield* Effect.flip(tok.getToken({ template: "b" }))
          expect(yield* tok.session.get).toBeNull()
          expect(named.getSnapshot()).toEqual({ status: "signed-out" })
        }),
      )
    },
  )

  it.effect(
    "§2.3 no token outlives its session: a handle read before anyone subscribes drops the token of a session that ended",
    () => {
      const source = makeFakeSource()
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          yield* tok.getToken({ sessionId: "sess_1" })
          const named = yield* tok.watch({ sessionId: "sess_1" })
          expect(named.getSnapshot().status).toBe("ready")
          yield* tok.setSession(null)
          expect(named.getSnapshot()).not.toHaveProperty("token")
          // A 401 for an explicit session that was never current, too.
          yield* tok.getToken({ sessionId: "sess_9" })
          const other = yield* tok.watch({ sessionId: "sess_9" })
          expect(other.getSnapshot().status).toBe("ready")
          source.enqueue({ fail: { status: 401 } })
          yield* Effect.flip(tok.getToken({ sessionId: "sess_9", skipCache: true }))
          expect(other.getSnapshot()).not.toHaveProperty("token")
          // Nobody subscribes: no request was made for it.
          expect(source.requests).toHaveLength(3)
        }),
      )
    },
  )
})

describe("§2.4 minimal traffic: degenerate tokens", () => {
  it.effect(
    "§2.4 minimal traffic: tokens living no longer than the buffer while a longer one is cached cause no request storm",
    () => {
      // The first token lives 60 s; then the server issues 30 s tokens,
      // which a 30 s buffer never answers from the cache.
      const source = bounded(10_000, () => ({ mint: { lifetimeSeconds: 30 } }))
      source.enqueue({ mint: { lifetimeSeconds: 60 } })
      return withClient(
        source,
        (tok) =>
          Effect.gen(function* () {
            yield* tok.setSession("sess_1")
            const watcher = yield* tok.watch({ organizationId: "o" })
            watcher.subscribe(() => undefined)
            yield* settle
            yield* TestClock.adjust("1 minute")
            expect(source.requests.length).toBeLessThanOrEqual(8)
            yield* TestClock.adjust("59 minutes")
            // Then each 30 s token is refreshed at half its life, never at once.
            expect(source.requests.length).toBeLessThanOrEqual(HOUR / 15 + 2)
            expect(watcher.getSnapshot().status).toBe("ready")
          }),
        { expirationBuffer: 30 },
      )
    },
  )
})
