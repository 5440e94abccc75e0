/**
 * The HTTP sources at their edges: body sizes at the 1 MiB cap, bodies in
 * several chunks, status and `Retry-After` boundaries, and the message of
 * each failure (what a log shows). Found by the mutation run (issue 21).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { TestClock } from "effect/testing"
import { TokenSource, type TokenSourceError } from "@tok/core"
import { fakeJwt } from "@tok/core/testing"

const MiB = 1024 * 1024
const jwt = fakeJwt({ iat: 0, exp: 60 })

const fetchWith = (respond: () => Response | Promise<Response>) =>
  Effect.gen(function* () {
    const tokens = yield* TokenSource.TokenSource
    return yield* tokens.fetch({ sessionId: "sess_1" })
  }).pipe(
    Effect.provide(
      TokenSource.clerkFrontendApi({ baseUrl: "https://clerk.example.com" }).pipe(
        Layer.provide(Layer.succeed(TokenSource.Fetch, async () => respond())),
      ),
    ),
  )

const failWith = (respond: () => Response | Promise<Response>) =>
  Effect.flip(fetchWith(respond)).pipe(Effect.map((error) => error as TokenSourceError))

/** A body of `size` bytes that is JSON holding `jwt` (padded with spaces). */
const jsonOfSize = (size: number): string => {
  const core = JSON.stringify({ jwt })
  return core + " ".repeat(size - core.length)
}

/** A streamed body in the given chunks. */
const chunked = (chunks: ReadonlyArray<string>, init?: ResponseInit) =>
  new Response(
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk))
        controller.close()
      },
    }),
    init,
  )

describe("answer bodies", () => {
  it.effect("a body of exactly 1 MiB is read; one byte more is refused as too large", () =>
    Effect.gen(function* () {
      expect(yield* fetchWith(() => new Response(jsonOfSize(MiB)))).toBe(jwt)
      const error = yield* failWith(() => new Response(jsonOfSize(MiB + 1)))
      expect(error).toMatchObject({ status: 200, message: "the answer is larger than 1 MiB" })
    }),
  )

  it.effect("a declared Content-Length of exactly 1 MiB is read; more is refused unread", () =>
    Effect.gen(function* () {
      const exact = jsonOfSize(MiB)
      expect(
        yield* fetchWith(() => new Response(exact, { headers: { "content-length": String(MiB) } })),
      ).toBe(jwt)
      let pulled = false
      const error = yield* failWith(
        () =>
          new Response(
            new ReadableStream<Uint8Array>(
              {
                pull(controller) {
                  pulled = true
                  controller.enqueue(new TextEncoder().encode(JSON.stringify({ jwt })))
                  controller.close()
                },
              },
              { highWaterMark: 0 },
            ),
            { status: 503, headers: { "content-length": String(MiB + 1) } },
          ),
      )
      expect(error).toMatchObject({ status: 503, message: "the answer is larger than 1 MiB" })
      expect(pulled).toBe(false)
    }),
  )

  it.effect("a body streamed in many chunks is put together in order", () =>
    Effect.gen(function* () {
      const text = JSON.stringify({ object: "token", jwt })
      const pieces = text.match(/.{1,7}/g)!
      expect(pieces.length).toBeGreaterThan(3)
      expect(yield* fetchWith(() => chunked(pieces))).toBe(jwt)
      // Chunks whose sum passes the cap are refused, though each is small.
      const big = "z".repeat(MiB / 2)
      const error = yield* failWith(() => chunked([big, big, "!"]))
      expect(error.message).toBe("the answer is larger than 1 MiB")
    }),
  )

  it.effect("an error answer's code is read from a body in several chunks", () =>
    Effect.gen(function* () {
      const body = JSON.stringify({ errors: [{ code: "session_expired" }] })
      const error = yield* failWith(() =>
        chunked([body.slice(0, 5), body.slice(5, 20), body.slice(20)], { status: 401 }),
      )
      expect(error).toMatchObject({
        status: 401,
        code: "session_expired",
        message: "the token server answered HTTP 401",
      })
    }),
  )

  it.effect(
    "a 2xx whose JSON is null has no jwt string (a malformed answer, not a network failure)",
    () =>
      Effect.gen(function* () {
        const error = yield* failWith(() => Response.json(null))
        expect(error).toMatchObject({ status: 200, message: "the answer has no jwt string" })
      }),
  )

  it.effect("each failure says what went wrong", () =>
    Effect.gen(function* () {
      expect((yield* failWith(() => new Response("<html>"))).message).toBe("the answer is not JSON")
      expect((yield* failWith(() => new Response(null))).message).toBe("the answer is not JSON")
      expect((yield* failWith(() => Response.json({ jwt: "" }))).message).toBe(
        "the answer has no jwt string",
      )
      const unreachable = yield* failWith(() => {
        throw new TypeError("fetch failed")
      })
      expect(unreachable.status).toBeUndefined()
      expect(unreachable.message).toBe("the token server could not be reached")
      const broken = yield* failWith(
        () =>
          new Response(
            new ReadableStream<Uint8Array>({
              start(controller) {
                controller.error(new Error("socket hang up"))
              },
            }),
          ),
      )
      expect(broken.status).toBeUndefined()
      expect(broken.message).toBe("the connection closed mid-answer")
      const empty = yield* failWith(() => new Response(null, { status: 502 }))
      expect(empty.code).toBeUndefined()
      expect(empty).toMatchObject({ status: 502, message: "the token server answered HTTP 502" })
    }),
  )
})

describe("statuses", () => {
  it.effect("299 is a success; 300 is an error even with a jwt in the body", () =>
    Effect.gen(function* () {
      expect(yield* fetchWith(() => Response.json({ jwt }, { status: 299 }))).toBe(jwt)
      const error = yield* failWith(() => Response.json({ jwt }, { status: 300 }))
      expect(error).toMatchObject({ status: 300, message: "the token server answered HTTP 300" })
    }),
  )
})

describe("Retry-After", () => {
  const after = (value: string, headers: Record<string, string> = {}) =>
    failWith(
      () => new Response("", { status: 503, headers: { "retry-after": value, ...headers } }),
    ).pipe(Effect.map((error) => error.retryAfterMs))

  it.effect("delta-seconds: 0 is 0 ms, fractions round up, spaces are trimmed", () =>
    Effect.gen(function* () {
      expect(yield* after("0")).toBe(0)
      expect(yield* after("1.5")).toBe(1500)
      expect(yield* after("0.0001")).toBe(1)
      expect(yield* after(" 3 ")).toBe(3000)
    }),
  )

  it.effect("anything else is no Retry-After at all", () =>
    Effect.gen(function* () {
      for (const value of ["-1", "1e3", "soon", "1.", ".5", "3 s", "12345"]) {
        const ms = yield* after(value)
        if (value === "12345") expect(ms).toBe(12_345_000)
        else expect(ms, value).toBeUndefined()
      }
      expect(yield* after("Tue, 99 Foo 2030 xx:00:30 GMT")).toBeUndefined()
    }),
  )

  it.effect("a date already past is 0 ms, not negative", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.UTC(2030, 0, 1, 0, 1, 0))
      expect(yield* after("Tue, 01 Jan 2030 00:00:30 GMT")).toBe(0)
      expect(yield* after("Tue, 01 Jan 2030 00:01:10 GMT")).toBe(10_000)
    }),
  )
})
