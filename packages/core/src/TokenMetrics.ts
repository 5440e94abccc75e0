/**
 * tok's metrics and span names, through Effect's own `Metric` and `Tracer`
 * (DESIGN §8). With `TokenMetrics.layer` provided, every client built there
 * writes to the `Metric.MetricRegistry` of its context, so Effect's exporters
 * see them as they are:
 * `PrometheusMetrics.format()` for a `/metrics` route, `OtlpMetrics` to a
 * collector.
 *
 * Cache hits are counted in a plain integer that the registry reads when a
 * snapshot is taken (`Metric.registerUnsafe`), so counting them costs a hit
 * one increment; the gauges are read the same way.
 *
 * Spans: `tok.request` per request (what its callers share), `tok.attempt`
 * per attempt inside it, `tok.refresh` per background refresh of a watcher.
 * Their attributes are the `Attributes` below; the session id only with
 * `traceSessionId: true`; never a token or a secret.
 *
 * @example
 * ```ts
 * import * as Layer from "effect/Layer"
 * import { PrometheusMetrics } from "effect/observability"
 * import { TokenClient, TokenMetrics, TokenSource } from "@tok/core"
 *
 * const Tok = TokenClient.layer().pipe(
 *   Layer.provide([TokenSource.clerkBackendApi({ baseUrl, secretKey }), TokenMetrics.layer]),
 * )
 * // later, in a /metrics handler:
 * const text = yield* PrometheusMetrics.format() // tok_cache_hits_total 42 …
 * ```
 * @module
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import {
  type ClientRecorder,
  CurrentRecorder,
  CurrentTracing,
  type Recorder,
} from "./internal/recorder.ts"
import { tracing as spans } from "./internal/spans.ts"

/** Calls answered from the cache. */
export const cacheHits: Metric.Counter<number> = Metric.counter("tok_cache_hits_total", {
  description: "getToken calls answered from the cache",
  incremental: true,
})

/** Calls that found no usable token and waited for a request. */
export const cacheMisses: Metric.Counter<number> = Metric.counter("tok_cache_misses_total", {
  description: "getToken calls that found no usable cached token",
  incremental: true,
})

/** Tokens that came from a peer (another tab or instance, DESIGN §7) instead of a request. */
export const peerHits: Metric.Counter<number> = Metric.counter("tok_peer_hits_total", {
  description: "tokens received from a peer instead of a request",
  incremental: true,
})

/** Requests started, by `cause` (`call` or `refresh`). */
export const requests: Metric.Counter<number> = Metric.counter("tok_requests_total", {
  description: "token requests started (one per flight, however many callers share it)",
  incremental: true,
})

/** Background refreshes of watched keys. */
export const refreshes: Metric.Counter<number> = Metric.counter("tok_refreshes_total", {
  description: "background refreshes of watched keys",
  incremental: true,
})

/** Requests that failed for good, by `reason` (see `failureReason`). */
export const failures: Metric.Counter<number> = Metric.counter("tok_failures_total", {
  description: "token requests that failed after retries, by reason",
  incremental: true,
})

/** How long requests took, retries included, in seconds. */
export const requestDuration: Metric.Histogram<number> = Metric.histogram(
  "tok_request_duration_seconds",
  {
    description: "token request latency, retries included",
    boundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  },
)

/** Tokens in the caches of the live clients. */
export const cachedTokens: Metric.Gauge<number> = Metric.gauge("tok_cached_tokens", {
  description: "tokens held in the cache",
})

/** Keys with at least one subscribed watcher. */
export const activeWatchers: Metric.Gauge<number> = Metric.gauge("tok_active_watchers", {
  description: "watched keys with at least one subscriber",
})

/** The `reason` label of `failures`, one per way a request ends badly. */
export type { FailureReason } from "./internal/reasons.ts"
/** Span names and span attribute names. */
export { Attributes, Spans } from "./internal/names.ts"

/** Metrics on the context's registry: every client built in its scope counts into it. */
const recorder: Recorder = {
  register: (context, gauges) => {
    const registry = Context.get(context, Metric.MetricRegistry)
    const shared = sharedFor(context, registry)
    const client: ClientRecorder = {
      counts: shared.counts,
      miss: () => cacheMisses.updateUnsafe(1, context),
      request: (cause) => shared.requests[cause].updateUnsafe(1, context),
      refresh: () => refreshes.updateUnsafe(1, context),
      peerHit: () => peerHits.updateUnsafe(1, context),
      failure: (reason) => {
        let counter = shared.failures.get(reason)
        if (counter === undefined) {
          counter = Metric.withAttributes(failures, { reason })
          shared.failures.set(reason, counter)
        }
        counter.updateUnsafe(1, context)
      },
      latency: (seconds) => requestDuration.updateUnsafe(seconds, context),
      close: () => void shared.gauges.delete(gauges),
    }
    shared.gauges.add(gauges)
    return client
  },
}

/** What the clients of one registry share: the hit count and the gauges they add up. */
interface Shared {
  readonly counts: { hits: number }
  readonly gauges: Set<{ readonly cachedTokens: () => number; readonly watchers: () => number }>
  readonly requests: Record<"call" | "refresh", Metric.Counter<number>>
  readonly failures: Map<string, Metric.Counter<number>>
}
const sharedByRegistry = new WeakMap<Metric.MetricRegistry, Shared>()

const sharedFor = (context: Context.Context<never>, registry: Metric.MetricRegistry): Shared => {
  const existing = sharedByRegistry.get(registry)
  if (existing !== undefined) return existing
  const shared: Shared = {
    counts: { hits: 0 },
    gauges: new Set(),
    requests: {
      call: Metric.withAttributes(requests, { cause: "call" }),
      refresh: Metric.withAttributes(requests, { cause: "refresh" }),
    },
    failures: new Map(),
  }
  sharedByRegistry.set(registry, shared)
  const sum = (read: (g: { cachedTokens: () => number; watchers: () => number }) => number) => {
    let total = 0
    for (const gauge of shared.gauges) total += read(gauge)
    return total
  }
  const none = () => undefined
  // Read when a snapshot is taken: counting a hit is one increment.
  Metric.registerUnsafe(cacheHits, context, {
    get: () => ({ count: shared.counts.hits, incremental: true }),
    update: none,
    modify: none,
  })
  Metric.registerUnsafe(cachedTokens, context, {
    get: () => ({ value: sum((g) => g.cachedTokens()) }),
    update: none,
    modify: none,
  })
  Metric.registerUnsafe(activeWatchers, context, {
    get: () => ({ value: sum((g) => g.watchers()) }),
    update: none,
    modify: none,
  })
  return shared
}

/**
 * Turns metrics on for the clients built where this layer is provided (the
 * Effect API: `TokenClient.layer(…).pipe(Layer.provide(TokenMetrics.layer))`;
 * the Promise face: `createTokenClient({ …, observability: TokenMetrics.layer })`).
 * Without it nothing is counted and `effect/Metric` stays out of the bundle.
 */
export const layer: Layer.Layer<never> = Layer.succeed(CurrentRecorder, recorder)

/**
 * Turns spans on for the clients built where this layer is provided: a
 * `tok.request` span per request, a `tok.attempt` span per attempt (its
 * children), a `tok.refresh` span per background refresh, through the
 * context's `Tracer` (install one: `OtlpTracer.layer(…)`, …). Without it no
 * span is made and the span machinery stays out of the bundle.
 */
export const tracing: Layer.Layer<never> = Layer.succeed(CurrentTracing, spans)

/** Metrics and spans together: `Layer.merge(layer, tracing)`. */
export const layerAll: Layer.Layer<never> = Layer.merge(layer, tracing)
