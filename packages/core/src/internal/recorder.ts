/**
 * Where telemetry counts, without importing `effect/Metric` (about 10 KB
 * gzip that a browser app should not pay unless it wants metrics):
 * `TokenMetrics.layer` puts a recorder built on Effect's `Metric` here; with
 * none, nothing is counted.
 * @internal
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"
import type { TokenError } from "../TokenError.ts"
import type { TokenRequest } from "../TokenSource.ts"
import type { FailureReason } from "./reasons.ts"

/** What one client counts; the hot path is `counts.hits++`. */
export interface ClientRecorder {
  /** Plain counters read when metrics are collected (the hit path only increments). */
  readonly counts: { hits: number }
  readonly miss: () => void
  readonly request: (cause: "call" | "refresh") => void
  readonly refresh: () => void
  readonly peerHit: () => void
  readonly failure: (reason: FailureReason) => void
  readonly latency: (seconds: number) => void
  /** The client is gone: its gauges leave the sums. */
  readonly close: () => void
}

/** Makes a client's recorder in the client's context. */
export interface Recorder {
  readonly register: (
    context: Context.Context<never>,
    gauges: { readonly cachedTokens: () => number; readonly watchers: () => number },
  ) => ClientRecorder
}

/** The recorder of the context, if metrics were asked for. */
export const CurrentRecorder = Context.Reference<Recorder | undefined>(
  "@tok/core/TokenMetrics/Recorder",
  { defaultValue: () => undefined },
)

/** How spans are made and annotated, when tracing was asked for (`TokenMetrics.tracing`). */
export interface Tracing {
  /** Runs `body` in a `tok.request` span. */
  readonly request: <A, E>(
    request: TokenRequest,
    withSession: boolean,
    cause: "call" | "refresh",
    skipCache: boolean,
    body: (span: Tracer.Span) => Effect.Effect<A, E>,
  ) => Effect.Effect<A, E>
  /** Runs `body` in a `tok.attempt` span, a child of the request's. */
  readonly attempt: <A, E>(
    request: TokenRequest,
    withSession: boolean,
    attempt: number,
    body: (span: Tracer.Span) => Effect.Effect<A, E>,
  ) => Effect.Effect<A, E>
  /** Runs `body` in a `tok.refresh` span. */
  readonly refresh: <A, E>(
    request: TokenRequest,
    withSession: boolean,
    body: Effect.Effect<A, E>,
  ) => Effect.Effect<A, E>
  /** A failed attempt's reason and status, on its span. */
  readonly attemptFailed: (span: Tracer.Span, reason: string, status: number | undefined) => void
  /** How a request ended, on its span. */
  readonly requestEnded: (
    span: Tracer.Span,
    attempts: number,
    origin: "network" | "peer",
    fenced: boolean,
    error: TokenError | "defect" | undefined,
  ) => void
}

/** The tracing of the context, if spans were asked for. */
export const CurrentTracing = Context.Reference<Tracing | undefined>(
  "@tok/core/TokenMetrics/Tracing",
  { defaultValue: () => undefined },
)
