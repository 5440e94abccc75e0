import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { RetryPolicy, TokenSourceError } from "@tok/core"

const policy = RetryPolicy.defaults

describe("RetryPolicy", () => {
  describe("transientReason", () => {
    it.each([
      ["no status: network", {}, "network"],
      ["our timeout", { cause: RetryPolicy.timeoutCause }, "timeout"],
      ["408", { status: 408 }, "timeout"],
      ["429", { status: 429 }, "rate-limited"],
      ["500", { status: 500 }, "server"],
      ["599", { status: 599 }, "server"],
      ["400", { status: 400 }, undefined],
      ["401", { status: 401 }, undefined],
      ["403", { status: 403 }, undefined],
      ["404", { status: 404 }, undefined],
      ["422", { status: 422 }, undefined],
      ["200", { status: 200 }, undefined],
    ] as const)("%s", (_name, fields, reason) => {
      expect(RetryPolicy.transientReason(new TokenSourceError(fields))).toBe(reason)
    })
  })

  describe("isRetryable", () => {
    const retryable = RetryPolicy.isRetryable(policy)

    it("retries transient failures whose Retry-After fits in maxDelay", () => {
      expect(retryable(new TokenSourceError({ status: 503 }))).toBe(true)
      expect(retryable(new TokenSourceError({ status: 429, retryAfterMs: 8000 }))).toBe(true)
    })

    it("does not wait for a Retry-After longer than maxDelay", () => {
      expect(retryable(new TokenSourceError({ status: 429, retryAfterMs: 8001 }))).toBe(false)
    })

    it("ignores a Retry-After that is not a finite number ≥ 0", () => {
      for (const retryAfterMs of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
        const error = new TokenSourceError({ status: 503, retryAfterMs })
        expect(RetryPolicy.retryAfterOf(error)).toBeUndefined()
        expect(retryable(error)).toBe(true)
      }
    })

    it("never retries a permanent failure", () => {
      expect(retryable(new TokenSourceError({ status: 400 }))).toBe(false)
      expect(retryable(new TokenSourceError({ status: 401 }))).toBe(false)
    })
  })

  describe("delayMillis: full jitter", () => {
    it("draws retry n's delay from [0, min(maxDelay, base·2^(n−1))], Retry-After a lower bound", () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 100 }),
          fc.integer({ min: 0, max: 5000 }),
          fc.integer({ min: 0, max: 60_000 }),
          fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
          fc.option(fc.integer({ min: 0, max: 60_000 }), { nil: undefined }),
          (retry, baseDelay, extra, random, retryAfter) => {
            const options = { attempts: 4, baseDelay, maxDelay: baseDelay + extra }
            const delay = RetryPolicy.delayMillis(options, retry, random, retryAfter)
            const cap = Math.min(options.maxDelay, baseDelay * 2 ** (retry - 1))
            expect(delay).toBeGreaterThanOrEqual(retryAfter ?? 0)
            expect(delay).toBeLessThanOrEqual(Math.max(cap, retryAfter ?? 0))
          },
        ),
      )
    })

    it("spans the whole range, not ±20 % around the exponential", () => {
      expect(RetryPolicy.delayMillis(policy, 3, 0, undefined)).toBe(0)
      expect(RetryPolicy.delayMillis(policy, 3, 0.999999, undefined)).toBe(999)
      expect(RetryPolicy.delayMillis(policy, 10, 0.999999, undefined)).toBe(7999)
    })
  })

  describe("schedule", () => {
    /** Runs an always-failing effect under the policy; returns the virtual times of its attempts. */
    const attemptTimes = (options: RetryPolicy.Options, error: TokenSourceError, seed: string) =>
      Effect.gen(function* () {
        const times: Array<number> = []
        const failing = Effect.flatMap(
          Effect.clockWith((clock) => clock.currentTimeMillis),
          (now) => {
            times.push(now)
            return Effect.fail(error)
          },
        )
        const fiber = yield* Effect.forkChild(
          failing.pipe(
            Effect.retry({
              schedule: RetryPolicy.schedule(options),
              while: RetryPolicy.isRetryable(options),
            }),
            Random.withSeed(seed),
          ),
        )
        yield* TestClock.adjust("10 minutes")
        yield* Effect.flip(Fiber.join(fiber))
        return times
      })

    it.effect(
      "makes `attempts` attempts in all, each delay within its full-jitter bound (seeded)",
      () =>
        Effect.gen(function* () {
          for (const seed of ["a", "b", "c", "d", "e"]) {
            const times = yield* attemptTimes(policy, new TokenSourceError({ status: 503 }), seed)
            expect(times).toHaveLength(4)
            const gaps = times.slice(1).map((t, i) => t - times[i]!)
            gaps.forEach((gap, i) => {
              expect(gap).toBeGreaterThanOrEqual(0)
              expect(gap).toBeLessThan(250 * 2 ** i)
            })
          }
        }),
    )

    it.effect("the same seed gives the same delays", () =>
      Effect.gen(function* () {
        const error = new TokenSourceError({ status: 503 })
        const a = yield* attemptTimes(policy, error, "seed")
        const b = yield* attemptTimes(policy, error, "seed")
        expect(a.map((t) => t - a[0]!)).toEqual(b.map((t) => t - b[0]!))
      }),
    )

    it.effect("caps delays at maxDelay", () =>
      Effect.gen(function* () {
        const options = { attempts: 10, baseDelay: 1000, maxDelay: 1500 }
        const times = yield* attemptTimes(options, new TokenSourceError({ status: 500 }), "cap")
        expect(times).toHaveLength(10)
        times.slice(1).forEach((t, i) => expect(t - times[i]!).toBeLessThan(1500))
      }),
    )

    it.effect("waits at least Retry-After", () =>
      Effect.gen(function* () {
        const error = new TokenSourceError({ status: 429, retryAfterMs: 9000 })
        const times = yield* attemptTimes(policy, error, "ra")
        expect(times).toHaveLength(1)
        const fits = new TokenSourceError({ status: 429, retryAfterMs: 3000 })
        const waited = yield* attemptTimes(policy, fits, "ra")
        expect(waited).toHaveLength(4)
        waited.slice(1).forEach((t, i) => expect(t - waited[i]!).toBeGreaterThanOrEqual(3000))
      }),
    )

    it.effect("attempts: 1 never retries", () =>
      Effect.gen(function* () {
        const options = { attempts: 1, baseDelay: 250, maxDelay: 8000 }
        const times = yield* attemptTimes(options, new TokenSourceError({}), "one")
        expect(times).toHaveLength(1)
      }),
    )

    it("is a Schedule", () => {
      expect(Schedule.isSchedule(RetryPolicy.schedule(policy))).toBe(true)
    })
  })

  describe("validate", () => {
    it.each([
      [{ attempts: 0, baseDelay: 250, maxDelay: 8000 }],
      [{ attempts: 1.5, baseDelay: 250, maxDelay: 8000 }],
      [{ attempts: 101, baseDelay: 250, maxDelay: 8000 }],
      [{ attempts: 4, baseDelay: -1, maxDelay: 8000 }],
      [{ attempts: 4, baseDelay: Number.NaN, maxDelay: 8000 }],
      [{ attempts: 4, baseDelay: 250, maxDelay: 100 }],
      [{ attempts: 4, baseDelay: 250, maxDelay: Number.POSITIVE_INFINITY }],
    ])("rejects %j", (options) => {
      expect(RetryPolicy.validate(options)).toEqual(expect.any(String))
    })

    it("accepts the defaults", () => {
      expect(RetryPolicy.validate(policy)).toBeUndefined()
      expect(policy).toEqual({ attempts: 4, baseDelay: 250, maxDelay: 8000 })
    })
  })
})
