import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Tracer from "effect/Tracer"
import { TestClock } from "effect/testing"
import { PrometheusMetrics } from "effect/observability"
import { type TokenClient, TokenMetrics } from "@tok/core"
import { type FakeSource, makeFakeSource } from "@tok/core/testing"
import { settle, withClient } from "./support.ts"

/** A tracer that keeps every span it makes: Effect's own `NativeSpan`s. */
const recordingTracer = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    },
  })
  return { spans, tracer }
}

/** Runs `body` with a client built under a recording tracer and a fresh metric registry. */
const observed = <A, E>(
  source: FakeSource,
  body: (tok: TokenClient.Service, registry: Metric.MetricRegistry) => Effect.Effect<A, E>,
  config?: TokenClient.Config,
  metrics = true,
) => {
  const { spans, tracer } = recordingTracer()
  const registry: Metric.MetricRegistry = new Map()
  const run = withClient(source, (tok) => body(tok, registry), config).pipe(
    Effect.provide(metrics ? TokenMetrics.layerAll : Layer.empty),
    Effect.provideService(Tracer.Tracer, tracer),
    Effect.provideService(Metric.MetricRegistry, registry),
  )
  return { spans, registry, run }
}

const named = (spans: ReadonlyArray<Tracer.NativeSpan>, name: string) =>
  spans.filter((span) => span.name === name)

const attributesOf = (span: Tracer.NativeSpan) => Object.fromEntries(span.attributes)

/** The value of a series in `registry`: a counter's count or a gauge's value. */
const valueOf = (
  registry: Metric.MetricRegistry,
  id: string,
  attributes: Record<string, string> = {},
): number | undefined => {
  const snapshot = Metric.snapshotUnsafe(Context.make(Metric.MetricRegistry, registry))
  const series = snapshot.find(
    (s) => s.id === id && Object.entries(attributes).every(([k, v]) => s.attributes?.[k] === v),
  )
  if (series === undefined) return undefined
  const state = series.state as { count?: number; value?: number }
  return Number(state.count ?? state.value)
}

const noJwtIn = (spans: ReadonlyArray<Tracer.NativeSpan>) => {
  for (const span of spans) {
    for (const [key, value] of span.attributes) {
      expect(`${key}=${String(value)}`).not.toContain("eyJ")
    }
  }
}

describe("§8 traces", () => {
  it.effect(
    "a request with retries is one tok.request span and one tok.attempt span per attempt",
    () => {
      const source = makeFakeSource()
      source.enqueue({ fail: { status: 503 } }, { fail: {} }, {})
      const { spans, run } = observed(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_secret_1")
          const fiber = yield* Effect.forkChild(
            tok.getToken({ template: "supabase", organizationId: "org_1" }),
          )
          yield* TestClock.adjust(20_000)
          return yield* Fiber.await(fiber)
        }),
      )
      return Effect.gen(function* () {
        yield* run
        const requests = named(spans, TokenMetrics.Spans.request)
        const attempts = named(spans, TokenMetrics.Spans.attempt)
        expect(requests).toHaveLength(1)
        expect(attempts).toHaveLength(3)
        expect(attempts.map((s) => s.attributes.get(TokenMetrics.Attributes.attempt))).toEqual([
          1, 2, 3,
        ])
        expect(attributesOf(attempts[0]!)).toMatchObject({
          [TokenMetrics.Attributes.template]: "supabase",
          [TokenMetrics.Attributes.organizationId]: "org_1",
          [TokenMetrics.Attributes.httpStatus]: 503,
          [TokenMetrics.Attributes.errorReason]: "server",
        })
        expect(attributesOf(attempts[1]!)).toMatchObject({
          [TokenMetrics.Attributes.errorReason]: "network",
        })
        expect(attempts[1]!.attributes.has(TokenMetrics.Attributes.httpStatus)).toBe(false)
        expect(attempts[2]!.attributes.has(TokenMetrics.Attributes.errorTag)).toBe(false)
        expect(attributesOf(requests[0]!)).toMatchObject({
          [TokenMetrics.Attributes.template]: "supabase",
          [TokenMetrics.Attributes.cause]: "call",
          [TokenMetrics.Attributes.attempts]: 3,
          [TokenMetrics.Attributes.origin]: "network",
          [TokenMetrics.Attributes.fenced]: false,
        })
        // Every attempt is a child of its request's span.
        for (const attempt of attempts) {
          expect(attempt.parent._tag).toBe("Some")
          expect(attempt.parent._tag === "Some" && attempt.parent.value.spanId).toBe(
            requests[0]!.spanId,
          )
        }
        // The session id is opt-in, and no token is ever an attribute.
        for (const span of spans) {
          expect(span.attributes.has(TokenMetrics.Attributes.sessionId)).toBe(false)
          expect([...span.attributes.values()].map(String)).not.toContain("sess_secret_1")
        }
        noJwtIn(spans)
      })
    },
  )

  it.effect(
    "a failed request says why on its span; the session id only with traceSessionId",
    () => {
      const source = makeFakeSource()
      source.enqueue({ fail: { status: 404 } })
      const { spans, run } = observed(
        source,
        (tok) =>
          Effect.gen(function* () {
            yield* tok.setSession("sess_1")
            return yield* Effect.flip(tok.getToken({ template: "nope" }))
          }),
        { traceSessionId: true },
      )
      return Effect.gen(function* () {
        const error = yield* run
        expect(error._tag).toBe("TemplateNotFoundError")
        const [request] = named(spans, TokenMetrics.Spans.request)
        expect(attributesOf(request!)).toMatchObject({
          [TokenMetrics.Attributes.sessionId]: "sess_1",
          [TokenMetrics.Attributes.errorTag]: "TemplateNotFoundError",
          [TokenMetrics.Attributes.errorReason]: "template-not-found",
          [TokenMetrics.Attributes.attempts]: 1,
        })
        const [attempt] = named(spans, TokenMetrics.Spans.attempt)
        expect(attempt!.attributes.get(TokenMetrics.Attributes.httpStatus)).toBe(404)
      })
    },
  )

  it.effect("a watcher's background refresh is a tok.refresh span with its own request", () => {
    const source = makeFakeSource({ lifetimeSeconds: 60 })
    const { spans, run } = observed(
      source,
      (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watcher = yield* tok.watch()
          const stop = watcher.subscribe(() => undefined)
          yield* settle
          yield* TestClock.adjust(55_000)
          stop()
        }),
      { refreshJitter: 0 },
    )
    return Effect.gen(function* () {
      yield* run
      const refreshes = named(spans, TokenMetrics.Spans.refresh)
      const requests = named(spans, TokenMetrics.Spans.request)
      expect(source.requests).toHaveLength(2)
      expect(refreshes).toHaveLength(2)
      expect(requests.map((s) => s.attributes.get(TokenMetrics.Attributes.cause))).toEqual([
        "refresh",
        "refresh",
      ])
      noJwtIn(spans)
    })
  })
})

describe("§8 metrics", () => {
  it.effect("hits, misses, requests, latency and gauges land in the context's registry", () => {
    const source = makeFakeSource({ delayMs: 100 })
    const { registry, run } = observed(source, (tok, live) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const fiber = yield* Effect.forkChild(tok.getToken())
        yield* TestClock.adjust(100)
        yield* Fiber.await(fiber)
        yield* tok.getToken()
        yield* tok.getToken()
        yield* tok.getToken({ template: "a" }).pipe(Effect.forkChild)
        yield* TestClock.adjust(100)
        yield* tok.getToken({ template: "a" })
        const watcher = yield* tok.watch()
        const stop = watcher.subscribe(() => undefined)
        yield* settle
        const during = {
          watchers: valueOf(live, "tok_active_watchers"),
          cached: valueOf(live, "tok_cached_tokens"),
        }
        stop()
        return during
      }),
    )
    return Effect.gen(function* () {
      const during = yield* run
      expect(valueOf(registry, "tok_cache_hits_total")).toBe(3)
      expect(valueOf(registry, "tok_cache_misses_total")).toBe(2)
      expect(valueOf(registry, "tok_requests_total", { cause: "call" })).toBe(2)
      expect(during).toEqual({ watchers: 1, cached: 2 })
      const histogram = Metric.snapshotUnsafe(Context.make(Metric.MetricRegistry, registry)).find(
        (s) => s.id === "tok_request_duration_seconds",
      )
      expect(histogram?.state).toMatchObject({ count: 2, sum: 0.2 })
      // The client is gone: its gauges leave the sums.
      expect(valueOf(registry, "tok_cached_tokens")).toBe(0)
    })
  })

  it.effect("failures are counted by reason, and the text is Prometheus' own", () => {
    const source = makeFakeSource()
    source.enqueue({ fail: { status: 403 } }, { fail: { status: 429, retryAfterMs: 60_000 } })
    const { registry, run } = observed(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        yield* Effect.flip(tok.getToken())
        yield* Effect.flip(tok.getToken())
        return yield* PrometheusMetrics.format()
      }),
    )
    return Effect.gen(function* () {
      const text = yield* run
      expect(valueOf(registry, "tok_failures_total", { reason: "rejected" })).toBe(1)
      expect(valueOf(registry, "tok_failures_total", { reason: "rate-limited" })).toBe(1)
      expect(text).toContain('tok_failures_total{reason="rejected"} 1')
      expect(text).toContain("# TYPE tok_cache_hits_total counter")
      expect(text).toContain("tok_request_duration_seconds_bucket")
    })
  })

  it.effect("without TokenMetrics' layers nothing is counted and no span is made", () => {
    const source = makeFakeSource()
    const { registry, spans, run } = observed(
      source,
      (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          yield* tok.getToken()
          yield* tok.getToken()
        }),
      undefined,
      false,
    )
    return Effect.gen(function* () {
      yield* run
      expect(source.requests).toHaveLength(1)
      expect([...registry.keys()].filter((k) => k.startsWith("tok_"))).toEqual([])
      expect(spans.filter((span) => span.name.startsWith("tok."))).toEqual([])
    })
  })

  it.effect("a bad telemetry option is InvalidOptionsError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        withClient(makeFakeSource(), () => Effect.void, {
          traceSessionId: "yes" as unknown as boolean,
        }),
      )
      expect(error._tag).toBe("InvalidOptionsError")
    }),
  )
})
