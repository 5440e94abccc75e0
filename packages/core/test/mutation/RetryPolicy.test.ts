/**
 * `RetryPolicy` at its boundaries: the statuses either side of 5xx, the
 * limits `validate` accepts, and what it says about each bad option. Found
 * by the mutation run (issue 21).
 */
import { describe, expect, it } from "vitest"
import { RetryPolicy, TokenSourceError } from "@tok/core"

describe("RetryPolicy at its boundaries", () => {
  it("the timeout marker is a registered symbol, so two copies of tok agree on it", () => {
    expect(RetryPolicy.timeoutCause).toBe(Symbol.for("@tok/core/RetryPolicy/timeout"))
  })

  it("5xx is 500 to 599: 499 and 600 are not transient", () => {
    const reason = (status: number) => RetryPolicy.transientReason(new TokenSourceError({ status }))
    expect(reason(499)).toBeUndefined()
    expect(reason(500)).toBe("server")
    expect(reason(599)).toBe("server")
    expect(reason(600)).toBeUndefined()
    expect(reason(407)).toBeUndefined()
    expect(reason(428)).toBeUndefined()
  })

  it("a Retry-After of 0 is a usable one, and exactly maxDelay is still waited for", () => {
    const error = new TokenSourceError({ status: 503, retryAfterMs: 0 })
    expect(RetryPolicy.retryAfterOf(error)).toBe(0)
    const retryable = RetryPolicy.isRetryable({ attempts: 3, baseDelay: 10, maxDelay: 100 })
    expect(retryable(new TokenSourceError({ status: 429, retryAfterMs: 100 }))).toBe(true)
    expect(retryable(new TokenSourceError({ status: 429, retryAfterMs: 101 }))).toBe(false)
    expect(retryable(new TokenSourceError({ status: 429, retryAfterMs: -5 }))).toBe(true)
    expect(retryable(new TokenSourceError({ status: 400, retryAfterMs: 5 }))).toBe(false)
  })

  it("full jitter: the delay is random × the cap, floored, with Retry-After as a floor", () => {
    const options = { attempts: 5, baseDelay: 100, maxDelay: 1000 }
    expect(RetryPolicy.delayMillis(options, 1, 0.5, undefined)).toBe(50)
    expect(RetryPolicy.delayMillis(options, 2, 0.5, undefined)).toBe(100)
    expect(RetryPolicy.delayMillis(options, 3, 0.5, undefined)).toBe(200)
    expect(RetryPolicy.delayMillis(options, 5, 0.5, undefined)).toBe(500)
    expect(RetryPolicy.delayMillis(options, 3, 0.5, 300)).toBe(300)
    expect(RetryPolicy.delayMillis(options, 3, 0.5, 150)).toBe(200)
    expect(RetryPolicy.delayMillis(options, 1, 0.999, undefined)).toBe(99)
  })

  it("validate accepts the limits and names the option it refuses", () => {
    for (const ok of [
      { attempts: 1, baseDelay: 0, maxDelay: 0 },
      { attempts: 100, baseDelay: 250, maxDelay: 250 },
    ]) {
      expect(RetryPolicy.validate(ok)).toBeUndefined()
    }
    expect(RetryPolicy.validate({ attempts: 0, baseDelay: 1, maxDelay: 1 })).toBe(
      "retry.attempts must be a whole number from 1 to 100",
    )
    expect(RetryPolicy.validate({ attempts: 101, baseDelay: 1, maxDelay: 1 })).toBe(
      "retry.attempts must be a whole number from 1 to 100",
    )
    expect(RetryPolicy.validate({ attempts: 2, baseDelay: -0.5, maxDelay: 1 })).toBe(
      "retry.baseDelay must be a finite number of milliseconds ≥ 0",
    )
    expect(
      RetryPolicy.validate({ attempts: 2, baseDelay: Number.POSITIVE_INFINITY, maxDelay: 1 }),
    ).toBe("retry.baseDelay must be a finite number of milliseconds ≥ 0")
    expect(RetryPolicy.validate({ attempts: 2, baseDelay: 5, maxDelay: 4.5 })).toBe(
      "retry.maxDelay must be a finite number of milliseconds ≥ retry.baseDelay",
    )
    expect(RetryPolicy.validate({ attempts: 2, baseDelay: 5, maxDelay: Number.NaN })).toBe(
      "retry.maxDelay must be a finite number of milliseconds ≥ retry.baseDelay",
    )
  })
})
