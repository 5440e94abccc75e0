/**
 * Span and attribute names, apart from `TokenMetrics` so that tracing does
 * not pull `effect/Metric` into every bundle. Re-exported by `TokenMetrics`.
 * @internal
 */
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
