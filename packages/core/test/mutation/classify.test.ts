/**
 * How a source's failure becomes the caller's error, at the status
 * boundaries (issue 21): 2xx is a malformed answer, 300 and 600 are refusals
 * (not retried), 599 is a server failure (retried), and each error's message
 * says what happened.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import { makeFakeSource } from "@tok/core/testing"
import { withClient } from "../support.ts"

const failWith = (
  fail: { status?: number; code?: string; retryAfterMs?: number },
  template?: string,
) => {
  const source = makeFakeSource({ respond: () => ({ fail }) })
  return withClient(
    source,
    (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const fiber = yield* Effect.forkChild(
          Effect.flip(tok.getToken(template === undefined ? undefined : { template })),
        )
        yield* TestClock.adjust("1 minute")
        const error = yield* Fiber.join(fiber)
        return { error, requests: source.requests.length }
      }),
    { retry: { attempts: 3, baseDelay: 10, maxDelay: 100 } },
  )
}

describe("classification at the boundaries", () => {
  it.effect("a 2xx the source refuses is MalformedTokenError, at once", () =>
    Effect.gen(function* () {
      for (const status of [200, 299]) {
        const { error, requests } = yield* failWith({ status })
        expect(error._tag).toBe("MalformedTokenError")
        expect(requests).toBe(1)
      }
    }),
  )

  it.effect("300 and 600 are refusals, not retried; 599 is a server failure, retried", () =>
    Effect.gen(function* () {
      for (const status of [300, 600, 199]) {
        const { error, requests } = yield* failWith({ status, code: "nope" })
        expect(error).toMatchObject({
          _tag: "TokenRequestError",
          status,
          code: "nope",
          message: `The token request was refused with HTTP ${status} (nope)`,
        })
        expect(requests).toBe(1)
      }
      const { error, requests } = yield* failWith({ status: 599 })
      expect(error).toMatchObject({
        _tag: "TokenUnavailableError",
        reason: "server",
        status: 599,
        attempts: 3,
        message: "Token unavailable: the token server failed (HTTP 599) after 3 attempts",
      })
      expect(requests).toBe(3)
    }),
  )

  it.effect(
    "exactly the maximum attempts, then TokenUnavailableError with the last Retry-After",
    () =>
      Effect.gen(function* () {
        const { error, requests } = yield* failWith({ status: 429, retryAfterMs: 0 })
        expect(requests).toBe(3)
        expect(error).toMatchObject({
          _tag: "TokenUnavailableError",
          reason: "rate-limited",
          retryAfterMs: 0,
          attempts: 3,
          message:
            "Token unavailable: the token server is rate-limiting requests (HTTP 429) after 3 attempts; it asked to wait 0 ms",
        })
      }),
  )

  it.effect(
    "404 is TemplateNotFoundError only for a template; a 401 with a credential code signs nobody out",
    () =>
      Effect.gen(function* () {
        expect((yield* failWith({ status: 404 }, "firebase")).error).toMatchObject({
          _tag: "TemplateNotFoundError",
          template: "firebase",
          message: 'The server has no JWT template named "firebase"',
        })
        expect((yield* failWith({ status: 404 })).error).toMatchObject({
          _tag: "TokenRequestError",
          status: 404,
        })
        expect((yield* failWith({ status: 401, code: "secret_key_invalid" })).error).toMatchObject({
          _tag: "TokenRequestError",
          status: 401,
          code: "secret_key_invalid",
        })
        expect((yield* failWith({ status: 401, code: "session_expired" })).error).toMatchObject({
          _tag: "NotSignedInError",
          sessionId: "sess_1",
          message: "Session sess_1 is not signed in (it has ended or was never started)",
        })
      }),
  )

  it.effect("no status at all is a network failure, retried to the last attempt", () =>
    Effect.gen(function* () {
      const { error, requests } = yield* failWith({})
      expect(requests).toBe(3)
      expect(error).toMatchObject({
        _tag: "TokenUnavailableError",
        reason: "network",
        message: "Token unavailable: the token server could not be reached after 3 attempts",
      })
    }),
  )
})
