/**
 * A fleet-wide cap on requests per second to the auth server (Clerk's Backend
 * API is rate limited per application, not per instance): a `TokenSource`
 * wrapped so that every instance sharing one Redis draws from one budget.
 * Built on Effect's `RateLimiter`, twice: with its Redis store, a token
 * bucket that holds one request and refills every
 * `1000 / (requestsPerSecond × headroom)` ms hands out turns, first come, first served, one Redis call each; in
 * memory, the same bucket per process, so a process whose timers fire late
 * sends its due turns one by one, never in a burst. Requests leave at 70% of
 * the cap (`headroom`): the rest absorbs the jitter of the network and of
 * the server's scheduling, so the auth server does not see more than the cap
 * in any second (at 80 %, a quiet 2-core machine's busiest second saw 21
 * under a cap of 20).
 *
 * Each request takes the next free turn in one Redis call and waits for it,
 * first come, first served. The wait is part of the attempt, so it counts
 * against the client's `requestTimeout`: a burst of N cold keys under a cap
 * of C needs N / (headroom × C) seconds, and `requestTimeout` must allow it (an attempt
 * the timeout cuts leaves its turn unused and retries for a later one).
 * When Redis cannot be reached only the per-process pacing holds (a fleet
 * of K sends up to K × the cap): a cap must never fail a caller that the
 * auth server would answer.
 * @module
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RateLimiter from "effect/persistence/RateLimiter"
import type * as Redis from "effect/persistence/Redis"
import { InvalidOptionsError, TokenSource } from "@tok/core"

/** Options of {@link layer}. */
export interface Options {
  /** The most requests per second the whole fleet sends to the auth server. */
  readonly requestsPerSecond: number
  /** Prefix of the limiter's Redis keys; default `"tok:"` (the key is `<prefix>cap:<name>`). */
  readonly prefix?: string | undefined
  /** Which budget: instances with the same name share one; default `"default"`. */
  readonly name?: string | undefined
  /**
   * The share of the cap that requests leave at, in (0, 1]; default 0.7. The
   * rest absorbs the jitter of the network and of the server's scheduling,
   * which can bunch requests that left evenly spaced.
   */
  readonly headroom?: number | undefined
  /** The longest the limiter's Redis call may take before the request goes on with the per-process pacing only (ms); default 2000. */
  readonly redisTimeout?: number | undefined
}

/** The problem with `options`, if any. */
/** Turns a request may miss (its process woke too late) before it leaves anyway. */
const MAX_TURNS = 8

const check = (options: Options): InvalidOptionsError | undefined => {
  const rps = options.requestsPerSecond
  if (typeof rps !== "number" || !Number.isFinite(rps) || rps <= 0 || rps > 10_000) {
    return new InvalidOptionsError({ detail: "requestsPerSecond must be a number in (0, 10000]" })
  }
  const headroom = options.headroom
  if (
    headroom !== undefined &&
    (typeof headroom !== "number" || !Number.isFinite(headroom) || headroom <= 0 || headroom > 1)
  ) {
    return new InvalidOptionsError({ detail: "headroom must be a number in (0, 1]" })
  }
  for (const name of ["redisTimeout"] as const) {
    const value = options[name]
    if (
      value !== undefined &&
      (typeof value !== "number" || !Number.isFinite(value) || value < 0)
    ) {
      return new InvalidOptionsError({ detail: `${name} must be a finite number of ms ≥ 0` })
    }
  }
  return undefined
}

/**
 * Wraps the `TokenSource` that `source` provides so the fleet sends at most
 * `requestsPerSecond` requests per second, counted in the Redis in context.
 * Bad options fail the layer with `InvalidOptionsError`.
 * @example
 * ```ts
 * import { NodeRedis } from "@effect/platform-node"
 * import { TokenClient, TokenSource } from "@tok/core"
 * import { RequestCap } from "@tok/redis"
 *
 * const source = RequestCap.layer(
 *   TokenSource.clerkBackendApi({ baseUrl, secretKey }),
 *   { requestsPerSecond: 20 },
 * )
 * const client = TokenClient.layer().pipe(
 *   Layer.provide(source),
 *   Layer.provide(NodeRedis.layer({ url: process.env.REDIS_URL })),
 * )
 * ```
 */
export const layer = <E, R>(
  source: Layer.Layer<TokenSource.TokenSource, E, R>,
  options: Options,
): Layer.Layer<TokenSource.TokenSource, E | InvalidOptionsError, R | Redis.Redis> =>
  Layer.effect(TokenSource.TokenSource)(
    Effect.gen(function* () {
      const problem = check(options)
      if (problem) return yield* problem
      const inner = yield* TokenSource.TokenSource
      const limiter = yield* RateLimiter.make.pipe(
        Effect.provide(RateLimiter.layerStoreRedis({ prefix: `${options.prefix ?? "tok:"}cap:` })),
      )
      // A tenth of the cap is kept back for what happens after a request
      // leaves: the network and the server's own scheduling can bunch
      // requests that left evenly spaced.
      const spacing = Duration.millis(
        1000 / (options.requestsPerSecond * (options.headroom ?? 0.7)),
      )
      const timeout = Duration.millis(options.redisTimeout ?? 2000)
      const key = options.name ?? "default"
      // The Redis call is bounded; when Redis is away the request goes on
      // (paced per process) rather than fail.
      const bounded = <A, E>(effect: Effect.Effect<A, E>, fallback: A) =>
        effect.pipe(
          Effect.timeout(timeout),
          Effect.catchCause(() => Effect.succeed(fallback)),
        )
      const local = yield* RateLimiter.make.pipe(Effect.provide(RateLimiter.layerStoreMemory))
      const wait = (limiter: RateLimiter.RateLimiter, key: string) =>
        limiter
          .consume({
            key,
            algorithm: "token-bucket",
            onExceeded: "delay",
            limit: 1,
            window: spacing,
          })
          .pipe(Effect.map((result) => result.delay))
      // 2. This process never sends two requests closer than the fleet's
      // spacing: turns whose timers fired late (a busy event loop) leave one
      // by one, not in a burst. With Redis away, this alone paces requests.
      const pace = wait(local, key).pipe(
        Effect.flatMap(Effect.sleep),
        Effect.orElseSucceed(() => undefined),
      )
      // 1. A turn in the fleet's queue: one Redis call gives the moment this
      // request may leave. A process that wakes too late for its moment (a
      // busy event loop fires timers late) gives it up and queues again:
      // sending late would put it beside the next turns, and the auth server
      // would see a burst the cap was meant to prevent. After a few missed
      // turns it goes anyway rather than wait forever.
      const lateness = Duration.toMillis(spacing)
      const admit = Effect.gen(function* () {
        for (let turns = 1; ; turns++) {
          const delay = yield* bounded(wait(limiter, key), Duration.zero)
          const due = (yield* Clock.currentTimeMillis) + Duration.toMillis(delay)
          yield* Effect.sleep(delay)
          yield* pace
          if ((yield* Clock.currentTimeMillis) - due <= lateness || turns >= MAX_TURNS) return
        }
      })
      return TokenSource.TokenSource.of({
        fetch: (request) => Effect.andThen(admit, inner.fetch(request)),
      })
    }),
  ).pipe(Layer.provide(source))
