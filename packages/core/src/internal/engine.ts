/**
 * The token engine behind both faces of `TokenClient`.
 *
 * State lives in plain structures (a cache, a map of requests in flight, the
 * session and its generation) mutated only in synchronous steps, so the
 * Promise face can answer a cache hit without entering the Effect runtime.
 * Requests, retries, timeouts and background refresh are Effect fibers run
 * with the client's context (its `Clock`, `Random`, `Fetch`), forked detached
 * from their callers — a request goes on when its callers give up — and
 * interrupted together when the client's scope closes.
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Random from "effect/Random"
import type * as Schedule from "effect/Schedule"
import type * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import type * as Fiber from "effect/Fiber"
import type * as Lifecycle from "../Lifecycle.ts"
import * as RetryPolicy from "../RetryPolicy.ts"
import * as Token from "../Token.ts"
import type * as TokenCache from "../TokenCache.ts"
import {
  InvalidOptionsError,
  MalformedTokenError,
  NotSignedInError,
  TemplateNotFoundError,
  type TokenError,
  TokenRequestError,
  TokenUnavailableError,
} from "../TokenError.ts"
import { describe, type TokenRequest, TokenSourceError } from "../TokenSource.ts"
import type * as TokenSource from "../TokenSource.ts"
import { sanitizeCode } from "./redact.ts"
import {
  type CallOptions,
  type Checked,
  checkCall,
  checkSessionId,
  type ResolvedConfig,
} from "./options.ts"

/** A request in flight for one key, shared by every caller that joins it. */
interface Flight {
  readonly key: string
  readonly request: TokenRequest
  /** Start order: a later request's token is the newer one. */
  readonly seq: number
  /** What Effect callers await. */
  readonly deferred: Deferred.Deferred<Token.Token, TokenError | SessionEnded>
  /** What Promise-face callers wait on: plain callbacks, no fiber per caller. */
  readonly listeners: Set<(outcome: Outcome) => void>
  /** The outcome, once there is one. */
  outcome: Outcome | undefined
  /** Set when the session ended or the key was invalidated: the result is not cached. */
  fenced: boolean
  fiber: Fiber.Fiber<unknown, unknown> | undefined
}

/** How a flight ended. */
type Outcome = Exit.Exit<Token.Token, TokenError | SessionEnded>

/** A request that died: a bug in a source or a store, passed on as it is (DESIGN §2.9). */
export class Defect {
  readonly _tag = "Defect"
  readonly cause: Cause.Cause<never>
  constructor(cause: Cause.Cause<never>) {
    this.cause = cause
  }
}

/** What a wait ends with. */
export type JoinResult = Token.Token | TokenError | Defect | "interrupted"

/** Where a call stands (see `Engine.locate`). */
type Located =
  | { readonly _tag: "answered"; readonly result: JoinResult }
  | { readonly _tag: "waiting"; readonly flight: Flight; readonly generation: number }

const asEffect = (result: JoinResult): Effect.Effect<Token.Token, TokenError> =>
  result === "interrupted"
    ? Effect.interrupt
    : "jwt" in result
      ? Effect.succeed(result)
      : result instanceof Defect
        ? Effect.failCause(result.cause)
        : Effect.fail(result)

/** The outcome of a flight whose session ended before it finished. */
class SessionEnded {
  readonly _tag = "SessionEnded"
}
const sessionEnded = new SessionEnded()

/** Which tokens `invalidate` drops; an omitted field matches everything. */
export interface InvalidateFilter {
  readonly sessionId?: string | undefined
  readonly template?: string | undefined
  readonly organizationId?: string | undefined
}

/** Options of `watch`: the key to keep fresh. */
export interface WatchOptions {
  readonly template?: string | undefined
  readonly organizationId?: string | undefined
  readonly expirationBuffer?: number | undefined
  readonly sessionId?: string | undefined
}

/** A handle on one watched key: the contract every adapter is built on. */
export interface TokenWatcher {
  /** The current state; checked against the clock on every call. */
  readonly getSnapshot: () => Token.TokenState
  /**
   * Calls `listener` on every state change (never synchronously from
   * `subscribe` itself: read `getSnapshot()` after subscribing). The first
   * subscriber of a key starts a fetch and background refresh; handles of
   * one key and buffer share them; the last unsubscribe stops every timer and
   * fiber of the key.
   */
  readonly subscribe: (listener: (state: Token.TokenState) => void) => () => void
  /** Starts a `skipCache` fetch; resolves once its result is in the state. Never rejects. */
  readonly refresh: () => Promise<void>
}

/** What a client holds right now: for tests that check nothing is left running. */
export interface Activity {
  /** Fibers of the client still running: requests, retries, refreshers, callers. */
  readonly fibers: number
  /** Requests in flight. */
  readonly requests: number
  /** Keys with at least one subscribed watcher. */
  readonly watchedKeys: number
  /** Tokens in the cache. */
  readonly cachedTokens: number
}

const SEP = "\u0000"

/** The cache key of (session, template, organization). */
export const keyOf = (
  sessionId: string,
  template: string | undefined,
  organizationId: string | undefined,
): string =>
  organizationId === undefined
    ? template === undefined
      ? sessionId
      : sessionId + SEP + template
    : sessionId + SEP + (template ?? "") + SEP + SEP + organizationId

const SIGNED_OUT: Token.TokenState = { status: "signed-out" }
const LOADING: Token.TokenState = { status: "loading" }

const tokenOf = (state: Token.TokenState): Token.Token | undefined =>
  (state as { readonly token?: Token.Token | undefined }).token

/** What the engine needs from its context. */
export interface Deps {
  readonly config: ResolvedConfig
  readonly source: TokenSource.Service
  readonly cache: TokenCache.Service
  readonly lifecycle: Lifecycle.Service
  readonly clock: Clock.Clock
  readonly context: Context.Context<never>
}

/**
 * The state machine of one client: session and generation, cache, requests
 * in flight, watchers. Every method that changes state is synchronous;
 * requests and refreshers run as fibers it forks and tracks.
 */
export class Engine {
  readonly config: ResolvedConfig
  readonly clock: Clock.Clock
  private readonly source: TokenSource.Service
  private readonly cache: TokenCache.Service
  readonly lifecycle: Lifecycle.Service
  private readonly context: Context.Context<never>
  private readonly sessionListeners = new Set<(sessionId: string | null) => void>()
  private readonly schedule: Schedule.Schedule<number, TokenSourceError>
  private readonly retryable: (error: TokenSourceError) => boolean

  /** The current session, its generation, and what follows from it. */
  sessionId: string | null = null
  generation = 0
  private sessionProblem: InvalidOptionsError | undefined
  /** The cache key of the current session's plain token, when there is one. */
  private defaultKey: string | undefined

  /** The flight each key's callers join (the latest one started). */
  private readonly flights = new Map<string, Flight>()
  /**
   * Every flight still running, joinable or not: a `skipCache` flight takes
   * over its key in `flights`, and sign-out and `invalidate` must still fence
   * the older one.
   */
  private readonly live = new Set<Flight>()
  /** Which request each cached token came from (its `Flight.seq`). */
  private readonly origins = new WeakMap<Token.Token, number>()
  private requestSeq = 0
  private readonly fibers = new Set<Fiber.Fiber<unknown, unknown>>()
  private readonly watches = new Map<string, Watch>()
  disposed = false

  constructor(deps: Deps) {
    this.config = deps.config
    this.clock = deps.clock
    this.source = deps.source
    this.cache = deps.cache
    this.lifecycle = deps.lifecycle
    this.context = deps.context
    this.schedule = RetryPolicy.schedule(deps.config.retry)
    this.retryable = RetryPolicy.isRetryable(deps.config.retry)
  }

  /** The cached token of `key` if it is good for `bufferMillis` more. */
  private usable(key: string, bufferMillis: number): Token.Token | undefined {
    const token = this.cache.get(key)
    return token !== undefined &&
      this.clock.currentTimeMillisUnsafe() + bufferMillis < token.expiresAt
      ? token
      : undefined
  }

  /**
   * The synchronous cache check: a usable cached token, `null` when signed
   * out, an `InvalidOptionsError`, or `undefined` when a request is needed.
   */
  peek(options: CallOptions | undefined): Token.Token | InvalidOptionsError | null | undefined {
    if (options === undefined) {
      const key = this.defaultKey
      if (key === undefined) return this.sessionId === null ? null : this.sessionProblem
      return this.usable(key, this.config.bufferMillis)
    }
    const checked = checkCall(options, this.config.bufferMillis)
    return checked instanceof InvalidOptionsError ? checked : this.peekChecked(checked)
  }

  /** `peek` for options already checked. */
  peekChecked(checked: Checked): Token.Token | InvalidOptionsError | null | undefined {
    const sessionId = checked.sessionId ?? this.sessionId
    if (sessionId === null) return null
    if (checked.sessionId === undefined && this.sessionProblem) return this.sessionProblem
    if (checked.skipCache) return undefined
    return this.usable(
      keyOf(sessionId, checked.template, checked.organizationId),
      checked.bufferMillis,
    )
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
      const step = this.locate(checked, refresh)
      if (step._tag === "answered") return asEffect(step.result)
      return Effect.flatMap(Effect.exit(Deferred.await(step.flight.deferred)), (outcome) => {
        const result = this.interpret(checked, step.generation, outcome)
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
      const located = this.locate(checked, false)
      if (located._tag === "answered") return done(located.result)
      const listener = (outcome: Outcome): void => {
        waiting = undefined
        const result = this.interpret(checked, located.generation, outcome)
        return result === "again" ? step() : done(result)
      }
      // A source that answers synchronously has finished the flight already.
      if (located.flight.outcome !== undefined) return listener(located.flight.outcome)
      waiting = { flight: located.flight, listener }
      located.flight.listeners.add(listener)
    }
    step()
    return () => {
      waiting?.flight.listeners.delete(waiting.listener)
      waiting = undefined
    }
  }

  /**
   * Where a call stands now: answered (a usable cached token, signed out, a
   * bad session id, disposed), or waiting on the key's flight — joined, or
   * started (always started for `skipCache`).
   */
  private locate(checked: Checked, refresh: boolean): Located {
    if (this.disposed) return { _tag: "answered", result: "interrupted" }
    const explicit = checked.sessionId
    const sessionId = explicit ?? this.sessionId
    if (sessionId === null) return { _tag: "answered", result: new NotSignedInError() }
    if (explicit === undefined && this.sessionProblem) {
      return { _tag: "answered", result: this.sessionProblem }
    }
    const key = keyOf(sessionId, checked.template, checked.organizationId)
    if (!checked.skipCache && !refresh) {
      const token = this.usable(key, checked.bufferMillis)
      if (token !== undefined) return { _tag: "answered", result: token }
    }
    const flight =
      (checked.skipCache ? undefined : this.flights.get(key)) ??
      this.startFlight(key, {
        sessionId,
        template: checked.template,
        organizationId: checked.organizationId,
      })
    return { _tag: "waiting", flight, generation: this.generation }
  }

  /**
   * What a finished flight means for a caller who asked at `generation`: its
   * answer, or `"again"` when it asked for the current session and that
   * session changed meanwhile (it is answered for the new one).
   */
  private interpret(checked: Checked, generation: number, outcome: Outcome): JoinResult | "again" {
    const current = checked.sessionId === undefined
    if (Exit.isSuccess(outcome)) {
      return current && this.generation !== generation ? "again" : outcome.value
    }
    const failure = Cause.findErrorOption(outcome.cause)
    if (failure._tag === "None") {
      return Cause.hasDies(outcome.cause)
        ? new Defect(outcome.cause as Cause.Cause<never>)
        : "interrupted"
    }
    if (!(failure.value instanceof SessionEnded)) return failure.value
    return current ? "again" : new NotSignedInError({ sessionId: checked.sessionId })
  }

  private startFlight(key: string, request: TokenRequest): Flight {
    const flight: Flight = {
      key,
      request,
      seq: ++this.requestSeq,
      deferred: Deferred.makeUnsafe(),
      listeners: new Set(),
      outcome: undefined,
      fenced: false,
      fiber: undefined,
    }
    this.flights.set(key, flight)
    this.live.add(flight)
    let attempts = 0
    const attempt = Effect.suspend(() => {
      attempts++
      return this.source.fetch(request)
    }).pipe(
      Effect.timeoutOrElse({
        duration: Duration.millis(this.config.requestTimeout),
        orElse: () =>
          Effect.fail(
            new TokenSourceError({
              cause: RetryPolicy.timeoutCause,
              message: "the request timed out",
            }),
          ),
      }),
    )
    const program = attempt.pipe(
      Effect.retry({ schedule: this.schedule, while: this.retryable }),
      Effect.onExit((exit) => this.settle(flight, exit, attempts)),
    )
    flight.fiber = this.fork(program)
    return flight
  }

  /**
   * Finishes a flight: every state change first, then its waiters. Whatever
   * throws meanwhile (a store, a listener) still answers every waiter, with
   * the defect itself, logged once (DESIGN §2.9).
   */
  private settle(
    flight: Flight,
    exit: Exit.Exit<string, TokenSourceError>,
    attempts: number,
  ): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.flights.get(flight.key) === flight) this.flights.delete(flight.key)
      this.live.delete(flight)
      if (Deferred.isDoneUnsafe(flight.deferred)) return Effect.void
      let outcome: Outcome
      try {
        outcome = this.outcomeOf(flight, exit, attempts)
      } catch (defect) {
        outcome = Exit.die(defect)
      }
      finish(flight, outcome)
      return Exit.isFailure(outcome) && Cause.hasDies(outcome.cause)
        ? Effect.logError(
            "tok: a token request died (a bug in the source or the store)",
            outcome.cause,
          )
        : Effect.void
    })
  }

  /** What a finished request means: a token (cached unless fenced), or a typed failure. */
  private outcomeOf(
    flight: Flight,
    exit: Exit.Exit<string, TokenSourceError>,
    attempts: number,
  ): Outcome {
    if (Exit.isSuccess(exit)) {
      const now = this.clock.currentTimeMillisUnsafe()
      const made = Token.make(exit.value, flight.request, now)
      if (Token.isDecodeFailure(made)) return Exit.fail(new MalformedTokenError(made))
      // A JWT the client holds keeps the expiry it was given when first
      // received: a caching proxy that answers it again never extends its life.
      const held = this.cache.get(flight.key)
      const token: Token.Token =
        held !== undefined && held.jwt === made.jwt ? { ...held, source: "network" } : made
      if (token.expiresAt <= now) {
        return Exit.fail(new TokenUnavailableError({ reason: "server", attempts }))
      }
      if (!flight.fenced && token === made) this.store(flight.key, made, flight.seq)
      return Exit.succeed(token)
    }
    if (Cause.hasInterruptsOnly(exit.cause)) return Exit.interrupt()
    const failure = Cause.findErrorOption(exit.cause)
    // A source that died is a bug, passed on as it is: never a network failure.
    if (failure._tag === "None") return Exit.failCause(exit.cause as Cause.Cause<never>)
    const error = classify(failure.value, flight.request, attempts)
    if (error._tag === "NotSignedInError") this.endSession(flight.request.sessionId)
    return Exit.fail(error)
  }

  /**
   * Caches a fresh token unless the cached one came from a request that
   * started later (DESIGN's monotonic cache): a slow old request never
   * replaces a newer token, and a `skipCache` result is always cached, even
   * when the server now issues shorter tokens.
   */
  private store(key: string, token: Token.Token, seq: number): void {
    const existing = this.cache.get(key)
    if (existing !== undefined) {
      if ((this.origins.get(existing) ?? 0) > seq) return
      // A token too short-lived to be answered from the cache never evicts one that is.
      const now = this.clock.currentTimeMillisUnsafe()
      const buffer = this.config.bufferMillis
      if (now + buffer < existing.expiresAt && now + buffer >= token.expiresAt) return
    }
    const cached: Token.Token = { ...token, source: "cache" }
    this.origins.set(cached, seq)
    this.cache.set(key, cached)
    for (const watch of [...this.watches.values()]) watch.onStored(key, cached)
  }

  /** Calls `listener` with the new session id on every session change. */
  onSession(listener: (sessionId: string | null) => void): () => void {
    this.sessionListeners.add(listener)
    return () => void this.sessionListeners.delete(listener)
  }

  /** Changes the current session: clears the previous one's tokens and requests. */
  setSession(sessionId: string | null): void {
    if (sessionId !== null && typeof sessionId !== "string") {
      throw new InvalidOptionsError({ detail: "a session id must be a string or null" })
    }
    if (sessionId === this.sessionId || this.disposed) return
    const previous = this.sessionId
    this.sessionId = sessionId
    this.generation++
    this.sessionProblem = sessionId === null ? undefined : checkSessionId(sessionId, "session id")
    this.defaultKey =
      sessionId !== null && this.sessionProblem === undefined
        ? keyOf(sessionId, undefined, undefined)
        : undefined
    const ended = previous === null ? [] : this.dropSession(previous)
    for (const watch of [...this.watches.values()]) watch.onSessionChange()
    this.endFlights(ended)
    for (const listener of [...this.sessionListeners]) {
      // A listener that changed the session again has had everyone told already.
      if (this.sessionId !== sessionId) break
      try {
        listener(sessionId)
      } catch (error) {
        reportListenerError(error)
      }
    }
  }

  /** A 401 for `sessionId`: sign it out. */
  private endSession(sessionId: string): void {
    if (sessionId === this.sessionId) return this.setSession(null)
    this.endFlights(this.dropSession(sessionId))
    // Its watchers stop showing the ended session's token (DESIGN §2.5).
    for (const watch of [...this.watches.values()]) watch.onSessionEnded(sessionId)
  }

  /** Drops a session's tokens and fences its requests; returns them to be ended. */
  private dropSession(sessionId: string): Array<Flight> {
    for (const [key, token] of [...this.cache.entries()]) {
      if (token.sessionId === sessionId) this.cache.delete(key)
    }
    const ended = [...this.live].filter((flight) => flight.request.sessionId === sessionId)
    for (const flight of ended) this.fence(flight)
    return ended
  }

  /** Its late result is not cached, and new callers no longer join it. */
  private fence(flight: Flight): void {
    flight.fenced = true
    if (this.flights.get(flight.key) === flight) this.flights.delete(flight.key)
  }

  private endFlights(flights: ReadonlyArray<Flight>): void {
    for (const flight of flights) {
      finish(flight, Exit.fail(sessionEnded))
      flight.fiber?.interruptUnsafe()
    }
  }

  /** Drops matching tokens and fences matching requests; watchers of them refetch. */
  invalidate(filter: InvalidateFilter | undefined): void {
    const matches = (request: TokenRequest) =>
      (filter?.sessionId === undefined || filter.sessionId === request.sessionId) &&
      (filter?.template === undefined || filter.template === request.template) &&
      (filter?.organizationId === undefined ||
        (filter.organizationId === "" ? undefined : filter.organizationId) ===
          request.organizationId)
    for (const [key, token] of [...this.cache.entries()]) {
      if (matches(token)) this.cache.delete(key)
    }
    for (const flight of [...this.live]) {
      if (matches(flight.request)) this.fence(flight)
    }
    for (const watch of [...this.watches.values()]) {
      const request = watch.request()
      if (request !== undefined && matches(request)) watch.poke(true)
    }
  }

  /** Runs `effect` on the client's context, detached; interrupted on dispose. */
  fork<A, E>(effect: Effect.Effect<A, E>): Fiber.Fiber<A, E> {
    const fiber = Effect.runForkWith(this.context)(effect)
    if (fiber.pollUnsafe() === undefined) {
      this.fibers.add(fiber)
      fiber.addObserver(() => this.fibers.delete(fiber))
    }
    return fiber
  }

  /**
   * A handle on the key `checked` names. Handles of one key and buffer share
   * one refresher while any of them is subscribed.
   */
  watch(checked: Checked): TokenWatcher {
    const id = `${checked.sessionId ?? ""}${SEP}${checked.template ?? ""}${SEP}${
      checked.organizationId ?? ""
    }${SEP}${checked.bufferMillis}`
    let own: Watch | undefined
    const current = (): Watch => {
      const live = this.watches.get(id)
      if (live !== undefined) return (own = live)
      if (own === undefined || own.stopped) own = new Watch(this, id, checked)
      return own
    }
    return {
      getSnapshot: () => current().getSnapshot(),
      subscribe: (listener) => current().subscribe(listener),
      refresh: () => current().refresh(),
    }
  }

  /** Makes `watch` the refresher of its key while it has subscribers. */
  register(watch: Watch): void {
    this.watches.set(watch.id, watch)
  }

  /** Forgets `watch` when its last subscriber leaves. */
  unregister(watch: Watch): void {
    if (this.watches.get(watch.id) === watch) this.watches.delete(watch.id)
  }

  /** What the client holds right now. */
  activity(): Activity {
    return {
      fibers: this.fibers.size,
      requests: this.live.size,
      watchedKeys: this.watches.size,
      cachedTokens: this.cache.size(),
    }
  }

  /** Closes the client: every fiber is interrupted, every watcher stopped, the cache emptied. */
  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    for (const watch of [...this.watches.values()]) watch.stop()
    this.watches.clear()
    for (const fiber of [...this.fibers]) fiber.interruptUnsafe()
    this.cache.clear()
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

/** The problem with an `invalidate` filter, if any. */
export const checkFilter = (filter: unknown): InvalidOptionsError | undefined =>
  filter !== undefined && (typeof filter !== "object" || filter === null)
    ? new InvalidOptionsError({ detail: "the invalidate filter must be an object" })
    : undefined

/** Maps a source failure to the `TokenError` the caller sees (DESIGN §2.5, §3). */
export const classify = (
  error: TokenSourceError,
  request: TokenRequest,
  attempts: number,
): TokenError => {
  const status = error.status
  const reason = RetryPolicy.transientReason(error)
  if (reason !== undefined) {
    return new TokenUnavailableError({
      reason,
      status,
      retryAfterMs: RetryPolicy.retryAfterOf(error),
      attempts,
    })
  }
  if (status === undefined) return new TokenUnavailableError({ reason: "network", attempts })
  if (status >= 200 && status < 300) return new MalformedTokenError({ detail: describe(error) })
  if (status === 401) {
    // A 401 means the session has ended — unless the server says the
    // credentials are wrong: a bad secret key must not sign every user out.
    const code = sanitizeCode(error.code)
    return code !== undefined && CREDENTIAL_CODES.has(code)
      ? new TokenRequestError({ status, code })
      : new NotSignedInError({ sessionId: request.sessionId })
  }
  if (status === 404 && request.template !== undefined) {
    return new TemplateNotFoundError({ template: request.template })
  }
  return new TokenRequestError({ status, code: sanitizeCode(error.code) })
}

/** Clerk's error codes for a request whose credentials (not session) are wrong. */
const CREDENTIAL_CODES: ReadonlySet<string> = new Set([
  "clerk_key_invalid",
  "secret_key_invalid",
  "authorization_header_missing",
  "authorization_header_format_invalid",
  "authorization_invalid",
])

/** Completes a flight: its Effect waiters, then its Promise-face listeners. */
const finish = (flight: Flight, outcome: Outcome): void => {
  flight.outcome = outcome
  Deferred.doneUnsafe(flight.deferred, outcome)
  for (const listener of [...flight.listeners]) listener(outcome)
  flight.listeners.clear()
}

/**
 * One watched key: its state, its subscribers, and the fiber that keeps it
 * fresh while anyone subscribes.
 */
class Watch {
  readonly id: string
  private readonly listeners = new Set<(state: Token.TokenState) => void>()
  private state: Token.TokenState
  /** The session the state belongs to (`null`: signed out). */
  private stateSession: string | null
  private fiber: Fiber.Fiber<unknown, unknown> | undefined
  private wake: Deferred.Deferred<void> | undefined
  /** Set by `poke`: the refresher looks again before it sleeps. */
  private poked = false
  /** Set by `refresh()` and `invalidate`: the next fetch is a `skipCache` one. */
  private force = false
  /** `refresh()` callers waiting for the next forced fetch to land. */
  private refreshWaiters: Array<() => void> = []
  private stopLifecycle: (() => void) | undefined
  /** The token a refresh is planned for, and when. */
  private plannedFor: Token.Token | undefined
  private refreshAt = 0
  /**
   * Set after a permanent failure (or the key's session ended): no request
   * until a trigger — `refresh()`, `invalidate`, a session change, a resume.
   */
  private parked = false
  /** Set by a trigger: the next turn may make one request, parked or not. */
  private triggered = false
  /** No background request before this (epoch ms): the backoff after failed or stale refreshes. */
  private retryAt = 0
  /** How many backoffs in a row: 5 s · 2^n, capped at 5 min. */
  private backoffs = 0
  stopped = false

  private readonly engine: Engine
  private readonly checked: Checked

  constructor(engine: Engine, id: string, checked: Checked) {
    this.engine = engine
    this.id = id
    this.checked = checked
    this.stateSession = this.sessionId()
    this.state = this.initialState()
  }

  private sessionId(): string | null {
    return this.checked.sessionId ?? this.engine.sessionId
  }

  /** The request this watch would make now, if a session is there. */
  request(): TokenRequest | undefined {
    const sessionId = this.sessionId()
    return sessionId === null
      ? undefined
      : { sessionId, template: this.checked.template, organizationId: this.checked.organizationId }
  }

  private key(): string | undefined {
    const request = this.request()
    return request && keyOf(request.sessionId, request.template, request.organizationId)
  }

  /** A cached token good for the watch's buffer, if there is one. */
  private cached(): Token.Token | undefined {
    const hit = this.engine.peekChecked({ ...this.checked, skipCache: false })
    return hit instanceof Object && "jwt" in hit ? hit : undefined
  }

  private initialState(): Token.TokenState {
    if (this.sessionId() === null) return SIGNED_OUT
    const token = this.cached()
    return token === undefined ? LOADING : { status: "ready", token }
  }

  getSnapshot(): Token.TokenState {
    if (this.fiber === undefined) this.mirrorCache()
    const next = this.expiredState()
    if (next === undefined) return this.state
    // A timer was late (sleeping laptop, throttled tab): never show an expired token.
    this.state = next
    if (this.fiber !== undefined) {
      queueMicrotask(() => {
        if (this.state === next) this.notify(next)
      })
      if (this.engine.config.autoRefresh) this.wakeUp()
    }
    return next
  }

  /** The state without its token once that token has expired; `undefined` while it is valid. */
  private expiredState(): Token.TokenState | undefined {
    const state = this.state
    const token = tokenOf(state)
    if (token === undefined || this.engine.clock.currentTimeMillisUnsafe() < token.expiresAt) {
      return undefined
    }
    return state.status === "error" ? { status: "error", error: state.error } : LOADING
  }

  /** In the refresher: an expired token leaves the state, and subscribers are told. */
  private dropExpired(): void {
    const next = this.expiredState()
    if (next !== undefined) this.setState(next)
  }

  /** Without a refresher nobody updates the state: follow the session and the cache. */
  private mirrorCache(): void {
    const session = this.sessionId()
    if (session !== this.stateSession) {
      this.stateSession = session
      this.state = this.initialState()
      return
    }
    if (session === null) return
    const token = this.cached()
    if (token !== undefined && token.jwt !== tokenOf(this.state)?.jwt) {
      this.state = { status: "ready", token }
    }
  }

  subscribe(listener: (state: Token.TokenState) => void): () => void {
    const wrapped = (state: Token.TokenState) => listener(state)
    // Start before adding the listener: nothing that happens while starting
    // reaches it synchronously (read `getSnapshot()` after subscribing).
    if (this.listeners.size === 0) this.start()
    this.listeners.add(wrapped)
    let done = false
    return () => {
      if (done) return
      done = true
      this.listeners.delete(wrapped)
      if (this.listeners.size === 0) this.stop()
    }
  }

  refresh(): Promise<void> {
    if (this.engine.disposed) return Promise.resolve()
    return new Promise((resolve) => {
      if (this.fiber === undefined) {
        // Nobody subscribes: one fetch, its result into the state.
        this.engine.fork(this.fetch(true).pipe(Effect.ensuring(Effect.sync(resolve))))
      } else {
        this.refreshWaiters.push(resolve)
        this.poke(true)
      }
    })
  }

  onStored(key: string, token: Token.Token): void {
    if (this.fiber !== undefined && key === this.key()) this.setState({ status: "ready", token })
  }

  /** A 401 ended `sessionId`: a watcher of it shows signed-out and waits for a trigger. */
  onSessionEnded(sessionId: string): void {
    if (this.checked.sessionId !== sessionId) return
    this.parked = true
    this.setState(SIGNED_OUT)
    this.wakeUp()
  }

  onSessionChange(): void {
    if (this.checked.sessionId !== undefined) return
    const running = this.fiber !== undefined
    if (running) this.interrupt()
    this.plannedFor = undefined
    this.parked = false
    this.retryAt = 0
    this.backoffs = 0
    this.stateSession = this.sessionId()
    this.setState(this.initialState())
    if (running) this.run()
  }

  /**
   * A trigger (`refresh()`, `invalidate`, a resume event): wakes the
   * refresher, which looks again and may make one request even after a
   * permanent failure; `force` makes it a `skipCache` one.
   */
  poke(force: boolean): void {
    if (force) this.force = true
    this.triggered = true
    this.wakeUp()
  }

  /** Wakes the refresher to look again, without a trigger. */
  private wakeUp(): void {
    this.poked = true
    const wake = this.wake
    if (wake !== undefined) {
      this.wake = undefined
      Deferred.doneUnsafe(wake, Effect.void)
    }
  }

  private start(): void {
    if (this.engine.disposed) return
    this.stopped = false
    this.engine.register(this)
    this.stopLifecycle = this.engine.lifecycle.onResume(() => this.poke(false))
    // Catch up silently with what changed while nobody was subscribed.
    this.mirrorCache()
    this.run()
  }

  private run(): void {
    this.fiber = this.engine.fork(this.loop())
  }

  private interrupt(): void {
    const fiber = this.fiber
    this.fiber = undefined
    this.wake = undefined
    fiber?.interruptUnsafe()
  }

  stop(): void {
    this.interrupt()
    this.stopLifecycle?.()
    this.stopLifecycle = undefined
    this.stopped = true
    this.force = false
    this.settleRefreshes(this.refreshWaiters)
    this.engine.unregister(this)
  }

  private setState(next: Token.TokenState): void {
    if (next === this.state) return
    const current = this.state
    if (
      next.status === current.status &&
      next.status !== "error" &&
      tokenOf(next)?.jwt === tokenOf(current)?.jwt
    ) {
      return
    }
    this.state = next
    this.notify(next)
  }

  private notify(state: Token.TokenState): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(state)
      } catch (error) {
        reportListenerError(error)
      }
    }
  }

  private settleRefreshes(waiters: Array<() => void>): void {
    if (waiters === this.refreshWaiters) this.refreshWaiters = []
    for (const resolve of waiters) resolve()
  }

  /** A token of the state that is still valid (not necessarily outside the buffer). */
  private validToken(): Token.Token | undefined {
    const token = tokenOf(this.state)
    return token !== undefined && this.engine.clock.currentTimeMillisUnsafe() < token.expiresAt
      ? token
      : undefined
  }

  /** One fetch into the state: `skipCache` when forced, else a refresh that joins a request in flight. */
  private fetch(skipCache: boolean): Effect.Effect<FetchOutcome> {
    return Effect.suspend(() => {
      if (this.validToken() === undefined && this.request() !== undefined) {
        this.setState(LOADING)
      }
      return Effect.matchCause(
        this.engine.fetchOrJoin({ ...this.checked, skipCache }, !skipCache),
        {
          onSuccess: (token) => {
            this.setState({ status: "ready", token })
            return "ok" as const
          },
          onFailure: (cause): FetchOutcome => {
            const failure = Cause.findErrorOption(cause)
            // A defect was logged where it happened; the state stays as it was.
            if (failure._tag === "None") return Cause.hasDies(cause) ? "permanent" : "interrupted"
            const error = failure.value
            // The session has ended (the current one, or the one this key names).
            if (error._tag === "NotSignedInError") {
              this.setState(SIGNED_OUT)
              return "permanent"
            }
            this.setState({ status: "error", error, token: this.validToken() })
            return error._tag === "TokenUnavailableError" ? "transient" : "permanent"
          },
        },
      )
    })
  }

  /** When to refresh `token`: `expiresAt − buffer − L`, L ∈ [J/2, J]; half its life if short. */
  private planFor(token: Token.Token): Effect.Effect<number> {
    if (this.plannedFor === token) return Effect.succeed(this.refreshAt)
    const buffer = this.checked.bufferMillis
    const jitter = this.engine.config.refreshJitter
    const lifetime = token.expiresAt - token.issuedAt
    return Effect.map(Random.next, (random) => {
      // Whole milliseconds: a fractional target can sit a rounding error
      // ahead of a clock that has already reached it (a busy loop).
      const at = Math.floor(
        lifetime < buffer + jitter
          ? token.issuedAt + lifetime / 2
          : token.expiresAt - buffer - (jitter === 0 ? 0 : jitter / 2 + (random * jitter) / 2),
      )
      this.plannedFor = token
      this.refreshAt = at
      return at
    })
  }

  /** Sleeps until `at` (epoch ms) or until poked, whichever is first. */
  private sleepUntil(at: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.poked) return Effect.void
      // Wake when the token shown expires too, to stop showing it (and say so).
      const expiry = this.validToken()?.expiresAt ?? Infinity
      const millis = Math.ceil(Math.min(at, expiry) - this.engine.clock.currentTimeMillisUnsafe())
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

  /**
   * Keeps the key fresh while subscribed. Each turn looks at the clock and
   * the cache (timers are only hints) and decides: fetch now, or sleep until
   * the planned refresh, the end of a backoff, or a trigger.
   */
  private loop(): Effect.Effect<void> {
    return Effect.gen({ self: this }, function* () {
      const engine = this.engine
      const clock = engine.clock
      const auto = engine.config.autoRefresh
      let first = true
      let hadToken = false
      for (;;) {
        this.poked = false
        this.dropExpired()
        const force = this.force
        this.force = false
        const triggered = this.triggered
        this.triggered = false
        if (triggered) {
          // One request per trigger, whatever failed before.
          this.parked = false
          this.retryAt = 0
        }
        if (this.request() === undefined) {
          this.setState(SIGNED_OUT)
          this.settleRefreshes(this.refreshWaiters)
          yield* this.sleepUntil(Infinity)
          continue
        }
        const cached = this.cached()
        // A token someone else fetched; the one shown with an error stays in error.
        if (cached !== undefined && cached.jwt !== tokenOf(this.state)?.jwt) {
          this.setState({ status: "ready", token: cached })
        }
        if (this.parked) {
          // A permanent failure: nothing on a timer, only a trigger (DESIGN §2.4).
          this.settleRefreshes(this.refreshWaiters)
          yield* this.sleepUntil(Infinity)
          continue
        }
        // A token still valid but inside the buffer (or too short-lived to be
        // cached) is refreshed on its plan rather than at once.
        const current = cached ?? this.validToken()
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
        if (!force && hadToken && !engine.lifecycle.isActive()) {
          // Hidden or offline once a token was had: wait for a resume event.
          yield* this.sleepUntil(Infinity)
          continue
        }
        const waiters = force ? this.refreshWaiters : []
        if (force) this.refreshWaiters = []
        const outcome = yield* this.fetch(force).pipe(
          Effect.ensuring(Effect.sync(() => this.settleRefreshes(waiters))),
        )
        if (outcome === "permanent" || outcome === "interrupted" || !auto) {
          this.parked = true
        } else if (outcome === "transient") {
          this.retryAt = clock.currentTimeMillisUnsafe() + (yield* this.backoff())
        } else if (outcome === "ok") {
          const token = this.validToken()
          const next = token === undefined ? undefined : yield* this.planFor(token)
          if (auto && (next === undefined || next <= clock.currentTimeMillisUnsafe())) {
            // It brought no newer token (a caching proxy answering the same
            // JWT): try again on the backoff, never at once.
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

/** How one fetch of a watcher ended. */
type FetchOutcome = "ok" | "transient" | "permanent" | "interrupted"

const BACKOFF_MIN_MS = 5_000
const BACKOFF_MAX_MS = 5 * 60_000

const reportListenerError = (error: unknown): void => {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError
  if (typeof report === "function") report(error)
  else console.error("tok: a TokenState listener threw", error)
}
