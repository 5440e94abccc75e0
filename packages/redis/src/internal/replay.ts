/**
 * Replay protection for sealed events. A sealed event carries, inside its
 * sealed plaintext (so no one without the key can alter them), when it was
 * sent (`ts`, the sender's epoch ms) and a random id (`id`). An instance hears
 * a sealed event only once, and only while it is fresh: sent at most
 * {@link PAST_MILLIS} before now and at most {@link FUTURE_MILLIS} after now
 * (the instances' clocks differ a little; delivery and a busy event loop only
 * ever make an event look older). Its id is remembered until the event is too
 * old anyway, so the memory holds at most one window of events; past
 * {@link MAX_REMEMBERED} ids the oldest is forgotten first.
 * @internal
 */

/** How old a sealed event may be when it arrives (ms): delivery delay plus clocks behind. */
export const PAST_MILLIS = 30_000

/** How far ahead of this instance's clock a sealed event may be stamped (ms): clocks ahead. */
export const FUTURE_MILLIS = 5_000

/** The most ids remembered at once (one window of events; about 100 bytes each). */
export const MAX_REMEMBERED = 50_000

/** Why a sealed event is not heard, or `undefined` when it is. */
export type Refusal = "stale" | "future" | "seen"

/** Decides which sealed events are heard. */
export interface ReplayGuard {
  /** Whether an event sent at `ts` with `id` is heard now; remembers `id` when it is. */
  readonly admit: (ts: number, id: string) => Refusal | undefined
  /** How many ids it remembers now. */
  readonly size: () => number
}

/**
 * A guard on the clock `now` (epoch ms). Time inside the guard does not go
 * back a little: if the host clock is set back by up to a window, it stands
 * still until the clock catches up, so an id is never forgotten while its
 * event could be heard. Set back by more, the guard follows the clock (the
 * time it had was wrong), so a clock that once jumped ahead does not mute
 * the instance.
 */
export const makeReplayGuard = (now: () => number): ReplayGuard => {
  // id → when it may be forgotten (the sender's `ts` + the window), in insertion order.
  const seen = new Map<string, number>()
  let latest = Number.NEGATIVE_INFINITY
  return {
    admit: (ts, id) => {
      const t = now()
      // The clock set back by more than a window: the earlier time was wrong
      // (a bad step, a restored VM), and holding on to it would refuse every
      // event as stale until it came round again. Ids still remembered stay.
      latest = t < latest - PAST_MILLIS ? t : Math.max(latest, t)
      // Ids arrive about in the order of their stamps: drop the expired ones from the front.
      for (const [key, forgetAt] of seen) {
        if (forgetAt >= latest) break
        seen.delete(key)
      }
      // Written so that a `ts` that is no number (NaN) is refused too.
      if (!(ts >= latest - PAST_MILLIS)) return "stale"
      if (!(ts <= latest + FUTURE_MILLIS)) return "future"
      if (seen.has(id)) return "seen"
      if (seen.size >= MAX_REMEMBERED) seen.delete(seen.keys().next().value!)
      seen.set(id, ts + PAST_MILLIS)
      return undefined
    },
    size: () => seen.size,
  }
}
