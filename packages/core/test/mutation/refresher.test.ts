/**
 * The refresher on its own (issue 21): its decisions — when to fetch, when to
 * back off, when to wait for a trigger — seen through the two narrow
 * interfaces it was given (`RefresherHost`, `Refreshed`), with a scripted key
 * and virtual time. Several of these paths are ones a `Watch` never takes
 * today (no session, a fetch that lands no token); the refresher still must
 * not spin or hang on them.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import { TestClock } from "effect/testing"
import type { Token } from "@tok/core"
import { type FetchOutcome, Refresher } from "../../src/internal/refresher.ts"

type Step = FetchOutcome | "ok-without-token"

interface Options {
  readonly outcomes?: ReadonlyArray<Step>
  readonly autoRefresh?: boolean
  readonly jitterMillis?: number
  readonly bufferMillis?: number
  readonly lifetimeMillis?: number
  readonly fetchMillis?: number
  readonly session?: boolean
  readonly seed?: string
  /** Called with each token shown (a state listener). */
  readonly onShow?: (refresher: Refresher) => void
}

let minted = 0
const tokenAt = (issuedAt: number, lifetime: number): Token.Token => ({
  jwt: `jwt-${++minted}`,
  sessionId: "sess_1",
  claims: { iat: issuedAt / 1000, exp: (issuedAt + lifetime) / 1000 },
  issuedAt,
  expiresAt: issuedAt + lifetime,
  source: "network",
})

/** A refresher on a scripted key: what it fetched, when, and what it showed. */
const harness = (options: Options = {}) =>
  Effect.gen(function* () {
    const context = yield* Effect.context<never>()
    const clock = yield* Effect.clockWith(Effect.succeed)
    const lifetime = options.lifetimeMillis ?? 60_000
    const buffer = options.bufferMillis ?? 10_000
    const outcomes = [...(options.outcomes ?? [])]
    const fetches: Array<{ readonly at: number; readonly skipCache: boolean }> = []
    const shown: Array<string> = []
    const key = {
      session: options.session ?? true,
      /** The state's token. */
      token: undefined as Token.Token | undefined,
      /** The cache's token for the key (usable or not: the test decides). */
      cache: undefined as Token.Token | undefined,
      signedOut: 0,
    }
    const now = () => clock.currentTimeMillisUnsafe()
    const refresher = new Refresher(
      {
        clock,
        autoRefresh: options.autoRefresh ?? true,
        refreshJitter: options.jitterMillis ?? 0,
        isActive: () => true,
        fork: (effect) =>
          Effect.runForkWith(context)(
            options.seed === undefined ? effect : effect.pipe(Random.withSeed(options.seed)),
          ),
      },
      {
        bufferMillis: buffer,
        hasSession: () => key.session,
        cached: () =>
          key.cache !== undefined && now() + buffer < key.cache.expiresAt ? key.cache : undefined,
        validToken: () =>
          key.token !== undefined && now() < key.token.expiresAt ? key.token : undefined,
        show: (token) => {
          key.token = token
          shown.push(token.jwt)
          options.onShow?.(refresher)
        },
        showSignedOut: () => {
          key.token = undefined
          key.signedOut++
        },
        dropExpired: () => {
          if (key.token !== undefined && now() >= key.token.expiresAt) key.token = undefined
        },
        fetch: (skipCache) =>
          Effect.gen(function* () {
            fetches.push({ at: now(), skipCache })
            yield* Effect.sleep(options.fetchMillis ?? 10)
            const step = outcomes.shift() ?? "ok"
            if (step === "ok-without-token") {
              // The key's token went (dropped, invalidated) as the fetch landed.
              key.token = undefined
              key.cache = undefined
              return "ok"
            }
            if (step === "ok") {
              const token = tokenAt(now(), lifetime)
              key.token = token
              key.cache = token
            }
            return step
          }),
      },
    )
    return { refresher, fetches, shown, key }
  })

/** Lets promise callbacks run (real microtasks and a macrotask; virtual time stands still). */
const flush = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 0)))

const tracked = (promise: Promise<void>) => {
  const state = { done: false }
  void promise.then(() => (state.done = true))
  return state
}

describe("starting and stopping", () => {
  it.effect("a refresher started again after stop joins rather than forcing its first fetch", () =>
    Effect.gen(function* () {
      const { refresher, fetches } = yield* harness()
      refresher.start()
      yield* TestClock.adjust("20 millis")
      expect(fetches).toEqual([{ at: 0, skipCache: false }])
      refresher.stop()
      refresher.start()
      yield* TestClock.adjust("20 millis")
      // The token fetched is good for 50 s more: nothing to fetch.
      expect(fetches).toHaveLength(1)
      refresher.stop()
    }),
  )

  it.effect("a refresh() made during a fetch resolves when the loop is stopped", () =>
    Effect.gen(function* () {
      const { refresher, fetches } = yield* harness({ fetchMillis: 100 })
      refresher.start()
      yield* TestClock.adjust("50 millis")
      const pending = tracked(refresher.refresh())
      yield* TestClock.adjust("10 millis")
      refresher.stop()
      yield* TestClock.adjust("1 second")
      yield* flush
      expect(pending.done).toBe(true)
      expect(fetches).toHaveLength(1)
    }),
  )

  it.effect("restarting a refresher that was not running does not start it", () =>
    Effect.gen(function* () {
      const { refresher, fetches } = yield* harness()
      let resets = 0
      refresher.restart(() => resets++)
      yield* TestClock.adjust("1 minute")
      expect(resets).toBe(1)
      expect(refresher.running).toBe(false)
      expect(fetches).toHaveLength(0)
    }),
  )
})

describe("refresh()", () => {
  it.effect("without a running loop: one skipCache fetch, resolved once it landed", () =>
    Effect.gen(function* () {
      const { refresher, fetches, key } = yield* harness()
      const pending = tracked(refresher.refresh())
      yield* TestClock.adjust("5 millis")
      yield* flush
      expect(pending.done).toBe(false)
      yield* TestClock.adjust("10 millis")
      yield* flush
      expect(pending.done).toBe(true)
      expect(fetches).toEqual([{ at: 0, skipCache: true }])
      expect(key.token).toBeDefined()
      expect(refresher.running).toBe(false)
    }),
  )

  it.effect("after a permanent failure it un-parks the loop: background refresh resumes", () =>
    Effect.gen(function* () {
      const { refresher, fetches } = yield* harness({ outcomes: ["permanent", "ok", "ok"] })
      refresher.start()
      yield* TestClock.adjust("1 minute")
      expect(fetches).toHaveLength(1)
      yield* Effect.promise(() => {
        const done = refresher.refresh()
        return Promise.resolve()
          .then(() => done)
          .then(() => undefined)
      }).pipe(Effect.forkChild)
      yield* TestClock.adjust("20 millis")
      expect(fetches.map((f) => f.skipCache)).toEqual([false, true])
      // The token it brought (60 s, 10 s buffer) is refreshed on its plan, ~50 s on.
      yield* TestClock.adjust("55 seconds")
      expect(fetches).toHaveLength(3)
      expect(fetches[2]!.skipCache).toBe(false)
      refresher.stop()
    }),
  )

  it.effect("a second refresh() during a forced fetch waits for a fetch of its own", () =>
    Effect.gen(function* () {
      const { refresher, fetches } = yield* harness({ fetchMillis: 100 })
      refresher.start()
      yield* TestClock.adjust("100 millis")
      expect(fetches).toHaveLength(1)
      const first = tracked(refresher.refresh())
      yield* TestClock.adjust("50 millis")
      const second = tracked(refresher.refresh())
      yield* TestClock.adjust("60 millis")
      yield* flush
      // The first forced fetch landed; the second one started after it.
      expect(first.done).toBe(true)
      expect(second.done).toBe(false)
      expect(fetches.map((f) => f.skipCache)).toEqual([false, true, true])
      expect(fetches[2]!.at).toBe(200)
      yield* TestClock.adjust("100 millis")
      yield* flush
      expect(second.done).toBe(true)
      refresher.stop()
    }),
  )
})

describe("planning a refresh", () => {
  it.effect("a token living exactly buffer + jitter is planned by the long-lived rule", () =>
    Effect.gen(function* () {
      // lifetime = buffer + J = 20 s: the long-lived rule plans expiry − buffer − L,
      // L ∈ [J/2, J] — between 0 and 5 s after issue, never at half its life (10 s).
      const { refresher, fetches, key } = yield* harness({
        bufferMillis: 10_000,
        jitterMillis: 10_000,
        seed: "plan",
      })
      const token = tokenAt(0, 20_000)
      key.token = token
      key.cache = token
      refresher.start()
      yield* TestClock.adjust("5001 millis")
      expect(fetches).toHaveLength(1)
      expect(fetches[0]!.at).toBeLessThanOrEqual(5_000)
      refresher.stop()
    }),
  )

  it.effect("a token living less than buffer + jitter is refreshed at half its life", () =>
    Effect.gen(function* () {
      const { refresher, fetches, key } = yield* harness({
        bufferMillis: 10_000,
        jitterMillis: 10_000,
      })
      const token = tokenAt(0, 19_998)
      key.token = token
      key.cache = token
      refresher.start()
      yield* TestClock.adjust("9998 millis")
      expect(fetches).toHaveLength(0)
      yield* TestClock.adjust("1 millis")
      expect(fetches.map((f) => f.at)).toEqual([9_999])
      refresher.stop()
    }),
  )

  it.effect("the jitter spreads refreshes over [J/2, J] before expiry − buffer", () =>
    Effect.gen(function* () {
      const offsets: Array<number> = []
      for (const seed of ["a", "b", "c", "d", "e", "f", "g", "h"]) {
        const { refresher, fetches, key } = yield* harness({
          bufferMillis: 10_000,
          jitterMillis: 10_000,
          seed,
        })
        const start = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        const token = tokenAt(start, 3_600_000)
        key.token = token
        key.cache = token
        refresher.start()
        yield* TestClock.adjust("1 hour")
        refresher.stop()
        offsets.push(token.expiresAt - 10_000 - fetches[0]!.at)
      }
      for (const offset of offsets) {
        expect(offset).toBeGreaterThanOrEqual(5_000)
        expect(offset).toBeLessThanOrEqual(10_000)
      }
      expect(Math.max(...offsets) - Math.min(...offsets)).toBeGreaterThan(1_000)
    }),
  )
})

describe("a planned refresh", () => {
  it.effect("stays where it was drawn however often the loop wakes", () =>
    Effect.gen(function* () {
      const firstFetch = (wakeEverySecond: boolean) =>
        Effect.gen(function* () {
          const { refresher, fetches, key } = yield* harness({
            bufferMillis: 10_000,
            jitterMillis: 30_000,
            seed: "stable",
          })
          const start = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
          const token = tokenAt(start, 120_000)
          key.token = token
          key.cache = token
          refresher.start()
          for (let second = 0; second < 120 && fetches.length === 0; second++) {
            yield* TestClock.adjust("1 second")
            if (wakeEverySecond) refresher.wakeUp()
          }
          refresher.stop()
          return fetches[0]!.at - start
        })
      const quiet = yield* firstFetch(false)
      const woken = yield* firstFetch(true)
      expect(woken).toBe(quiet)
    }),
  )
})

describe("without a session", () => {
  it.effect("no fetch, the state signed out, and refresh() still resolves", () =>
    Effect.gen(function* () {
      const { refresher, fetches, key } = yield* harness({ session: false })
      refresher.start()
      yield* TestClock.adjust("1 minute")
      expect(fetches).toHaveLength(0)
      expect(key.signedOut).toBeGreaterThan(0)
      const pending = tracked(refresher.refresh())
      yield* TestClock.adjust("1 second")
      yield* flush
      expect(pending.done).toBe(true)
      expect(fetches).toHaveLength(0)
      refresher.stop()
    }),
  )
})

describe("a turn", () => {
  it.effect("shows a cached token another caller put there", () =>
    Effect.gen(function* () {
      const { refresher, fetches, shown, key } = yield* harness()
      key.token = tokenAt(0, 60_000)
      const other = tokenAt(0, 60_000)
      key.cache = other
      refresher.start()
      yield* TestClock.adjust("1 millis")
      expect(shown).toEqual([other.jwt])
      expect(key.token).toBe(other)
      expect(fetches).toHaveLength(0)
      refresher.stop()
    }),
  )
})

describe("a trigger during a turn", () => {
  it.effect("a refresh() a state listener makes while a turn shows a token is not lost", () =>
    Effect.gen(function* () {
      const pending: Array<{ done: boolean }> = []
      const { refresher, fetches } = yield* harness({
        onShow: (self) => {
          if (pending.length === 0) pending.push(tracked(self.refresh()))
        },
      })
      // The first turn fetches; the next one shows the token it brought.
      refresher.start()
      yield* TestClock.adjust("30 millis")
      yield* flush
      expect(fetches.map((f) => f.skipCache)).toEqual([false, true])
      expect(pending[0]!.done).toBe(true)
      refresher.stop()
    }),
  )
})

describe("backoff", () => {
  it.effect("a forced fetch that fails transiently counts toward the backoff", () =>
    Effect.gen(function* () {
      // A token good for an hour; refresh() fails (backoff 1), then its planned
      // refresh fails too: the second backoff is 10–12 s, not a fresh 5–6 s.
      const { refresher, fetches, key } = yield* harness({
        outcomes: ["transient", "transient", "ok"],
        lifetimeMillis: 3_600_000,
      })
      const token = tokenAt(0, 3_600_000)
      key.token = token
      key.cache = token
      refresher.start()
      yield* TestClock.adjust("1 millis")
      void refresher.refresh()
      yield* TestClock.adjust("2 hours")
      expect(fetches.length).toBeGreaterThanOrEqual(3)
      expect(fetches[0]!.skipCache).toBe(true)
      const gap = fetches[2]!.at - fetches[1]!.at
      expect(gap).toBeGreaterThanOrEqual(10_000)
      expect(gap).toBeLessThanOrEqual(12_010)
      refresher.stop()
    }),
  )

  it.effect("a fetch that lands no token backs off; it never spins or stops", () =>
    Effect.gen(function* () {
      const { refresher, fetches } = yield* harness({
        outcomes: ["ok", "ok-without-token", "ok-without-token", "ok"],
      })
      refresher.start()
      yield* TestClock.adjust("2 minutes")
      expect(fetches.length).toBeGreaterThanOrEqual(4)
      // The token fetched at 0 is refreshed on its plan (50 s); that fetch and
      // the next land nothing: 5–6 s, then 10–12 s of backoff.
      expect(fetches[1]!.at).toBeGreaterThanOrEqual(50_000)
      const gaps = [fetches[2]!.at - fetches[1]!.at, fetches[3]!.at - fetches[2]!.at]
      expect(gaps[0]).toBeGreaterThanOrEqual(5_000)
      expect(gaps[1]).toBeGreaterThanOrEqual(10_000)
      refresher.stop()
    }),
  )

  it.effect("a token that lands resets the backoff", () =>
    Effect.gen(function* () {
      const { refresher, fetches } = yield* harness({
        outcomes: ["transient", "transient", "ok", "transient", "ok"],
      })
      refresher.start()
      yield* TestClock.adjust("2 minutes")
      expect(fetches.length).toBeGreaterThanOrEqual(5)
      // After the token, a failure backs off 5–6 s again, not 20–24 s.
      const gap = fetches[4]!.at - fetches[3]!.at
      expect(gap).toBeGreaterThanOrEqual(5_000)
      expect(gap).toBeLessThanOrEqual(6_010)
      refresher.stop()
    }),
  )
})
