/**
 * What the engine calls to be seen (DESIGN §8): metrics through the context's
 * recorder (`TokenMetrics.layer`), spans through the context's `Tracer`, and `TokenEvent`s
 * to the Promise face's listeners. One per client.
 *
 * The hot path (`hit`) is one increment and one size check. Everything else
 * runs on a miss, a request or a refresh, where a request costs far more.
 * Nothing here ever sees a JWT: tokens are described by their times.
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"
import type * as Clock from "effect/Clock"
import * as RetryPolicy from "../RetryPolicy.ts"
import type * as Token from "../Token.ts"
import { InvalidOptionsError, type TokenError } from "../TokenError.ts"
import type * as TokenEvents from "../TokenEvents.ts"
import { type ClientRecorder, CurrentRecorder, CurrentTracing, type Tracing } from "./recorder.ts"
import { failureReason } from "./reasons.ts"
import { typeProblem } from "./options.ts"
import type { TokenRequest, TokenSourceError } from "../TokenSource.ts"

/** Telemetry options of a client (part of its config). */
export interface TelemetryOptions {
  /** Put the session id on spans (default false: it identifies a user). */
  readonly traceSessionId?: boolean | undefined
  /** This client's name in events and spans (default: a random id). */
  readonly instance?: string | undefined
}

/** Checks the telemetry fields of a client's config. */
export const checkTelemetry = (config: unknown): TelemetryOptions | InvalidOptionsError => {
  const c = (typeof config === "object" && config !== null ? config : {}) as Record<string, unknown>
  const instance = c.instance
  return (
    typeProblem(c, "boolean", ["traceSessionId"]) ??
    (instance === undefined ||
    (typeof instance === "string" && instance.length > 0 && instance.length <= 64)
      ? {
          traceSessionId: c.traceSessionId as boolean | undefined,
          instance: instance as string | undefined,
        }
      : new InvalidOptionsError({ detail: "instance must be a string of 1 to 64 characters" }))
  )
}

let instances = 0
const randomInstance = (): string => {
  const uuid = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto?.randomUUID?.()
  return uuid === undefined ? `tok-${++instances}` : uuid.slice(0, 8)
}

/** One request as telemetry follows it. */
export interface RequestProbe {
  readonly requestId: number
  readonly request: TokenRequest
  readonly cause: TokenEvents.RequestCause
  readonly startedAt: number
  attempts: number
  span: Tracer.Span | undefined
  key: TokenEvents.EventKey | undefined
}

const eventError = (error: TokenError | "defect"): TokenEvents.EventError =>
  error === "defect"
    ? { tag: "Defect", reason: "defect" }
    : {
        tag: error._tag,
        reason: failureReason(error),
        status: "status" in error ? error.status : undefined,
      }

/** The telemetry of one client. */
export class Telemetry {
  readonly instance: string
  readonly gauges: { readonly cachedTokens: () => number; readonly watchers: () => number }
  private readonly listeners = new Set<(event: TokenEvents.TokenEvent) => void>()
  private readonly clock: Clock.Clock
  private readonly recorder: ClientRecorder | undefined
  private readonly tracing: Tracing | undefined
  private readonly traceSessionId: boolean
  private requestSeq = 0
  /** The events face: `subscribe(listener) => unsubscribe`. */
  readonly events: TokenEvents.TokenEvents

  constructor(deps: {
    readonly clock: Clock.Clock
    readonly context: Context.Context<never>
    readonly options?: TelemetryOptions | undefined
    readonly cachedTokens: () => number
    readonly watchers: () => number
  }) {
    const options = deps.options ?? {}
    this.clock = deps.clock
    this.instance = options.instance ?? randomInstance()
    this.traceSessionId = options.traceSessionId === true
    this.gauges = { cachedTokens: deps.cachedTokens, watchers: deps.watchers }
    this.recorder = Context.get(deps.context, CurrentRecorder)?.register(deps.context, this.gauges)
    this.tracing = Context.get(deps.context, CurrentTracing)
    this.events = {
      subscribe: (listener) => {
        const wrapped = (event: TokenEvents.TokenEvent) => listener(event)
        this.listeners.add(wrapped)
        return () => void this.listeners.delete(wrapped)
      },
    }
  }

  /** The client is gone: its gauges leave the registry's sums. */
  close(): void {
    this.recorder?.close()
    this.listeners.clear()
  }

  private now(): number {
    return this.clock.currentTimeMillisUnsafe()
  }

  /**
   * Announces an event of `type` (its time and this client's instance
   * added) to every listener; a listener that throws is reported, never
   * passed on.
   */
  private emit<T extends TokenEvents.TokenEventType>(
    type: T,
    fields: Omit<Extract<TokenEvents.TokenEvent, { type: T }>, "type" | "at" | "instance">,
    at = this.now(),
  ): void {
    const event = {
      type,
      at,
      instance: this.instance,
      ...fields,
    } as unknown as TokenEvents.TokenEvent
    for (const listener of [...this.listeners]) {
      try {
        listener(event)
      } catch (error) {
        const report = (globalThis as { reportError?: (error: unknown) => void }).reportError
        if (typeof report === "function") report(error)
        else console.error("tok: an event listener threw", error)
      }
    }
  }

  /** A call answered from the cache: the hot path. */
  hit(sessionId: string, template: string | undefined, organizationId: string | undefined): void {
    if (this.recorder !== undefined) this.recorder.counts.hits++
    if (this.listeners.size !== 0)
      this.emit("hit", { key: { sessionId, template, organizationId } })
  }

  /** A call that has to wait for a request. */
  miss(sessionId: string, template: string | undefined, organizationId: string | undefined): void {
    this.recorder?.miss()
    if (this.listeners.size !== 0)
      this.emit("miss", { key: { sessionId, template, organizationId } })
  }

  /** A request starts: counted, announced, and followed by the returned probe. */
  requestStarted(
    request: TokenRequest,
    cause: TokenEvents.RequestCause,
    skipCache: boolean,
  ): RequestProbe {
    const probe: RequestProbe = {
      requestId: ++this.requestSeq,
      request,
      cause,
      startedAt: this.now(),
      attempts: 0,
      span: undefined,
      key: undefined,
    }
    this.recorder?.request(cause)
    if (this.listeners.size !== 0) {
      this.emit(
        "request-started",
        { key: keyOfProbe(probe), requestId: probe.requestId, cause, skipCache },
        probe.startedAt,
      )
    }
    return probe
  }

  /** The `tok.request` span around a whole request (its retries inside), when tracing is on. */
  traceRequest<A, E>(
    probe: RequestProbe,
    skipCache: boolean,
    program: Effect.Effect<A, E>,
  ): Effect.Effect<A, E> {
    const tracing = this.tracing
    if (tracing === undefined) return program
    return tracing.request(probe.request, this.traceSessionId, probe.cause, skipCache, (span) => {
      probe.span = span
      return program
    })
  }

  /**
   * One attempt: counted, in a `tok.attempt` span when tracing is on; a
   * failed attempt puts its status and reason on the span and is announced
   * with whether a retry follows.
   */
  traceAttempt<A>(
    probe: RequestProbe,
    retryable: (error: TokenSourceError) => boolean,
    maxAttempts: number,
    attempt: Effect.Effect<A, TokenSourceError>,
  ): Effect.Effect<A, TokenSourceError> {
    return Effect.suspend(() => {
      const number = ++probe.attempts
      const run = (span: Tracer.Span | undefined) =>
        Effect.tapError(attempt, (error) =>
          Effect.sync(() => {
            const reason = RetryPolicy.transientReason(error)
            if (span !== undefined) {
              this.tracing?.attemptFailed(span, reason ?? "rejected", error.status)
            }
            if (this.listeners.size === 0) return
            this.emit("attempt-failed", {
              key: keyOfProbe(probe),
              requestId: probe.requestId,
              attempt: number,
              error: { tag: "TokenSourceError", reason, status: error.status },
              retrying: number < maxAttempts && retryable(error),
            })
          }),
        )
      const tracing = this.tracing
      if (tracing === undefined) return run(undefined)
      return tracing.attempt(probe.request, this.traceSessionId, number, run)
    })
  }

  /** A request finished: latency, failures, span attributes, and its events. */
  requestEnded(
    probe: RequestProbe,
    result: {
      readonly token?: Token.Token | undefined
      readonly error?: TokenError | "defect" | undefined
      readonly fenced: boolean
      readonly origin?: TokenEvents.Origin | undefined
    },
  ): void {
    const now = this.now()
    const durationMs = Math.max(0, now - probe.startedAt)
    const origin = result.origin ?? "network"
    if (this.recorder !== undefined) {
      this.recorder.latency(durationMs / 1000)
      if (result.error !== undefined) this.recorder.failure(failureReason(result.error))
    }
    if (probe.span !== undefined) {
      this.tracing?.requestEnded(probe.span, probe.attempts, origin, result.fenced, result.error)
    }
    if (this.listeners.size === 0) return
    const key = keyOfProbe(probe)
    const error = result.error === undefined ? undefined : eventError(result.error)
    this.emit(
      "request-ended",
      {
        key,
        requestId: probe.requestId,
        durationMs,
        attempts: probe.attempts,
        origin,
        token: result.token && eventToken(result.token),
        error,
        fenced: result.fenced,
      },
      now,
    )
    if (error !== undefined) this.emit("error", { key, error }, now)
  }

  /** The `tok.refresh` span around a watcher's background refresh; counted and announced. */
  traceRefresh<A, E>(
    request: TokenRequest,
    bufferMillis: number,
    refresh: Effect.Effect<A, E>,
  ): Effect.Effect<A, E> {
    return Effect.suspend(() => {
      this.recorder?.refresh()
      if (this.listeners.size !== 0) this.emit("refresh", { key: keyOf(request), bufferMillis })
      const tracing = this.tracing
      return tracing === undefined
        ? refresh
        : tracing.refresh(request, this.traceSessionId, refresh)
    })
  }

  /**
   * A token for `request` arrived from a peer (DESIGN §7) instead of a
   * request: counted as a peer hit and announced. Sharing calls this.
   */
  shared(request: TokenRequest, from: string, token: Token.Token): void {
    this.recorder?.peerHit()
    if (this.listeners.size !== 0) {
      this.emit("shared", { key: keyOf(request), from, token: eventToken(token) })
    }
  }

  /** The current session changed. */
  session(sessionId: string | null): void {
    if (this.listeners.size !== 0) this.emit("session", { sessionId })
  }
}

/** An event's key: a request's session, template and organization. */
const keyOf = (request: TokenRequest): TokenEvents.EventKey => ({
  sessionId: request.sessionId,
  template: request.template,
  organizationId: request.organizationId,
})

/** An event's token: its times, never the JWT. */
const eventToken = (token: Token.Token): TokenEvents.EventToken => ({
  issuedAt: token.issuedAt,
  expiresAt: token.expiresAt,
})

const keyOfProbe = (probe: RequestProbe): TokenEvents.EventKey =>
  (probe.key ??= keyOf(probe.request))
