/**
 * tok's metrics and span names, through Effect's own `Metric` and `Tracer`
 * (DESIGN §8). Every client writes to the `Metric.MetricRegistry` of the
 * context it was built in, so Effect's exporters see them as they are:
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
 * import * as Effect from "effect/Effect"
 * import { PrometheusMetrics } from "effect/observability"
 *
 * const text = yield* PrometheusMetrics.format() // tok_cache_hits_total 42 …
 * ```
 * @module
 */
import * as Metric from "effect/Metric"

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
export type FailureReason =
  | "network"
  | "timeout"
  | "server"
  | "rate-limited"
  | "signed-out"
  | "template-not-found"
  | "rejected"
  | "malformed"
  | "invalid-options"
  | "defect"

/** Span names. */
export const Spans = {
  /** One per request, retries included: what its callers share. */
  request: "tok.request",
  /** One per attempt of a request. */
  attempt: "tok.attempt",
  /** One per background refresh of a watched key. */
  refresh: "tok.refresh",
} as const

/** Span attribute names. */
export const Attributes = {
  template: "tok.template",
  organizationId: "tok.organization_id",
  /** Only with `traceSessionId: true`. */
  sessionId: "tok.session_id",
  /** `call` or `refresh`. */
  cause: "tok.request.cause",
  skipCache: "tok.skip_cache",
  /** 1 for the first attempt. */
  attempt: "tok.attempt",
  /** How many attempts a request took. */
  attempts: "tok.attempts",
  /** HTTP status of an attempt's answer (none: no answer). */
  httpStatus: "http.response.status_code",
  /** The `TokenError` tag a request failed with, or `TokenSourceError` for an attempt. */
  errorTag: "tok.error.tag",
  /** A `FailureReason`. */
  errorReason: "tok.error.reason",
  /** `network` or `peer`: where the token came from. */
  origin: "tok.origin",
  /** The request's result was not cached (session ended, key invalidated). */
  fenced: "tok.fenced",
} as const
