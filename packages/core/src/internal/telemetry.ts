/**
 * What the engine calls to be seen (DESIGN §8): metrics into the context's
 * `MetricRegistry`, spans through the context's `Tracer`, and `TokenEvent`s
 * to the Promise face's listeners. One per client.
 *
 * The hot path (`hit`) is one increment and one size check. Everything else
 * runs on a miss, a request or a refresh, where a request costs far more.
 * Nothing here ever sees a JWT: tokens are described by their times.
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Tracer from "effect/Tracer"
import type * as Clock from "effect/Clock"
import * as RetryPolicy from "../RetryPolicy.ts"
import type * as Token from "../Token.ts"
import { InvalidOptionsError, type TokenError } from "../TokenError.ts"
import type * as TokenEvents from "../TokenEvents.ts"
import * as TokenMetrics from "../TokenMetrics.ts"
import type { TokenRequest, TokenSourceError } from "../TokenSource.ts"

/** Telemetry options of a client (part of its config). */
export interface TelemetryOptions {
  /** Put the session id on spans (default false: it identifies a user). */
  readonly traceSessionId?: boolean | undefined
  /** Count into Effect's `Metric` registry (default true). */
  readonly metrics?: boolean | undefined
  /** This client's name in events and spans (default: a random id). */
  readonly instance?: string | undefined
}

/** Checks the telemetry fields of a client's config. */
export const checkTelemetry = (config: unknown): TelemetryOptions | InvalidOptionsError => {
  const c = (typeof config === "object" && config !== null ? config : {}) as Record<string, unknown>
  for (const name of ["metrics", "traceSessionId"] as const) {
    if (c[name] !== undefined && typeof c[name] !== "boolean") {
      return new InvalidOptionsError({ detail: `${name} must be a boolean` })
    }
  }
  const instance = c.instance
  if (
    instance !== undefined &&
    (typeof instance !== "string" || instance.length === 0 || instance.length > 64)
  ) {
    return new InvalidOptionsError({ detail: "instance must be a string of 1 to 64 characters" })
  }
  return {
    metrics: c.metrics as boolean | undefined,
    traceSessionId: c.traceSessionId as boolean | undefined,
    instance: instance as string | undefined,
  }
}

/** Values every client in one registry adds up: the pulled series. */
interface Pulled {
  hits: number
  readonly sources: Set<Telemetry>
}
const pulledByRegistry = new WeakMap<Metric.MetricRegistry, Pulled>()

const pulledFor = (context: Context.Context<never>): Pulled => {
  const registry = Context.get(context, Metric.MetricRegistry)
  const pulled = pulledByRegistry.get(registry)
  if (pulled !== undefined) return pulled
  const made: Pulled = { hits: 0, sources: new Set() }
  pulledByRegistry.set(registry, made)
  const sum = (read: (t: Telemetry) => number) => {
    let total = 0
    for (const source of made.sources) total += read(source)
    return total
  }
  Metric.registerUnsafe(TokenMetrics.cacheHits, context, {
    get: () => ({ count: made.hits, incremental: true }),
    update: () => undefined,
    modify: () => undefined,
  })
  Metric.registerUnsafe(TokenMetrics.cachedTokens, context, {
    get: () => ({ value: sum((t) => t.gauges.cachedTokens()) }),
    update: () => undefined,
    modify: () => undefined,
  })
  Metric.registerUnsafe(TokenMetrics.activeWatchers, context, {
    get: () => ({ value: sum((t) => t.gauges.watchers()) }),
    update: () => undefined,
    modify: () => undefined,
  })
  return made
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

/** What a failed request or attempt is, for labels and events. */
export const failureReason = (error: TokenError | "defect"): TokenMetrics.FailureReason => {
  if (error === "defect") return "defect"
  switch (error._tag) {
    case "TokenUnavailableError":
      return error.reason
    case "NotSignedInError":
      return "signed-out"
    case "TemplateNotFoundError":
      return "template-not-found"
    case "TokenRequestError":
      return "rejected"
    case "MalformedTokenError":
      return "malformed"
    case "InvalidOptionsError":
      return "invalid-options"
  }
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
  private readonly context: Context.Context<never>
  private readonly pulled: Pulled | undefined
  private readonly traceSessionId: boolean
  private readonly failuresByReason = new Map<string, Metric.Counter<number>>()
  private readonly requestsByCause: Record<TokenEvents.RequestCause, Metric.Counter<number>>
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
    this.context = deps.context
    this.instance = options.instance ?? randomInstance()
    this.traceSessionId = options.traceSessionId === true
    this.gauges = { cachedTokens: deps.cachedTokens, watchers: deps.watchers }
    this.pulled = options.metrics === false ? undefined : pulledFor(deps.context)
    this.pulled?.sources.add(this)
    this.requestsByCause = {
      call: Metric.withAttributes(TokenMetrics.requests, { cause: "call" }),
      refresh: Metric.withAttributes(TokenMetrics.requests, { cause: "refresh" }),
    }
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
    this.pulled?.sources.delete(this)
    this.listeners.clear()
  }

  private now(): number {
    return this.clock.currentTimeMillisUnsafe()
  }

  private count(metric: Metric.Metric<number, unknown>, value = 1): void {
    if (this.pulled !== undefined) metric.updateUnsafe(value, this.context)
  }

  private emit(event: TokenEvents.TokenEvent): void {
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
    if (this.pulled !== undefined) this.pulled.hits++
    if (this.listeners.size !== 0) {
      this.emit({
        type: "hit",
        at: this.now(),
        instance: this.instance,
        key: { sessionId, template, organizationId },
      })
    }
  }

  /** A call that has to wait for a request. */
  miss(sessionId: string, template: string | undefined, organizationId: string | undefined): void {
    this.count(TokenMetrics.cacheMisses)
    if (this.listeners.size !== 0) {
      this.emit({
        type: "miss",
        at: this.now(),
        instance: this.instance,
        key: { sessionId, template, organizationId },
      })
    }
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
    this.count(this.requestsByCause[cause])
    if (this.listeners.size !== 0) {
      this.emit({
        type: "request-started",
        at: probe.startedAt,
        instance: this.instance,
        key: keyOfProbe(probe),
        requestId: probe.requestId,
        cause,
        skipCache,
      })
    }
    return probe
  }

  private keyAttributes(request: TokenRequest): Record<string, unknown> {
    const attributes: Record<string, unknown> = {}
    if (request.template !== undefined)
      attributes[TokenMetrics.Attributes.template] = request.template
    if (request.organizationId !== undefined) {
      attributes[TokenMetrics.Attributes.organizationId] = request.organizationId
    }
    if (this.traceSessionId) attributes[TokenMetrics.Attributes.sessionId] = request.sessionId
    return attributes
  }

  /** The `tok.request` span around a whole request (its retries inside). */
  traceRequest<A, E>(
    probe: RequestProbe,
    skipCache: boolean,
    program: Effect.Effect<A, E>,
  ): Effect.Effect<A, E> {
    return Effect.withSpan(
      Effect.flatMap(Effect.currentSpan, (span) => {
        probe.span = span
        return program
      }).pipe(Effect.catchTag("NoSuchElementError", () => program)) as Effect.Effect<A, E>,
      TokenMetrics.Spans.request,
      {
        kind: "client",
        root: true,
        attributes: {
          ...this.keyAttributes(probe.request),
          [TokenMetrics.Attributes.cause]: probe.cause,
          [TokenMetrics.Attributes.skipCache]: skipCache,
        },
      },
    )
  }

  /**
   * The `tok.attempt` span around one attempt; a failed attempt puts its
   * status and reason on the span and is announced with whether a retry follows.
   */
  traceAttempt<A>(
    probe: RequestProbe,
    retryable: (error: TokenSourceError) => boolean,
    maxAttempts: number,
    attempt: Effect.Effect<A, TokenSourceError>,
  ): Effect.Effect<A, TokenSourceError> {
    return Effect.suspend(() => {
      const number = ++probe.attempts
      return attempt.pipe(
        Effect.tapError((error) =>
          Effect.sync(() => {
            const reason = RetryPolicy.transientReason(error)
            if (error.status !== undefined) {
              probe.span?.attribute(TokenMetrics.Attributes.httpStatus, error.status)
            }
            const retrying = number < maxAttempts && retryable(error)
            if (this.listeners.size !== 0) {
              this.emit({
                type: "attempt-failed",
                at: this.now(),
                instance: this.instance,
                key: keyOfProbe(probe),
                requestId: probe.requestId,
                attempt: number,
                error: { tag: "TokenSourceError", reason, status: error.status },
                retrying,
              })
            }
            const attributes: Record<string, unknown> = {
              [TokenMetrics.Attributes.errorTag]: "TokenSourceError",
              [TokenMetrics.Attributes.errorReason]: reason ?? "rejected",
            }
            if (error.status !== undefined) {
              attributes[TokenMetrics.Attributes.httpStatus] = error.status
            }
            return Effect.annotateCurrentSpan(attributes)
          }).pipe(Effect.flatten),
        ),
        Effect.withSpan(TokenMetrics.Spans.attempt, {
          kind: "client",
          attributes: {
            ...this.keyAttributes(probe.request),
            [TokenMetrics.Attributes.attempt]: number,
          },
        }),
      )
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
    if (this.pulled !== undefined) {
      TokenMetrics.requestDuration.updateUnsafe(durationMs / 1000, this.context)
      if (result.error !== undefined) this.count(this.failureCounter(result.error))
    }
    const span = probe.span
    if (span !== undefined) {
      span.attribute(TokenMetrics.Attributes.attempts, probe.attempts)
      span.attribute(TokenMetrics.Attributes.origin, origin)
      span.attribute(TokenMetrics.Attributes.fenced, result.fenced)
      if (result.error !== undefined) {
        span.attribute(
          TokenMetrics.Attributes.errorTag,
          result.error === "defect" ? "Defect" : result.error._tag,
        )
        span.attribute(TokenMetrics.Attributes.errorReason, failureReason(result.error))
      }
    }
    if (this.listeners.size === 0) return
    const key = keyOfProbe(probe)
    const error = result.error === undefined ? undefined : eventError(result.error)
    this.emit({
      type: "request-ended",
      at: now,
      instance: this.instance,
      key,
      requestId: probe.requestId,
      durationMs,
      attempts: probe.attempts,
      origin,
      token:
        result.token === undefined
          ? undefined
          : { issuedAt: result.token.issuedAt, expiresAt: result.token.expiresAt },
      error,
      fenced: result.fenced,
    })
    if (error !== undefined)
      this.emit({ type: "error", at: now, instance: this.instance, key, error })
  }

  private failureCounter(error: TokenError | "defect"): Metric.Counter<number> {
    const reason = failureReason(error)
    let counter = this.failuresByReason.get(reason)
    if (counter === undefined) {
      counter = Metric.withAttributes(TokenMetrics.failures, { reason })
      this.failuresByReason.set(reason, counter)
    }
    return counter
  }

  /** The `tok.refresh` span around a watcher's background refresh; counted and announced. */
  traceRefresh<A, E>(
    request: TokenRequest,
    bufferMillis: number,
    refresh: Effect.Effect<A, E>,
  ): Effect.Effect<A, E> {
    return Effect.suspend(() => {
      this.count(TokenMetrics.refreshes)
      if (this.listeners.size !== 0) {
        this.emit({
          type: "refresh",
          at: this.now(),
          instance: this.instance,
          key: {
            sessionId: request.sessionId,
            template: request.template,
            organizationId: request.organizationId,
          },
          bufferMillis,
        })
      }
      return Effect.withSpan(refresh, TokenMetrics.Spans.refresh, {
        root: true,
        attributes: this.keyAttributes(request),
      })
    })
  }

  /**
   * A token for `request` arrived from a peer (DESIGN §7) instead of a
   * request: counted as a peer hit and announced. Sharing calls this.
   */
  shared(request: TokenRequest, from: string, token: Token.Token): void {
    this.count(TokenMetrics.peerHits)
    if (this.listeners.size === 0) return
    this.emit({
      type: "shared",
      at: this.now(),
      instance: this.instance,
      key: {
        sessionId: request.sessionId,
        template: request.template,
        organizationId: request.organizationId,
      },
      from,
      token: { issuedAt: token.issuedAt, expiresAt: token.expiresAt },
    })
  }

  /** The current session changed. */
  session(sessionId: string | null): void {
    if (this.listeners.size === 0) return
    this.emit({ type: "session", at: this.now(), instance: this.instance, sessionId })
  }
}

const keyOfProbe = (probe: RequestProbe): TokenEvents.EventKey =>
  (probe.key ??= {
    sessionId: probe.request.sessionId,
    template: probe.request.template,
    organizationId: probe.request.organizationId,
  })
