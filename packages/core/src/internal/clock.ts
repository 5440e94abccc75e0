/**
 * The one clock in tok that touches host timers directly: Effect's default
 * clock, except that its timers are `unref`'d where the host supports it, so a
 * Node process with a subscribed watcher still exits on its own (DESIGN §2.7).
 * `Date.now` and `setTimeout` are looked up on `globalThis` at call time, so
 * the fake timers of vitest, jest or sinon drive it.
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const MAX_TIMER_MILLIS = 2 ** 31 - 1

const sleepMillis = (millis: number): Effect.Effect<void> => {
  if (millis <= 0) return Effect.yieldNow
  if (!Number.isFinite(millis)) return Effect.never
  return Effect.callback<void>((resume) => {
    const rest = millis > MAX_TIMER_MILLIS ? sleepMillis(millis - MAX_TIMER_MILLIS) : Effect.void
    const handle = globalThis.setTimeout(() => resume(rest), Math.min(millis, MAX_TIMER_MILLIS))
    ;(handle as { unref?: () => void }).unref?.()
    return Effect.sync(() => globalThis.clearTimeout(handle))
  })
}

const monotonicNanos = (): bigint =>
  BigInt(Math.round((globalThis.performance?.now() ?? globalThis.Date.now()) * 1_000_000))

/** A clock reading `Date.now()` whose sleeps never hold a Node process open. */
export const unrefClock: Clock.Clock = {
  currentTimeMillisUnsafe: () => globalThis.Date.now(),
  currentTimeMillis: Effect.sync(() => globalThis.Date.now()),
  currentTimeNanosUnsafe: () => BigInt(globalThis.Date.now()) * 1_000_000n,
  currentTimeNanos: Effect.sync(() => BigInt(globalThis.Date.now()) * 1_000_000n),
  monotonicTimeNanosUnsafe: monotonicNanos,
  monotonicTimeNanos: Effect.sync(monotonicNanos),
  sleep: (duration) => sleepMillis(Duration.toMillis(duration)),
}

/** Provides the unref'd clock. */
export const layerUnrefClock: Layer.Layer<never> = /*#__PURE__*/ Layer.succeed(
  Clock.Clock,
  unrefClock,
)
