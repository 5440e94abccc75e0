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
import { Cause, Deferred, Duration, Effect, Exit, Random } from "effect"
import type { Schedule, Clock, Context, Fiber } from "effect"
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
  readonly deferred: Deferred.Deferred<Token.Token, TokenError | SessionEnded>
  /** Set when the session ended or the key was invalidated: the result is not cached. */
  fenced: boolean
  fiber: Fiber.Fiber<unknown, unknown> | undefined
}

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
   * Calls `listener` on every state change (never synchronously from here);
   * the first subscriber starts a fetch and background refresh, the last
   * unsubscribe stops every timer and fiber of the key.
   */
  readonly subscribe: (listener: (state: Token.TokenState) => void) => () => void
  /** Starts a `skipCache` fetch; resolves once its result is in the state. Never rejects. */
  readonly refresh: () => Promise<void>
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

/** What the engine needs from its context. */
export interface Deps {
  readonly config: ResolvedConfig
  readonly source: TokenSource.Service
  readonly cache: TokenCache.Service
  readonly lifecycle: Lifecycle.Service
  readonly clock: Clock.Clock
  readonly context: Context.Context<never>
  readonly onSessionChange: (sessionId: string | null) => void
}

export class Engine {
  readonly config: ResolvedConfig
  readonly clock: Clock.Clock
  private readonly source: TokenSource.Service
  private readonly cache: TokenCache.Service
  readonly lifecycle: Lifecycle.Service
  private readonly context: Context.Context<never>
  private readonly publishSession: (sessionId: string | null) => void
  private readonly schedule: Schedule.Schedule<number, TokenSourceError>
  private readonly retryable: (error: TokenSourceError) => boolean

  /** The current session, its generation, and what follows from it. */
  sessionId: string | null = null
  generation = 0
  private sessionProblem: InvalidOptionsError | undefined
  /** The cache key of the current session's plain token, when there is one. */
  private defaultKey: string | undefined

  private readonly flights = new Map<string, Flight>()
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
    this.publishSession = deps.onSessionChange
    this.schedule = RetryPolicy.schedule(deps.config.retry)
    this.retryable = RetryPolicy.isRetryable(deps.config.retry)
  }

  /**
   * The synchronous cache check: a usable cached token, `null` when signed
   * out, an `InvalidOptionsError`, or `undefined` when a request is needed.
   */
  peek(options: CallOptions | undefined): Token.Token | InvalidOptionsError | null | undefined {
    if (options === undefined) {
      const key = this.defaultKey
      if (key === undefined) return this.sessionId === null ? null : this.sessionProblem
      const token = this.cache.get(key)
      return token !== undefined &&
        this.clock.currentTimeMillisUnsafe() + this.config.bufferMillis < token.expiresAt
        ? token
        : undefined
    }
    const checked = checkCall(options, this.config.bufferMillis)
    if (checked instanceof InvalidOptionsError) return checked
    const sessionId = checked.sessionId ?? this.sessionId
    if (sessionId === null) return null
    if (checked.sessionId === undefined && this.sessionProblem) return this.sessionProblem
    if (checked.skipCache) return undefined
    const token = this.cache.get(keyOf(sessionId, checked.template, checked.organizationId))
    return token !== undefined &&
      this.clock.currentTimeMillisUnsafe() + checked.bufferMillis < token.expiresAt
      ? token
      : undefined
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

  /** Answers from the cache, joins the key's request in flight, or starts one. */
  fetchOrJoin(checked: Checked): Effect.Effect<Token.Token, TokenError> {
    return Effect.suspend(() => {
      if (this.disposed) return Effect.interrupt
      const explicit = checked.sessionId
      const sessionId = explicit ?? this.sessionId
      if (sessionId === null) return Effect.fail(new NotSignedInError())
      if (explicit === undefined && this.sessionProblem) return Effect.fail(this.sessionProblem)
      const generation = this.generation
      const key = keyOf(sessionId, checked.template, checked.organizationId)
      if (!checked.skipCache) {
        const token = this.cache.get(key)
        if (
          token !== undefined &&
          this.clock.currentTimeMillisUnsafe() + checked.bufferMillis < token.expiresAt
        ) {
          return Effect.succeed(token)
        }
      }
      const flight =
        (checked.skipCache ? undefined : this.flights.get(key)) ??
        this.startFlight(key, {
          sessionId,
          template: checked.template,
          organizationId: checked.organizationId,
        })
      return Effect.matchEffect(Deferred.await(flight.deferred), {
        onFailure: (error) =>
          error instanceof SessionEnded
            ? explicit === undefined
              ? this.fetchOrJoin(checked)
              : Effect.fail(new NotSignedInError({ sessionId: explicit }))
            : Effect.fail(error),
        onSuccess: (token) =>
          explicit === undefined && this.generation !== generation
            ? this.fetchOrJoin(checked)
            : Effect.succeed(token),
      })
    })
  }

  private startFlight(key: string, request: TokenRequest): Flight {
    const flight: Flight = {
      key,
      request,
      deferred: Deferred.makeUnsafe(),
      fenced: false,
      fiber: undefined,
    }
    this.flights.set(key, flight)
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
      Effect.onExit((exit) => Effect.sync(() => this.settle(flight, exit, attempts))),
    )
    flight.fiber = this.fork(program)
    return flight
  }

  /** Finishes a flight: every state change first, then its waiters. */
  private settle(
    flight: Flight,
    exit: Exit.Exit<string, TokenSourceError>,
    attempts: number,
  ): void {
    if (this.flights.get(flight.key) === flight) this.flights.delete(flight.key)
    if (Deferred.isDoneUnsafe(flight.deferred)) return
    if (Exit.isSuccess(exit)) {
      const made = Token.make(exit.value, flight.request, this.clock.currentTimeMillisUnsafe())
      if (Token.isDecodeFailure(made)) {
        Deferred.doneUnsafe(flight.deferred, Effect.fail(new MalformedTokenError(made)))
        return
      }
      if (!flight.fenced) this.store(flight.key, made)
      Deferred.doneUnsafe(flight.deferred, Effect.succeed(made))
      return
    }
    if (Cause.hasInterruptsOnly(exit.cause)) {
      Deferred.doneUnsafe(flight.deferred, Effect.interrupt)
      return
    }
    const failure = Cause.findErrorOption(exit.cause)
    const error =
      failure._tag === "Some"
        ? classify(failure.value, flight.request, attempts)
        : new TokenUnavailableError({ reason: "network", attempts })
    if (error._tag === "NotSignedInError") this.endSession(flight.request.sessionId)
    Deferred.doneUnsafe(flight.deferred, Effect.fail(error))
  }

  /** Caches a fresh token unless a token that lives longer is already there. */
  private store(key: string, token: Token.Token): void {
    const existing = this.cache.get(key)
    if (existing !== undefined && existing.expiresAt > token.expiresAt) return
    const cached: Token.Token = { ...token, source: "cache" }
    this.cache.set(key, cached)
    for (const watch of this.watches.values()) watch.onStored(key, cached)
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
    this.publishSession(sessionId)
    for (const watch of [...this.watches.values()]) watch.onSessionChange()
    this.endFlights(ended)
  }

  /** A 401 for `sessionId`: sign it out. */
  private endSession(sessionId: string): void {
    if (sessionId === this.sessionId) this.setSession(null)
    else this.endFlights(this.dropSession(sessionId))
  }

  /** Drops a session's tokens and fences its requests; returns them to be ended. */
  private dropSession(sessionId: string): Array<Flight> {
    for (const [key, token] of [...this.cache.entries()]) {
      if (token.sessionId === sessionId) this.cache.delete(key)
    }
    const ended: Array<Flight> = []
    for (const [key, flight] of [...this.flights]) {
      if (flight.request.sessionId === sessionId) {
        flight.fenced = true
        this.flights.delete(key)
        ended.push(flight)
      }
    }
    return ended
  }

  private endFlights(flights: ReadonlyArray<Flight>): void {
    for (const flight of flights) {
      Deferred.doneUnsafe(flight.deferred, Effect.fail(sessionEnded))
      flight.fiber?.interruptUnsafe()
    }
  }

  /** Drops matching tokens and fences matching requests; watchers of them refetch. */
  invalidate(filter: InvalidateFilter | undefined): void {
    if (filter !== undefined && (typeof filter !== "object" || filter === null)) {
      throw new InvalidOptionsError({ detail: "the invalidate filter must be an object" })
    }
    const matches = (request: TokenRequest) =>
      (filter?.sessionId === undefined || filter.sessionId === request.sessionId) &&
      (filter?.template === undefined || filter.template === request.template) &&
      (filter?.organizationId === undefined ||
        (filter.organizationId === "" ? undefined : filter.organizationId) ===
          request.organizationId)
    for (const [key, token] of [...this.cache.entries()]) {
      if (matches(token)) this.cache.delete(key)
    }
    for (const [key, flight] of [...this.flights]) {
      if (matches(flight.request)) {
        flight.fenced = true
        this.flights.delete(key)
      }
    }
    for (const watch of this.watches.values()) {
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

  /** A handle on the key `options` name; shares one refresher per key. */
  watch(checked: Checked): TokenWatcher {
    const id = `${checked.sessionId ?? ""}${SEP}${checked.template ?? ""}${SEP}${
      checked.organizationId ?? ""
    }${SEP}${checked.bufferMillis}`
    let record: Watch | undefined
    const acquire = (): Watch => {
      if (record === undefined || record.stopped) {
        record = this.watches.get(id) ?? new Watch(this, checked, () => this.watches.delete(id))
        this.watches.set(id, record)
      }
      return record
    }
    return {
      getSnapshot: () => (record ?? acquire()).getSnapshot(),
      subscribe: (listener) => acquire().subscribe(listener),
      refresh: () => acquire().refresh(),
    }
  }

  /** Closes the client: every fiber is interrupted, every watcher stopped. */
  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    for (const watch of [...this.watches.values()]) watch.stop()
    this.watches.clear()
    for (const fiber of [...this.fibers]) fiber.interruptUnsafe()
  }
}

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
      retryAfterMs: error.retryAfterMs,
      attempts,
    })
  }
  if (status === undefined) return new TokenUnavailableError({ reason: "network", attempts })
  if (status >= 200 && status < 300) return new MalformedTokenError({ detail: describe(error) })
  if (status === 401) return new NotSignedInError({ sessionId: request.sessionId })
  if (status === 404 && request.template !== undefined) {
    return new TemplateNotFoundError({ template: request.template })
  }
  return new TokenRequestError({ status, code: error.code })
}

/**
 * One watched key: its state, its subscribers, and the fiber that keeps it
 * fresh while anyone subscribes.
 */
class Watch {
  private readonly listeners = new Set<(state: Token.TokenState) => void>()
  private state: Token.TokenState
  private fiber: Fiber.Fiber<unknown, unknown> | undefined
  private wake: Deferred.Deferred<void> | undefined
  private force = false
  private settledWaiters: Array<() => void> = []
  private stopLifecycle: (() => void) | undefined
  /** The token a refresh is planned for, and when. */
  private plannedFor: Token.Token | undefined
  private refreshAt = 0
  stopped = false

  private readonly engine: Engine
  private readonly checked: Checked
  private readonly release: () => void

  constructor(engine: Engine, checked: Checked, release: () => void) {
    this.engine = engine
    this.checked = checked
    this.release = release
    this.state = this.initialState()
  }

  /** The request this watch would make now, if a session is there. */
  request(): TokenRequest | undefined {
    const sessionId = this.checked.sessionId ?? this.engine.sessionId
    return sessionId === null
      ? undefined
      : { sessionId, template: this.checked.template, organizationId: this.checked.organizationId }
  }

  private key(): string | undefined {
    const request = this.request()
    return request && keyOf(request.sessionId, request.template, request.organizationId)
  }

  private initialState(): Token.TokenState {
    const key = this.key()
    if (key === undefined) return SIGNED_OUT
    const token = this.engine.peek({ ...this.checked, skipCache: false })
    return token instanceof Object && "jwt" in token ? { status: "ready", token } : LOADING
  }

  getSnapshot(): Token.TokenState {
    const state = this.state
    if (
      state.status === "signed-out" ||
      (state.status === "loading" && state.token === undefined)
    ) {
      return state
    }
    const token = state.token
    if (token !== undefined && this.engine.clock.currentTimeMillisUnsafe() >= token.expiresAt) {
      // A timer was late (sleeping laptop, throttled tab): never show an expired token.
      const next: Token.TokenState =
        state.status === "error" ? { status: "error", error: state.error } : LOADING
      this.state = next
      queueMicrotask(() => this.notify(next))
      this.poke(false)
      return next
    }
    return state
  }

  subscribe(listener: (state: Token.TokenState) => void): () => void {
    const wrapped = (state: Token.TokenState) => listener(state)
    this.listeners.add(wrapped)
    if (this.listeners.size === 1) this.start()
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
      this.settledWaiters.push(resolve)
      if (this.fiber === undefined) {
        // Nobody subscribes: one fetch, its result into the state.
        this.engine.fork(
          this.fetch(true).pipe(Effect.ensuring(Effect.sync(() => this.settleWaiters()))),
        )
      } else {
        this.poke(true)
      }
    })
  }

  onStored(key: string, token: Token.Token): void {
    if (this.fiber !== undefined && key === this.key()) this.setState({ status: "ready", token })
  }

  onSessionChange(): void {
    if (this.checked.sessionId !== undefined) return
    const running = this.fiber !== undefined
    if (running) this.interrupt()
    this.plannedFor = undefined
    this.setState(this.engine.sessionId === null ? SIGNED_OUT : this.initialState())
    if (running) this.run()
  }

  /** Wakes the refresher; `force` makes its next step a `skipCache` fetch. */
  poke(force: boolean): void {
    if (force) this.force = true
    const wake = this.wake
    if (wake !== undefined) {
      this.wake = undefined
      Deferred.doneUnsafe(wake, Effect.void)
    }
  }

  private start(): void {
    this.stopped = false
    this.stopLifecycle = this.engine.lifecycle.onResume(() => this.poke(false))
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
    this.settleWaiters()
    this.release()
  }

  private setState(next: Token.TokenState): void {
    if (next === this.state) return
    const current = this.state
    if (
      next.status === current.status &&
      next.status !== "error" &&
      (next as { token?: Token.Token }).token?.jwt ===
        (current as { token?: Token.Token }).token?.jwt
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

  private settleWaiters(): void {
    const waiters = this.settledWaiters
    this.settledWaiters = []
    for (const resolve of waiters) resolve()
  }

  /** A token of the state that is still valid (not necessarily outside the buffer). */
  private validToken(): Token.Token | undefined {
    const token = (this.state as { token?: Token.Token }).token
    return token !== undefined && this.engine.clock.currentTimeMillisUnsafe() < token.expiresAt
      ? token
      : undefined
  }

  /** One fetch into the state; `skipCache` for refreshes. */
  private fetch(skipCache: boolean): Effect.Effect<"ok" | "failed" | "signed-out"> {
    return Effect.suspend(() => {
      if (this.validToken() === undefined && this.request() !== undefined) {
        this.setState(LOADING)
      }
      return Effect.matchCause(this.engine.fetchOrJoin({ ...this.checked, skipCache }), {
        onSuccess: (token) => {
          this.setState({ status: "ready", token })
          return "ok" as const
        },
        onFailure: (cause) => {
          const failure = Cause.findErrorOption(cause)
          if (failure._tag === "None") return "failed" as const
          const error = failure.value
          if (error._tag === "NotSignedInError" && this.checked.sessionId === undefined) {
            this.setState(SIGNED_OUT)
            return "signed-out" as const
          }
          this.setState({ status: "error", error, token: this.validToken() })
          return "failed" as const
        },
      })
    })
  }

  /** When to refresh `token`: `expiresAt − buffer − L`, L ∈ [J/2, J]; half its life if short. */
  private planFor(token: Token.Token): Effect.Effect<number> {
    if (this.plannedFor === token) return Effect.succeed(this.refreshAt)
    const buffer = this.checked.bufferMillis
    const jitter = this.engine.config.refreshJitter
    const lifetime = token.expiresAt - token.issuedAt
    return Effect.map(Random.next, (random) => {
      const at =
        lifetime < buffer + jitter
          ? token.issuedAt + lifetime / 2
          : token.expiresAt - buffer - (jitter === 0 ? 0 : jitter / 2 + (random * jitter) / 2)
      this.plannedFor = token
      this.refreshAt = at
      return at
    })
  }

  /** Sleeps until `at` (epoch ms) or until poked, whichever is first. */
  private sleepUntil(at: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      const wake = Deferred.makeUnsafe<void>()
      this.wake = wake
      const millis = at - this.engine.clock.currentTimeMillisUnsafe()
      if (millis <= 0) return Effect.void
      return Effect.raceFirst(
        Number.isFinite(millis) ? Effect.sleep(Duration.millis(millis)) : Effect.never,
        Deferred.await(wake),
      )
    })
  }

  /** Keeps the key fresh while subscribed. */
  private loop(): Effect.Effect<void> {
    return Effect.gen({ self: this }, function* () {
      const engine = this.engine
      for (;;) {
        const key = this.key()
        if (key === undefined) {
          this.setState(SIGNED_OUT)
          this.settleWaiters()
          yield* this.sleepUntil(Infinity)
          continue
        }
        const now = engine.clock.currentTimeMillisUnsafe()
        const token = engine.peek({ ...this.checked, skipCache: false })
        const cached = token instanceof Object && "jwt" in token ? token : undefined
        const force = this.force
        this.force = false
        let due = force || cached === undefined
        if (!due && cached !== undefined) {
          this.setState({ status: "ready", token: cached })
          due = engine.config.autoRefresh && now >= (yield* this.planFor(cached))
          if (due && !force && !engine.lifecycle.isActive()) {
            // Hidden or offline: background refresh waits for a resume event.
            this.settleWaiters()
            yield* this.sleepUntil(Infinity)
            continue
          }
        }
        if (due) {
          const outcome = yield* this.fetch(force || cached !== undefined)
          this.settleWaiters()
          if (outcome === "signed-out") {
            yield* this.sleepUntil(Infinity)
            continue
          }
          if (outcome === "failed") {
            // The retry policy is spent; try again after its longest delay.
            const retryAt = engine.clock.currentTimeMillisUnsafe() + engine.config.retry.maxDelay
            yield* this.sleepUntil(retryAt)
            continue
          }
        }
        this.settleWaiters()
        const current = this.validToken()
        if (!engine.config.autoRefresh || current === undefined) {
          yield* this.sleepUntil(Infinity)
          continue
        }
        yield* this.sleepUntil(yield* this.planFor(current))
      }
    })
  }
}

const reportListenerError = (error: unknown): void => {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError
  if (typeof report === "function") report(error)
  else console.error("tok: a TokenState listener threw", error)
}
