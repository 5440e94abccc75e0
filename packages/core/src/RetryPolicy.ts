/**
 * `RetryPolicy` — what is transient, and how long to wait before the next try.
 *
 * Transient: no HTTP answer (network), a timeout (ours, or 408), 5xx and 429.
 * Everything else fails at once. The delay before retry `n` (1-based) is drawn
 * uniformly from `[0, min(maxDelay, baseDelay · 2^(n−1))]` — full jitter, which
 * spreads a crowd of clients better than Effect's `Schedule.jittered`
 * (±20 % around the exponential) — and a server's `Retry-After` is a lower
 * bound on it. A `Retry-After` longer than `maxDelay` is not waited for.
 * @module
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import type { UnavailableReason } from "./TokenError.ts"
import type { TokenSourceError } from "./TokenSource.ts"

/** Retry options; all times in milliseconds. `attempts` counts the first try. */
export interface Options {
  readonly attempts: number
  readonly baseDelay: number
  readonly maxDelay: number
}

/** The defaults of DESIGN §2.5: 4 attempts in all, base 250 ms, cap 8 s. */
export const defaults: Options = { attempts: 4, baseDelay: 250, maxDelay: 8000 }

/** Marks a `TokenSourceError` that the client made when an attempt timed out. */
export const timeoutCause: unique symbol = Symbol.for("@tok/core/RetryPolicy/timeout")

/** Why a failure is transient, or `undefined` when it is not. */
export const transientReason = (error: TokenSourceError): UnavailableReason | undefined => {
  const status = error.status
  if (status === undefined) return error.cause === timeoutCause ? "timeout" : "network"
  if (status === 408) return "timeout"
  if (status === 429) return "rate-limited"
  if (status >= 500 && status <= 599) return "server"
  return undefined
}

/**
 * The server's `Retry-After` in ms, if the source gave a usable one (a
 * finite number ≥ 0; anything else is ignored).
 */
export const retryAfterOf = (error: TokenSourceError): number | undefined => {
  const ms = error.retryAfterMs
  // Stryker disable next-line ConditionalExpression: `typeof … === "number"` is there for TypeScript; Number.isFinite alone already refuses a non-number
  return typeof ms === "number" && Number.isFinite(ms) && ms >= 0 ? ms : undefined
}

/** Whether the policy retries this failure (it is transient and its `Retry-After` fits). */
export const isRetryable =
  (options: Options) =>
  (error: TokenSourceError): boolean => {
    const retryAfter = retryAfterOf(error)
    return (
      transientReason(error) !== undefined &&
      (retryAfter === undefined || retryAfter <= options.maxDelay)
    )
  }

/** The delay before retry `retry` (1-based) with `random` in [0, 1). */
export const delayMillis = (
  options: Options,
  retry: number,
  random: number,
  retryAfterMs: number | undefined,
): number => {
  const cap = Math.min(options.maxDelay, options.baseDelay * 2 ** (retry - 1))
  return Math.max(Math.floor(random * cap), retryAfterMs ?? 0)
}

/**
 * The retry schedule: at most `attempts − 1` retries, full-jitter exponential
 * delays, `Retry-After` as a lower bound. Use with `Effect.retry({ schedule,
 * while: isRetryable(options) })`.
 */
export const schedule = (options: Options): Schedule.Schedule<number, TokenSourceError> =>
  Schedule.fromStepWithMetadata(
    Effect.succeed((meta: Schedule.InputMetadata<TokenSourceError>) =>
      meta.attempt >= options.attempts
        ? Cause.done(meta.attempt)
        : Effect.map(Random.next, (random) => {
            const delay = delayMillis(options, meta.attempt, random, retryAfterOf(meta.input))
            return [meta.attempt, Duration.millis(delay)] as [number, Duration.Duration]
          }),
    ),
  )

/** Checks retry options; returns a problem or `undefined`. */
export const validate = (options: Options): string | undefined => {
  if (!Number.isInteger(options.attempts) || options.attempts < 1 || options.attempts > 100) {
    return "retry.attempts must be a whole number from 1 to 100"
  }
  if (!Number.isFinite(options.baseDelay) || options.baseDelay < 0) {
    return "retry.baseDelay must be a finite number of milliseconds ≥ 0"
  }
  if (!Number.isFinite(options.maxDelay) || options.maxDelay < options.baseDelay) {
    return "retry.maxDelay must be a finite number of milliseconds ≥ retry.baseDelay"
  }
  return undefined
}
