/**
 * The token engine behind both faces of `TokenClient`: it wires the parts.
 *
 * - `keys.ts` — cache keys, watch ids, `invalidate` filters
 * - `store.ts` — the cache as the client sees it (usable, monotonic, drop)
 * - `session.ts` — the current session, its generation, its listeners
 * - `flights.ts` — requests in flight: locate, join, start, settle, fence
 * - `watch.ts` and `refresher.ts` — watched keys and what keeps them fresh
 *
 * State lives in plain structures mutated only in synchronous steps, so the
 * Promise face can answer a cache hit without entering the Effect runtime.
 * Requests, retries, timeouts and background refresh are Effect fibers run
 * with the client's context (its `Clock`, `Random`, `Fetch`, `Logger`),
 * forked detached from their callers — a request goes on when its callers
 * give up — and kept in a `FiberSet`, so closing the client interrupts them
 * all and waits until they are done.
 * @internal
 */
import type * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Lifecycle from "../Lifecycle.ts"
import type * as Token from "../Token.ts"
import type * as TokenCache from "../TokenCache.ts"
import { InvalidOptionsError, type TokenError } from "../TokenError.ts"
import type * as TokenShare from "../TokenShare.ts"
import type * as TokenSource from "../TokenSource.ts"
import { asEffect, type Flight, Flights, type JoinResult, type Outcome } from "./flights.ts"
import { type InvalidateFilter, keyOf, matcher, watchIdOf } from "./keys.ts"
import { type CallOptions, type Checked, checkCall, type ResolvedConfig } from "./options.ts"
import { Session } from "./session.ts"
import { Sharing } from "./sharing.ts"
import { Store } from "./store.ts"
import { Telemetry, type TelemetryOptions } from "./telemetry.ts"
import { type TokenWatcher, Watch, type WatchHost } from "./watch.ts"

export { checkFilter, type InvalidateFilter } from "./keys.ts"
export { Defect, type JoinResult } from "./flights.ts"
export type { TokenWatcher, WatchOptions } from "./watch.ts"

/** What a client holds right now: for tests that check nothing is left running. */
export interface Activity {
  /** Fibers of the client still running: requests, retries, refreshers. */
  readonly fibers: number
  /** Requests in flight. */
  readonly requests: number
  /** Keys with at least one subscribed watcher. */
  readonly watchedKeys: number
  /** Tokens in the cache. */
  readonly cachedTokens: number
}

/** What the engine needs from its context. */
export interface Deps {
  readonly config: ResolvedConfig
  readonly source: TokenSource.Service
  readonly cache: TokenCache.Service
  readonly lifecycle: Lifecycle.Service
  /** Peers to share tokens and session ends with (DESIGN §7); `TokenShare.none` shares nothing. */
  readonly share: TokenShare.Service
  /** A peer's switch of sessions is followed here too (multi-session apps). */
  readonly followSessionSwitch?: boolean | undefined
  readonly clock: Clock.Clock
  readonly context: Context.Context<never>
  /** Metrics, spans and events (DESIGN §8). */
  readonly telemetry?: TelemetryOptions | undefined
}

/**
 * One client: session, store, flights and watchers, wired. Every method that
 * changes state is synchronous; requests and refreshers run as fibers it
 * forks and keeps in a set until they end (what `FiberSet` does, without
 * the first-failure `Deferred` tok never reads: 0.5 KB gz off every app).
 */
export class Engine {
  readonly config: ResolvedConfig
  readonly clock: Clock.Clock
  readonly lifecycle: Lifecycle.Service
  private readonly context: Context.Context<never>
  /** The fibers running now; each leaves the set when it ends. */
  private readonly fibers = new Set<Fiber.Fiber<unknown, unknown>>()
  /** Set when the client's scope closes: a fiber forked afterwards is interrupted at once. */
  private closed = false
  private readonly session = new Session()
  private readonly store: Store
  private readonly flights: Flights
  readonly sharing: Sharing
  private readonly followSwitch: boolean
  private readonly watches = new Map<string, Watch>()
  /** The client as a watch sees it. */
  private readonly watchHost: WatchHost
  /** Metrics, spans and the Promise face's events. */
  readonly telemetry: Telemetry
  disposed = false

  constructor(deps: Deps) {
    this.config = deps.config
    this.clock = deps.clock
    this.lifecycle = deps.lifecycle
    this.context = deps.context
    this.store = new Store(deps.cache, deps.clock, deps.config.bufferMillis)
    this.telemetry = new Telemetry({
      clock: deps.clock,
      context: deps.context,
      options: deps.telemetry,
      cachedTokens: () => this.store.size(),
      watchers: () => this.watches.size,
    })
    this.followSwitch = deps.followSessionSwitch === true
    this.sharing = new Sharing(deps.share, {
      config: deps.config,
      clock: deps.clock,
      store: this.store,
      fork: (effect) => this.fork(effect),
      currentSession: () => this.session.id,
      adopt: (key, token) => {
        const cached = this.store.put(key, token, this.flights.nextSeq())
        // Watchers show where it came from; the cache answers it as "cache" from now on.
        // Stryker disable next-line ConditionalExpression: sharing adopts only a token newer than the one held, with the latest start order — the store always takes it
        if (cached !== undefined) {
          const { sessionId, template, organizationId } = cached
          this.telemetry.shared({ sessionId, template, organizationId }, "peer", cached)
          this.stored(key, { ...cached, source: "peer" })
        }
      },
      ended: (sessionId) => this.endSession(sessionId, false),
      invalidated: (message) => this.invalidate(message.filter, false),
      switched: (from, to) => {
        if (deps.followSessionSwitch === true && this.session.id === from)
          this.setSession(to, false)
      },
    })
    this.flights = new Flights({
      telemetry: this.telemetry,
      sharing: this.sharing,
      config: deps.config,
      clock: deps.clock,
      source: deps.source,
      store: this.store,
      session: this.session,
      isDisposed: () => this.disposed,
      fork: (effect) => this.fork(effect),
      stored: (key, token) => this.stored(key, token),
      ended: (sessionId) => this.endSession(sessionId, true),
    })
    this.watchHost = {
      config: deps.config,
      clock: deps.clock,
      lifecycle: deps.lifecycle,
      isDisposed: () => this.disposed,
      currentSession: () => this.session.id,
      sessionEnds: () => this.session.ends,
      peekChecked: (checked) => this.peekChecked(checked),
      fetchOrJoin: (checked, refresh) => {
        const sessionId = checked.sessionId ?? this.session.id
        return refresh && sessionId !== null
          ? this.telemetry.traceRefresh(
              { sessionId, template: checked.template, organizationId: checked.organizationId },
              checked.bufferMillis,
              this.fetchOrJoin(checked, refresh),
            )
          : this.fetchOrJoin(checked, refresh)
      },
      fork: (effect) => this.fork(effect),
      // A watch refreshes its key while it has subscribers.
      register: (watch) => void this.watches.set(watch.id, watch),
      unregister: (watch) => {
        // Stryker disable next-line ConditionalExpression: a handle makes a new watch only when none of its id is registered, so a watch that stops is the registered one
        if (this.watches.get(watch.id) === watch) this.watches.delete(watch.id)
      },
    }
  }

  /** The current session id. */
  get sessionId(): string | null {
    return this.session.id
  }

  /**
   * The synchronous cache check: a usable cached token, `null` when signed
   * out, an `InvalidOptionsError`, or `undefined` when a request is needed.
   */
  // Stryker disable next-line BlockStatement: a fast path — without it the Promise face's plain call goes the slow way (join, locate), which answers the same
  peek(options: CallOptions | undefined): Token.Token | InvalidOptionsError | null | undefined {
    if (options === undefined) {
      const key = this.session.defaultKey
      // Stryker disable next-line ConditionalExpression,EqualityOperator: a fast path — `undefined` here sends the call the slow way, which answers the same
      if (key === undefined) return this.session.id === null ? null : this.session.problem
      const token = this.store.usable(key, this.config.bufferMillis)
      if (token !== undefined) this.telemetry.hit(token.sessionId, undefined, undefined)
      return token
    }
    const checked = checkCall(options, this.config.bufferMillis)
    return checked instanceof InvalidOptionsError ? checked : this.peekChecked(checked)
  }

  /** `peek` for options already checked. */
  peekChecked(checked: Checked): Token.Token | InvalidOptionsError | null | undefined {
    const sessionId = checked.sessionId ?? this.session.id
    // Stryker disable next-line ConditionalExpression: a fast path — no token is cached without a session, and the slow way (locate) answers signed out the same
    if (sessionId === null) return null
    // Stryker disable next-line ConditionalExpression: a fast path — no token is cached for a bad session id, and the slow way (locate) answers its problem the same
    if (checked.sessionId === undefined && this.session.problem) return this.session.problem
    if (checked.skipCache) return undefined
    return this.store.usable(
      keyOf(sessionId, checked.template, checked.organizationId),
      checked.bufferMillis,
    )
  }

  /** `peekChecked` for a caller's read: a cached answer counts as a hit. */
  // Stryker disable next-line BlockStatement: a fast path — without it the call joins, and locate answers a hit (and counts it) the same
  read(checked: Checked): Token.Token | InvalidOptionsError | null | undefined {
    const hit = this.peekChecked(checked)
    if (hit instanceof Object && "jwt" in hit) {
      this.telemetry.hit(hit.sessionId, hit.template, hit.organizationId)
    }
    return hit
  }

  /** `getToken` of the Effect API. */
  getToken(options?: CallOptions): Effect.Effect<Token.Token, TokenError> {
    return Effect.suspend(() => {
      const checked = checkCall(options, this.config.bufferMillis)
      return checked instanceof InvalidOptionsError
        ? Effect.fail(checked)
        : this.fetchOrJoin(checked)
    })
  }

  /**
   * Answers from the cache, joins the key's request in flight, or starts one.
   * A `refresh` skips the cache but joins a request in flight (background
   * refresh); `skipCache` never joins (DESIGN §2.2).
   */
  fetchOrJoin(checked: Checked, refresh = false): Effect.Effect<Token.Token, TokenError> {
    return Effect.suspend(() => {
      const step = this.flights.locate(checked, refresh)
      if (step._tag === "answered") return asEffect(step.result)
      return Effect.flatMap(Effect.exit(Deferred.await(step.flight.deferred)), (outcome) => {
        const result = this.flights.interpret(checked, step.generation, outcome)
        return result === "again" ? this.fetchOrJoin(checked, refresh) : asEffect(result)
      })
    })
  }

  /**
   * `fetchOrJoin` for the Promise face: the same decisions, with a callback
   * instead of a fiber per caller, so a cold burst of 10,000 callers costs
   * 10,000 callbacks on one request. Returns a function that abandons this
   * wait (the request goes on).
   */
  join(checked: Checked, done: (result: JoinResult) => void): () => void {
    let waiting: { flight: Flight; listener: (outcome: Outcome) => void } | undefined
    const step = (): void => {
      waiting = undefined
      const located = this.flights.locate(checked, false)
      if (located._tag === "answered") return done(located.result)
      const listener = (outcome: Outcome): void => {
        waiting = undefined
        const result = this.flights.interpret(checked, located.generation, outcome)
        return result === "again" ? step() : done(result)
      }
      // A source that answers synchronously has finished the flight already.
      if (located.flight.outcome !== undefined) return listener(located.flight.outcome)
      waiting = { flight: located.flight, listener }
      located.flight.listeners.add(listener)
    }
    step()
    // Stryker disable next-line BlockStatement: an abandoned waiter's promise is settled already; its listener, left on the flight until the flight ends, settles nothing more
    return () => {
      // Stryker disable next-line OptionalChaining: abandoning happens only while waiting (the face drops its abort listener when the wait ends)
      waiting?.flight.listeners.delete(waiting.listener)
      waiting = undefined
    }
  }

  /** Calls `listener` with the new session id on every session change. */
  onSession(listener: (sessionId: string | null) => void): () => void {
    return this.session.onChange(listener)
  }

  /** A fresh token was cached under `key`: running watches of it show it. */
  private stored(key: string, token: Token.Token): void {
    for (const watch of [...this.watches.values()]) watch.onStored(key, token)
  }

  /**
   * Changes the current session: clears the previous one's tokens and
   * requests. A sign-out is told to peers (`tell`), so the session ends in
   * every tab; a switch is each client's own business unless
   * `followSessionSwitch` says otherwise.
   */
  setSession(sessionId: string | null, tell = true): void {
    if (sessionId !== null && typeof sessionId !== "string") {
      throw new InvalidOptionsError({ detail: "a session id must be a string or null" })
    }
    if (sessionId === this.session.id || this.disposed) return
    const previous = this.session.set(sessionId)
    if (this.sharing.active) {
      if (previous !== null && sessionId === null) {
        if (tell) this.sharing.endedHere(previous)
      } else if (previous !== null && sessionId !== null && tell && this.followSwitch) {
        this.sharing.tell({ _tag: "switched", from: previous, to: sessionId })
      }
      this.sharing.followed(sessionId)
    }
    const ended = previous === null ? [] : this.dropSession(previous)
    if (previous !== null) this.session.ends++
    for (const watch of [...this.watches.values()]) {
      watch.onSessionChange()
      // The previous session has ended here: watchers that name it are
      // signed out like the waiters that name it (DESIGN "Waiters across
      // session changes"); those naming other sessions are untouched.
      // Stryker disable next-line ConditionalExpression: no watch names the session `null`, so onSessionEnded(null) does nothing
      if (previous !== null) watch.onSessionEnded(previous)
    }
    this.flights.end(ended)
    this.telemetry.session(sessionId)
    this.session.tell(sessionId)
  }

  /** A 401 for `sessionId` (or a peer's sign-out): sign it out, and tell its watchers (DESIGN §2.5). */
  private endSession(sessionId: string, tell: boolean): void {
    if (tell && this.sharing.active) this.sharing.endedHere(sessionId)
    if (sessionId === this.session.id) return this.setSession(null, false)
    this.flights.end(this.dropSession(sessionId))
    this.session.ends++
    for (const watch of [...this.watches.values()]) watch.onSessionEnded(sessionId)
  }

  /** Drops a session's tokens and fences its requests; returns them to be ended. */
  private dropSession(sessionId: string) {
    const ofSession = (request: { readonly sessionId: string }) => request.sessionId === sessionId
    this.store.drop(ofSession)
    return this.flights.fence(ofSession)
  }

  /** Drops matching tokens and fences matching requests; watchers of them refetch. Peers do the same. */
  invalidate(filter: InvalidateFilter | undefined, tell = true): void {
    if (tell && this.sharing.active) {
      this.sharing.tell({
        _tag: "invalidated",
        filter: {
          sessionId: filter?.sessionId,
          template: filter?.template,
          organizationId: filter?.organizationId,
        },
      })
    }
    const matches = matcher(filter)
    this.store.drop(matches)
    this.flights.fence(matches)
    for (const watch of [...this.watches.values()]) {
      const request = watch.request()
      if (request !== undefined && matches(request)) watch.poke(true)
    }
  }

  /** Runs `effect` on the client's context, detached; interrupted when the client closes. */
  fork<A, E>(effect: Effect.Effect<A, E>): Fiber.Fiber<A, E> {
    const fiber = Effect.runForkWith(this.context)(effect)
    // Stryker disable next-line ConditionalExpression: a fiber already done would be added and removed at once (its observer runs at once)
    if (fiber.pollUnsafe() !== undefined) return fiber
    // Stryker disable next-line ConditionalExpression,BlockStatement: close() disposes first, and every path that forks checks `disposed` before (locate, Watch.start, Watch.refresh)
    if (this.closed) {
      // Stryker disable next-line CallExpression: see above — unreachable after close
      fiber.interruptUnsafe()
      return fiber
    }
    this.fibers.add(fiber)
    fiber.addObserver(() => this.fibers.delete(fiber))
    return fiber
  }

  /**
   * A handle on the key `checked` names. Handles of one key and buffer share
   * one refresher while any of them is subscribed.
   */
  watch(checked: Checked): TokenWatcher {
    const id = watchIdOf(checked)
    let own: Watch | undefined
    const current = (): Watch => {
      const live = this.watches.get(id)
      if (live !== undefined) return (own = live)
      if (own === undefined || own.stopped) own = new Watch(this.watchHost, id, checked)
      return own
    }
    return {
      getSnapshot: () => current().getSnapshot(),
      subscribe: (listener) => current().subscribe(listener),
      refresh: () => current().refresh(),
    }
  }

  /** What the client holds right now. */
  activity(): Activity {
    return {
      fibers: this.fibers.size,
      requests: this.flights.live.size,
      watchedKeys: this.watches.size,
      cachedTokens: this.store.size(),
    }
  }

  /**
   * Closes the client now: every watcher stopped, every fiber told to stop,
   * the cache emptied. The effect waits until the fibers are done.
   */
  dispose(): Effect.Effect<void> {
    // Stryker disable next-line ConditionalExpression: a second dispose finds no watch, no fiber, an empty cache, and a telemetry closed already
    if (!this.disposed) {
      this.disposed = true
      for (const watch of [...this.watches.values()]) watch.stop()
      // Stryker disable next-line CallExpression: each watch unregistered itself as it stopped
      this.watches.clear()
      for (const fiber of this.fibers) fiber.interruptUnsafe()
      this.store.clear()
      this.telemetry.close()
    }
    return Fiber.interruptAll(this.fibers)
  }

  /** `dispose`, for the client's scope: no fiber outlives it. */
  close(): Effect.Effect<void> {
    // Stryker disable next-line BooleanLiteral: see fork — nothing forks after close
    this.closed = true
    return this.dispose()
  }
}

const enginesOfServices = new WeakMap<object, Engine>()

/** The engine behind a `TokenClient` service, kept out of its public type. */
export const engineOf = (service: object): Engine | undefined => enginesOfServices.get(service)

/** Remembers the engine behind `service`. */
export const registerEngine = <S extends object>(service: S, engine: Engine): S => {
  enginesOfServices.set(service, engine)
  return service
}
