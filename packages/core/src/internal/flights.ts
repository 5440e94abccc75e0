/**
 * Flights: the requests in flight, one per key, shared by every caller that
 * joins it — locate (answer, join or start), start (the retry pipeline),
 * settle (cache, then answer), fence (a late result is not cached), and what
 * a finished flight means for each caller (interpret).
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type * as Schedule from "effect/Schedule"
import * as RetryPolicy from "../RetryPolicy.ts"
import * as Token from "../Token.ts"
import {
  MalformedTokenError,
  NotSignedInError,
  TemplateNotFoundError,
  type TokenError,
  TokenRequestError,
  TokenUnavailableError,
} from "../TokenError.ts"
import { describe, type TokenRequest, TokenSourceError } from "../TokenSource.ts"
import type * as TokenSource from "../TokenSource.ts"
import { keyOf } from "./keys.ts"
import type { Checked, ResolvedConfig } from "./options.ts"
import { sanitizeCode } from "./redact.ts"
import type { Session } from "./session.ts"
import { PeerToken, type Sharing } from "./sharing.ts"
import type { Store } from "./store.ts"
import type { RequestProbe, Telemetry } from "./telemetry.ts"

/** A request in flight for one key, shared by every caller that joins it. */
export interface Flight {
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
export type Outcome = Exit.Exit<Token.Token, TokenError | SessionEnded>

/** A request that died: a bug in a source or a store, passed on as it is (DESIGN §2.9). */
export class Defect {
  // Stryker disable next-line StringLiteral: read by instanceof, never by tag
  readonly _tag = "Defect"
  readonly cause: Cause.Cause<never>
  constructor(cause: Cause.Cause<never>) {
    this.cause = cause
  }
}

/** What a wait ends with. */
export type JoinResult = Token.Token | TokenError | Defect | "interrupted"

/** Where a call stands (see `Flights.locate`). */
export type Located =
  | { readonly _tag: "answered"; readonly result: JoinResult }
  | { readonly _tag: "waiting"; readonly flight: Flight; readonly generation: number }

/** A wait's result as an Effect. */
export const asEffect = (result: JoinResult): Effect.Effect<Token.Token, TokenError> =>
  result === "interrupted"
    ? Effect.interrupt
    : "jwt" in result
      ? Effect.succeed(result)
      : result instanceof Defect
        ? Effect.failCause(result.cause)
        : Effect.fail(result)

/** The outcome of a flight whose session ended before it finished. */
class SessionEnded {
  // Stryker disable next-line StringLiteral: read by instanceof, never by tag
  readonly _tag = "SessionEnded"
}
const sessionEnded = new SessionEnded()

/** What flights need from the client around them. */
export interface FlightHost {
  readonly config: ResolvedConfig
  readonly clock: Clock.Clock
  readonly source: TokenSource.Service
  readonly store: Store
  readonly session: Session
  readonly isDisposed: () => boolean
  /** Runs `effect` detached on the client's context; interrupted on dispose. */
  readonly fork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.Fiber<A, E>
  /** A fresh token was cached under `key`. */
  readonly stored: (key: string, token: Token.Token) => void
  /** The server answered 401 for `sessionId`. */
  readonly ended: (sessionId: string) => void
  /** Where hits, misses and requests are counted, traced and told. */
  readonly telemetry: Telemetry
  /** Sharing with peers (DESIGN §7); inactive by default. */
  readonly sharing: Sharing
}

/** The requests in flight of one client. */
export class Flights {
  /** The flight each key's callers join (the latest one started). */
  private readonly table = new Map<string, Flight>()
  /**
   * Every flight still running, joinable or not: a `skipCache` flight takes
   * over its key in `table`, and sign-out and `invalidate` must still fence
   * the older one.
   */
  readonly live = new Set<Flight>()
  private seq = 0
  private readonly host: FlightHost
  private readonly schedule: Schedule.Schedule<number, TokenSourceError>
  private readonly retryable: (error: TokenSourceError) => boolean

  constructor(host: FlightHost) {
    this.host = host
    this.schedule = RetryPolicy.schedule(host.config.retry)
    this.retryable = RetryPolicy.isRetryable(host.config.retry)
  }

  /**
   * Where a call stands now: answered (a usable cached token, signed out, a
   * bad session id, disposed), or waiting on the key's flight — joined, or
   * started (always started for `skipCache`). A `refresh` skips the cache
   * but joins a flight (background refresh).
   */
  locate(checked: Checked, refresh: boolean): Located {
    const { session, store } = this.host
    if (this.host.isDisposed()) return { _tag: "answered", result: "interrupted" }
    const explicit = checked.sessionId
    const sessionId = explicit ?? session.id
    if (sessionId === null) return { _tag: "answered", result: new NotSignedInError() }
    if (explicit === undefined && session.problem) {
      return { _tag: "answered", result: session.problem }
    }
    const key = keyOf(sessionId, checked.template, checked.organizationId)
    if (!checked.skipCache && !refresh) {
      const token = store.usable(key, checked.bufferMillis)
      if (token !== undefined) {
        this.host.telemetry.hit(sessionId, checked.template, checked.organizationId)
        return { _tag: "answered", result: token }
      }
      this.host.telemetry.miss(sessionId, checked.template, checked.organizationId)
    }
    const flight =
      (checked.skipCache ? undefined : this.table.get(key)) ??
      this.start(
        key,
        { sessionId, template: checked.template, organizationId: checked.organizationId },
        refresh ? "refresh" : "call",
        checked.skipCache,
      )
    return { _tag: "waiting", flight, generation: session.generation }
  }

  /**
   * What a finished flight means for a caller who asked at `generation`: its
   * answer, or `"again"` when it asked for the current session and that
   * session changed meanwhile (it is answered for the new one).
   */
  interpret(checked: Checked, generation: number, outcome: Outcome): JoinResult | "again" {
    const current = checked.sessionId === undefined
    if (Exit.isSuccess(outcome)) {
      return current && this.host.session.generation !== generation ? "again" : outcome.value
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

  /** Starts a request for `key`: attempts with a timeout, retried by the policy, then settled. */
  private start(
    key: string,
    request: TokenRequest,
    cause: "call" | "refresh",
    skipCache: boolean,
  ): Flight {
    const flight: Flight = {
      key,
      request,
      seq: ++this.seq,
      deferred: Deferred.makeUnsafe(),
      listeners: new Set(),
      outcome: undefined,
      fenced: false,
      fiber: undefined,
    }
    this.table.set(key, flight)
    this.live.add(flight)
    const telemetry = this.host.telemetry
    const probe = telemetry.requestStarted(request, cause, skipCache)
    let attempts = 0
    const attempt = Effect.suspend(() => {
      attempts++
      return this.host.source.fetch(request)
    }).pipe(
      Effect.timeoutOrElse({
        duration: Duration.millis(this.host.config.requestTimeout),
        orElse: () =>
          Effect.fail(
            new TokenSourceError({
              cause: RetryPolicy.timeoutCause,
              // Stryker disable next-line StringLiteral: message text; callers see TokenUnavailableError (reason "timeout"), which does not carry it
              message: "the request timed out",
            }),
          ),
      }),
    )
    const retried = telemetry
      .traceAttempt(probe, this.retryable, this.host.config.retry.attempts, attempt)
      .pipe(Effect.retry({ schedule: this.schedule, while: this.retryable }))
    const sharing = this.host.sharing
    // On a local miss, a peer may have the token or be fetching it (DESIGN §7).
    const program = (
      sharing.active
        ? sharing.around(request, key, retried, skipCache, () => flight.fenced)
        : retried
    ).pipe(
      Effect.onExit((exit) =>
        Effect.ensuring(
          this.settle(flight, exit, attempts),
          Effect.sync(() => report(telemetry, probe, flight)),
        ),
      ),
    )
    flight.fiber = this.host.fork(telemetry.traceRequest(probe, skipCache, program))
    return flight
  }

  /**
   * Finishes a flight: every state change first, then its waiters. Whatever
   * throws meanwhile (a store, a listener) still answers every waiter, with
   * the defect itself, logged once (DESIGN §2.9).
   */
  private settle(
    flight: Flight,
    exit: Exit.Exit<string | PeerToken, TokenSourceError>,
    attempts: number,
  ): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.table.get(flight.key) === flight) this.table.delete(flight.key)
      this.live.delete(flight)
      // Stryker disable next-line ConditionalExpression: a flight done already was ended (end() answered it and interrupted it): settling its interrupt again answers and reports the same
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
            // Stryker disable next-line StringLiteral: log text
            "tok: a token request died (a bug in the source or the store)",
            outcome.cause,
          )
        : Effect.void
    })
  }

  /** What a finished request means: a token (cached unless fenced), or a typed failure. */
  private outcomeOf(
    flight: Flight,
    exit: Exit.Exit<string | PeerToken, TokenSourceError>,
    attempts: number,
  ): Outcome {
    if (Exit.isSuccess(exit) && exit.value instanceof PeerToken) {
      const now = this.host.clock.currentTimeMillisUnsafe()
      const token = this.host.sharing.token(exit.value, flight.request, now)
      if (token === undefined)
        return Exit.fail(new TokenUnavailableError({ reason: "server", attempts }))
      this.host.telemetry.shared(flight.request, exit.value.shared.from ?? "peer", token)
      if (!flight.fenced) {
        const cached = this.host.store.put(flight.key, token, flight.seq)
        if (cached !== undefined) this.host.stored(flight.key, cached)
      }
      return Exit.succeed(token)
    }
    if (Exit.isSuccess(exit)) {
      const now = this.host.clock.currentTimeMillisUnsafe()
      const made = Token.make(exit.value as string, flight.request, now)
      if (Token.isDecodeFailure(made)) return Exit.fail(new MalformedTokenError(made))
      // A JWT the client holds keeps the expiry it was given when first
      // received: a caching proxy that answers it again never extends its life.
      const held = this.host.store.held(flight.key)
      const token: Token.Token =
        held !== undefined && held.jwt === made.jwt ? { ...held, source: "network" } : made
      if (token.expiresAt <= now) {
        return Exit.fail(new TokenUnavailableError({ reason: "server", attempts }))
      }
      if (!flight.fenced && token === made) {
        const cached = this.host.store.put(flight.key, made, flight.seq)
        if (cached !== undefined) this.host.stored(flight.key, cached)
      }
      return Exit.succeed(token)
    }
    // Stryker disable next-line ConditionalExpression: without it the interrupt cause passes on as it is, which callers and telemetry read as the same interrupt
    if (Cause.hasInterruptsOnly(exit.cause)) return Exit.interrupt()
    const failure = Cause.findErrorOption(exit.cause)
    // A source that died is a bug, passed on as it is: never a network failure.
    if (failure._tag === "None") return Exit.failCause(exit.cause as Cause.Cause<never>)
    const error = classify(failure.value, flight.request, attempts)
    if (error._tag === "NotSignedInError") this.host.ended(flight.request.sessionId)
    return Exit.fail(error)
  }

  /** The next start order, for a token that came from a peer rather than a request. */
  nextSeq(): number {
    return ++this.seq
  }

  /** Fences every live flight that matches: late results are not cached, new callers do not join. */
  fence(matches: (request: TokenRequest) => boolean): Array<Flight> {
    const fenced: Array<Flight> = []
    for (const flight of this.live) {
      if (!matches(flight.request)) continue
      flight.fenced = true
      // Stryker disable next-line ConditionalExpression: flights of one key make one request, so a filter that fences an older one fences the key's current one too
      if (this.table.get(flight.key) === flight) this.table.delete(flight.key)
      fenced.push(flight)
    }
    return fenced
  }

  /** Ends flights whose session ended: their waiters are answered now, their fibers interrupted. */
  end(flights: ReadonlyArray<Flight>): void {
    for (const flight of flights) {
      finish(flight, Exit.fail(sessionEnded))
      // Stryker disable next-line OptionalChaining: a live flight has its fiber — a flight whose request ends a session (a 401) left `live` before it does
      flight.fiber?.interruptUnsafe()
    }
  }
}

/** Tells telemetry how a flight ended (after its waiters were answered). */
const report = (telemetry: Telemetry, probe: RequestProbe, flight: Flight): void => {
  const outcome = flight.outcome
  // Stryker disable next-line ConditionalExpression: settle gives every flight an outcome before it reports
  if (outcome === undefined) return
  if (Exit.isSuccess(outcome)) {
    return telemetry.requestEnded(probe, { token: outcome.value, fenced: flight.fenced })
  }
  const failure = Cause.findErrorOption(outcome.cause)
  if (failure._tag === "Some") {
    const error = failure.value
    return telemetry.requestEnded(
      probe,
      error instanceof SessionEnded ? { fenced: true } : { error, fenced: flight.fenced },
    )
  }
  if (Cause.hasDies(outcome.cause))
    telemetry.requestEnded(probe, { error: "defect", fenced: false })
  else telemetry.requestEnded(probe, { fenced: true })
}

/** Completes a flight: its Effect waiters, then its Promise-face listeners. */
const finish = (flight: Flight, outcome: Outcome): void => {
  flight.outcome = outcome
  Deferred.doneUnsafe(flight.deferred, outcome)
  for (const listener of [...flight.listeners]) listener(outcome)
  // Stryker disable next-line CallExpression: a finished flight is out of the table and gets no new listener; the set goes with it
  flight.listeners.clear()
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
      retryAfterMs: RetryPolicy.retryAfterOf(error),
      attempts,
    })
  }
  // Stryker disable next-line ConditionalExpression,ObjectLiteral,StringLiteral: transientReason answers every failure without a status first
  if (status === undefined) return new TokenUnavailableError({ reason: "network", attempts })
  if (status >= 200 && status < 300) return new MalformedTokenError({ detail: describe(error) })
  if (status === 401) {
    // A 401 means the session has ended — unless the server says the
    // credentials are wrong: a bad secret key must not sign every user out.
    const code = sanitizeCode(error.code)
    // Stryker disable next-line ConditionalExpression: `code !== undefined` is for TypeScript; the set has no undefined
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
  // A development instance that did not get (or did not know) the dev-browser token.
  "dev_browser_unauthenticated",
])
