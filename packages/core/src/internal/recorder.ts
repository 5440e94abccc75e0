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

/** How spans are made, when tracing was asked for (`TokenMetrics.tracing`). */
export interface Tracing {
  /** Runs `body` in a new span `name` (its children's parent); ends it with `body`'s exit. */
  readonly span: <A, E>(
    name: string,
    attributes: Record<string, unknown>,
    root: boolean,
    body: (span: Tracer.Span) => Effect.Effect<A, E>,
  ) => Effect.Effect<A, E>
}

/** The tracing of the context, if spans were asked for. */
export const CurrentTracing = Context.Reference<Tracing | undefined>(
  "@tok/core/TokenMetrics/Tracing",
  { defaultValue: () => undefined },
)
