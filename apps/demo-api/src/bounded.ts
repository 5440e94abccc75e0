/**
 * Outgoing calls, bounded with Effect `Semaphore`s: `concurrency` run at once,
 * `queue` more wait for their turn, and the rest fail at once with a 503
 * `busy` `ApiError` (with `Retry-After`) before any call. Unbounded, a burst
 * of requests opens a socket each (to the token server and downstream) until
 * file descriptors and memory run out, and answers 502.
 * @module
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Semaphore from "effect/Semaphore"
import { ApiError } from "./ApiError.ts"

/** Runs `work` within the bounds, or fails with 503 `busy` when the queue is full. */
export type Bounded = <A, E, R>(work: Effect.Effect<A, E, R>) => Effect.Effect<A, E | ApiError, R>

const busy = () =>
  Effect.fail(
    new ApiError({
      status: 503,
      code: "busy",
      message: "Too many requests in progress: try again shortly.",
      retryAfterSeconds: 1,
    }),
  )

/** Throws when the bounds are not whole numbers with `concurrency ≥ 1` and `queue ≥ 0`. */
export const makeBounded = (concurrency: number, queue: number): Bounded => {
  if (!Number.isInteger(concurrency) || concurrency < 1 || !Number.isInteger(queue) || queue < 0) {
    throw new Error("downstreamConcurrency must be ≥ 1 and downstreamQueue ≥ 0 (whole numbers)")
  }
  const slots = Semaphore.makeUnsafe(concurrency)
  const admitted = Semaphore.makeUnsafe(concurrency + queue)
  return <A, E, R>(work: Effect.Effect<A, E, R>): Effect.Effect<A, E | ApiError, R> =>
    Semaphore.withPermitsIfAvailable(
      admitted,
      1,
    )(Semaphore.withPermits(slots, 1)(work)).pipe(
      Effect.flatMap(
        Option.match({
          onNone: busy,
          onSome: (value: A) => Effect.succeed(value),
        }),
      ),
    )
}
