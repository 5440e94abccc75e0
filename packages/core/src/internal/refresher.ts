/**
 * The refresher: the fiber that keeps one watched key fresh while anyone
 * subscribes. It knows the key only through a narrow interface (`Refreshed`)
 * and the client only through another (`RefresherHost`), so its decisions —
 * when to fetch, when to back off, when to wait for a trigger — read on
 * their own (DESIGN §2.4).
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import type * as Token from "../Token.ts"

/** How one fetch of a watched key ended. */
export type FetchOutcome = "ok" | "transient" | "permanent" | "interrupted"

/** What the refresher needs from the client. */
export interface RefresherHost {
  readonly clock: Clock.Clock
  readonly autoRefresh: boolean
  /** J: the most a refresh is moved earlier, in ms. */
  readonly refreshJitter: number
  /** Visible and online. */
  readonly isActive: () => boolean
  readonly fork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.Fiber<A, E>
}

/** What the refresher needs from the key it keeps fresh. */
export interface Refreshed {
  readonly bufferMillis: number
  /** Whether there is a session to fetch for. */
  readonly hasSession: () => boolean
  /** A cached token good for the key's buffer. */
  readonly cached: () => Token.Token | undefined
  /** The token shown, while it has not expired. */
  readonly validToken: () => Token.Token | undefined
  /** Shows a token another caller fetched (a token shown with an error stays in error). */
  readonly show: (token: Token.Token) => void
  readonly showSignedOut: () => void
  /** An expired token leaves the state. */
  readonly dropExpired: () => void
  /** One fetch into the state: `skipCache`, or a refresh that joins a request in flight. */
  readonly fetch: (skipCache: boolean) => Effect.Effect<FetchOutcome>
}

const BACKOFF_MIN_MS = 5_000
const BACKOFF_MAX_MS = 5 * 60_000

/** Keeps one key fresh: plans refreshes, backs off, waits for triggers. */
export class Refresher {
  private fiber: Fiber.Fiber<unknown, unknown> | undefined
  private wake: Deferred.Deferred<void> | undefined
  /** Set by a wake-up: the loop looks again before it sleeps. */
  // Stryker disable next-line BooleanLiteral: every turn clears it before the loop can sleep
  private poked = false
  /** Set by `refresh()` and `invalidate`: the next fetch is a `skipCache` one. */
  private force = false
  /** Set by a trigger: the next turn may make one request, parked or not. */
  // Stryker disable next-line BooleanLiteral: a trigger at start clears `parked` and `retryAt`, both clear already
  private triggered = false
  /**
   * Set after a permanent failure (or the key's session ended): no request
   * until a trigger — `refresh()`, `invalidate`, a session change, a resume.
   */
  private parked = false
  /** No background request before this (epoch ms): the backoff. */
  private retryAt = 0
  /** Backoffs in a row: 5 s · 2^n, capped at 5 min. */
  private backoffs = 0
  /** The token a refresh is planned for, and when. */
  private plannedFor: Token.Token | undefined
  private refreshAt = 0
  /** `refresh()` callers waiting for the next forced fetch to land. */
  private refreshWaiters: Array<() => void> = []
  private readonly host: RefresherHost
  private readonly key: Refreshed

  constructor(host: RefresherHost, key: Refreshed) {
    this.host = host
    this.key = key
  }

  /** Whether the loop runs. */
  get running(): boolean {
    return this.fiber !== undefined
  }

  start(): void {
    this.fiber = this.host.fork(this.loop())
  }

  /** Stops the loop; pending `refresh()` calls resolve. */
  stop(): void {
    this.interrupt()
    this.force = false
    this.settleRefreshes(this.refreshWaiters)
  }

  /** The session changed: start over for the new one, once `reset` has reset the state. */
  restart(reset: () => void): void {
    const running = this.running
    // Stryker disable next-line ConditionalExpression: interrupting a loop that does not run clears what is clear already
    if (running) this.interrupt()
    this.plannedFor = undefined
    this.parked = false
    this.retryAt = 0
    this.backoffs = 0
    reset()
    if (running) this.start()
  }

  /** No request until a trigger (the key's session ended). */
  park(): void {
    this.parked = true
    // Stryker disable next-line CallExpression: only brings the next turn forward; a parked turn makes no request, and refresh() wakes the loop itself
    this.wakeUp()
  }

  /**
   * A trigger (`refresh()`, `invalidate`, a resume event): the loop looks
   * again and may make one request even after a permanent failure; `force`
   * makes it a `skipCache` one.
   */
  poke(force: boolean): void {
    if (force) this.force = true
    this.triggered = true
    this.wakeUp()
  }

  /** Wakes the loop to look again, without a trigger. */
  wakeUp(): void {
    this.poked = true
    const wake = this.wake
    if (wake !== undefined) {
      this.wake = undefined
      Deferred.doneUnsafe(wake, Effect.void)
    }
  }

  /** A `skipCache` fetch into the state; resolves once it landed. Never rejects. */
  refresh(): Promise<void> {
    return new Promise((resolve) => {
      if (this.running) {
        this.refreshWaiters.push(resolve)
        this.poke(true)
      } else {
        // Nobody subscribes: one fetch, its result into the state.
        this.host.fork(this.key.fetch(true).pipe(Effect.ensuring(Effect.sync(resolve))))
      }
    })
  }

  private interrupt(): void {
    const fiber = this.fiber
    this.fiber = undefined
    this.wake = undefined
    fiber?.interruptUnsafe()
  }

  private settleRefreshes(waiters: Array<() => void>): void {
    // Stryker disable next-line ConditionalExpression: a resolver left in the list is called again later, a no-op on a settled promise
    if (waiters === this.refreshWaiters) this.refreshWaiters = []
    for (const resolve of waiters) resolve()
  }

  /** When to refresh `token`: `expiresAt − buffer − L`, L ∈ [J/2, J]; half its life if short. */
  private planFor(token: Token.Token): Effect.Effect<number> {
    if (this.plannedFor === token) return Effect.succeed(this.refreshAt)
    const buffer = this.key.bufferMillis
    const jitter = this.host.refreshJitter
    const lifetime = token.expiresAt - token.issuedAt
    return Effect.map(Random.next, (random) => {
      // Whole milliseconds: a fractional target can sit a rounding error
      // ahead of a clock that has already reached it (a busy loop).
      const at = Math.floor(
        lifetime < buffer + jitter
          ? token.issuedAt + lifetime / 2
          : // Stryker disable next-line ConditionalExpression: with J = 0 the formula gives 0 too
            token.expiresAt - buffer - (jitter === 0 ? 0 : jitter / 2 + (random * jitter) / 2),
      )
      this.plannedFor = token
      this.refreshAt = at
      return at
    })
  }

  /**
   * The backoff after a refresh that failed on transient errors or brought
   * no newer token: 5 s, doubling, capped at 5 min, plus up to 20 % jitter
   * (upward, so a dead server costs no more than a healthy key, DESIGN §2.4).
   */
  private backoff(): Effect.Effect<number> {
    return Effect.map(Random.next, (random) => {
      const base = Math.min(BACKOFF_MIN_MS * 2 ** this.backoffs, BACKOFF_MAX_MS)
      this.backoffs++
      return Math.floor(base * (1 + random / 5))
    })
  }

  /** Sleeps until `at` (epoch ms), the shown token's expiry, or a wake-up, whichever is first. */
  private sleepUntil(at: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.poked) return Effect.void
      // Wake when the token shown expires too, to stop showing it (and say so).
      const expiry = this.key.validToken()?.expiresAt ?? Infinity
      const millis = Math.ceil(Math.min(at, expiry) - this.host.clock.currentTimeMillisUnsafe())
      if (millis <= 0) return Effect.void
      const wake = Deferred.makeUnsafe<void>()
      this.wake = wake
      return Effect.raceFirst(
        Number.isFinite(millis) ? Effect.sleep(Duration.millis(millis)) : Effect.never,
        Deferred.await(wake),
      )
    })
  }

  /**
   * Each turn looks at the clock and the cache (timers are only hints) and
   * decides: fetch now, or sleep until the planned refresh, the end of a
   * backoff, or a trigger.
   */
  private loop(): Effect.Effect<void> {
    return Effect.gen({ self: this }, function* () {
      const { clock, autoRefresh: auto } = this.host
      const key = this.key
      let first = true
      let hadToken = false
      for (;;) {
        this.poked = false
        key.dropExpired()
        const force = this.force
        this.force = false
        if (this.triggered) {
          // One request per trigger, whatever failed before.
          this.triggered = false
          this.parked = false
          this.retryAt = 0
        }
        if (!key.hasSession()) {
          key.showSignedOut()
          this.settleRefreshes(this.refreshWaiters)
          yield* this.sleepUntil(Infinity)
          continue
        }
        const cached = key.cached()
        if (cached !== undefined) key.show(cached)
        if (this.parked) {
          // A permanent failure: nothing on a timer, only a trigger.
          // Stryker disable next-line CallExpression: refresh() always triggers, and a trigger unparks before this check — no waiter is pending here
          this.settleRefreshes(this.refreshWaiters)
          yield* this.sleepUntil(Infinity)
          continue
        }
        // A token still valid but inside the buffer (or too short-lived to be
        // cached) is refreshed on its plan rather than at once.
        const current = cached ?? key.validToken()
        if (current !== undefined) hadToken = true
        const now = clock.currentTimeMillisUnsafe()
        const plan = current !== undefined && auto ? yield* this.planFor(current) : Infinity
        const due = force || (current === undefined ? first || auto : now >= plan)
        first = false
        if (!due) {
          yield* this.sleepUntil(plan)
          continue
        }
        if (!force && now < this.retryAt) {
          yield* this.sleepUntil(this.retryAt)
          continue
        }
        if (!force && hadToken && !this.host.isActive()) {
          // Hidden or offline once a token was had: wait for a resume event.
          yield* this.sleepUntil(Infinity)
          continue
        }
        const waiters = force ? this.refreshWaiters : []
        if (force) this.refreshWaiters = []
        const outcome = yield* key
          .fetch(force)
          .pipe(Effect.ensuring(Effect.sync(() => this.settleRefreshes(waiters))))
        if (outcome === "permanent" || outcome === "interrupted" || !auto) {
          this.parked = true
        } else if (outcome === "transient") {
          this.retryAt = clock.currentTimeMillisUnsafe() + (yield* this.backoff())
        } else {
          // Plan from what the next turn plans from: the cached token, else
          // the one shown. A token too short-lived to be cached leaves an
          // older, longer one there, already due.
          const token = key.cached() ?? key.validToken()
          const next = token === undefined ? undefined : yield* this.planFor(token)
          if (next === undefined || next <= clock.currentTimeMillisUnsafe()) {
            // It brought no newer token the next turn would plan from (a
            // caching proxy answering the same JWT; a token living no longer
            // than the buffer while a longer one is cached): try again on the
            // backoff, never at once.
            this.retryAt = clock.currentTimeMillisUnsafe() + (yield* this.backoff())
          } else {
            this.retryAt = 0
            this.backoffs = 0
          }
        }
      }
    })
  }
}
