/**
 * The events on `<prefix>events`, as they go on the channel: JSON naming the
 * instance that sent them (`o`). With a key, each is sealed with AES-GCM,
 * bound to the channel, and stamped inside the seal with when it was sent
 * (`ts`) and a random id (`id`), so it is heard once, while fresh
 * (replay.ts). Without a key, whoever can PUBLISH is trusted (README).
 * @internal
 */
import * as Effect from "effect/Effect"
import type { Sealer } from "./crypto.ts"
import { makeReplayGuard } from "./replay.ts"

/** An event's fields, as `JSON.parse` gives them. */
export type EventFields = Record<string, unknown>

/** Turns events into channel messages and back. */
export interface EventCodec {
  /** The message for `event`, sealed and stamped when a key is configured. */
  readonly encode: (event: EventFields) => Effect.Effect<string>
  /**
   * A decoder for one subscription: the event in a message; `undefined` when
   * it does not parse or, with a key, does not open, carries no time or id
   * (sealed by an older version), is stale or from too far ahead, or was
   * heard before on this subscription. Each subscription has its own memory
   * of ids: every listener hears every event once.
   */
  readonly decoder: () => (text: string) => Effect.Effect<EventFields | undefined>
}

/** Stale or future events are warned of at most once a minute (a skewed clock, or replays). */
const WARN_EVERY_MILLIS = 60_000

export const makeEventCodec = (options: {
  readonly instanceId: string
  readonly channel: string
  readonly sealer: Sealer | undefined
  /** The clock, in epoch ms. */
  readonly now: () => number
}): EventCodec => {
  const { instanceId, sealer, now } = options
  if (sealer === undefined) {
    return {
      encode: (event) => Effect.succeed(JSON.stringify({ o: instanceId, ...event })),
      decoder: () => (text) => Effect.sync(() => parseEvent(text)),
    }
  }
  // The additional data never contains "{", every token key does: a sealed
  // token value published as an event does not open, nor the reverse.
  const aad = `event:${options.channel}`
  let warned = Number.NEGATIVE_INFINITY
  let refusedSince = 0
  /** Only why, and how many: never the event, which names a session. */
  const refusal = (why: string): Effect.Effect<undefined> => {
    refusedSince += 1
    const t = now()
    if ((why !== "stale" && why !== "future") || t - warned < WARN_EVERY_MILLIS) {
      return Effect.as(Effect.logDebug(`tok/redis: a sealed event was ignored (${why})`), undefined)
    }
    const count = refusedSince
    warned = t
    refusedSince = 0
    return Effect.as(
      Effect.logWarning(
        `tok/redis: a sealed event was ignored (${why}; ${count} ignored since the last warning): ` +
          "are the instances' clocks in sync?",
      ),
      undefined,
    )
  }
  return {
    encode: (event) =>
      Effect.promise(() =>
        sealer.seal(JSON.stringify({ o: instanceId, ...event, ts: now(), id: eventId() }), aad),
      ),
    decoder: () => {
      const guard = makeReplayGuard(now)
      return (text) =>
        Effect.flatMap(
          Effect.promise(() => sealer.open(text, aad)),
          (plaintext) => {
            const event = plaintext === undefined ? undefined : parseEvent(plaintext)
            if (event === undefined) return Effect.undefined
            const { ts, id } = event
            const refused =
              typeof ts !== "number" || typeof id !== "string" || id.length === 0 || id.length > 64
                ? "unstamped"
                : guard.admit(ts, id)
            return refused === undefined ? Effect.succeed(event) : refusal(refused)
          },
        )
    },
  }
}

/** A random id for an event: 96 bits, base64url. */
const eventId = (): string =>
  Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString("base64url")

const parseEvent = (text: string): EventFields | undefined => {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === "object" && value !== null ? (value as EventFields) : undefined
  } catch {
    return undefined
  }
}
