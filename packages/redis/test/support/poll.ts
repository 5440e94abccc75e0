/**
 * Waiting on a condition with a deadline, for tests against real processes:
 * on a loaded machine any fixed sleep is too short some day, and a condition
 * polled to a deadline is as quick as the machine allows.
 */
import * as Effect from "effect/Effect"

/** How long a condition is waited for unless told: far above any healthy wait. */
export const DEADLINE_MS = 5_000

/** Polls `check` every `everyMs` until it holds; whether it did within `withinMs`. */
export const until = async (
  check: () => boolean | Promise<boolean>,
  { withinMs = DEADLINE_MS, everyMs = 50 }: { withinMs?: number; everyMs?: number } = {},
): Promise<boolean> => {
  const deadline = Date.now() + withinMs
  for (;;) {
    if (await check()) return true
    if (Date.now() >= deadline) return false
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** {@link until} as an Effect, for tests written with `Effect.gen`. */
export const untilEffect = (
  check: () => boolean | Promise<boolean>,
  options?: { withinMs?: number; everyMs?: number },
): Effect.Effect<boolean> => Effect.promise(() => until(check, options))

/** A client that sends raw commands (node-redis' `createClient()`). */
interface Commands {
  sendCommand(args: string[]): Promise<unknown>
}

/**
 * Waits until at least `count` connections are subscribed to `channel`
 * (`PUBSUB NUMSUB`); throws after `withinMs`. A share's `subscribe` stops
 * waiting for its SUBSCRIBE after `redisTimeout`, so an event published
 * right after it may go to no one on a busy machine: wait for this first.
 */
export const subscribed = (
  raw: Commands,
  channel: string,
  count: number,
  withinMs = DEADLINE_MS,
): Effect.Effect<void> =>
  Effect.promise(async () => {
    let seen = 0
    const ok = await until(
      async () => {
        const reply = await raw.sendCommand(["PUBSUB", "NUMSUB", channel])
        seen = Array.isArray(reply) ? Number(reply[1]) : 0
        return seen >= count
      },
      { withinMs, everyMs: 20 },
    )
    if (!ok) throw new Error(`${seen} of ${count} subscribers on ${channel} after ${withinMs} ms`)
  })
