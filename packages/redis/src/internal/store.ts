/**
 * The shared store on Redis: tokens that expire with the token, a fetch lock
 * per request, session ends that stop every later write, and the events that
 * tell the other instances. Every command goes through Effect's `Redis`
 * service (`send`, `eval`, `subscribe`), bounded by `redisTimeout` and behind
 * a circuit breaker, and no operation ever fails: when Redis is slow, down or
 * answers nonsense, a read finds nothing, a lock is not taken and a write is
 * dropped, so the client fetches on its own (DESIGN §7 guarantee 2).
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import * as Redis from "effect/persistence/Redis"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { TokenRequest } from "@tok/core"
import { decodePayload, encodePayload, generationKey, keyPart, keysOf, type Keys } from "./codec.ts"
import type { Sealer } from "./crypto.ts"
import { makeEventCodec } from "./events.ts"
import {
  dropScript,
  ENDED,
  endScript,
  indexOf,
  readScript,
  renewScript,
  unlockScript,
  writeScript,
} from "./scripts.ts"

/** What the store is configured with (checked by the public module). */
export interface StoreConfig {
  readonly prefix: string
  readonly sealer: Sealer | undefined
  /** The longest a single Redis command may take before it counts as failed (ms). */
  readonly redisTimeout: number
  /** How long a fetch lock lives if its holder never releases it (ms). */
  readonly lockTtl: number
  /** How long a session end keeps later writes of that session out (ms). */
  readonly endedTtl: number
  /** How often a waiter looks again when no event woke it (ms). */
  readonly pollInterval: number
  /** This instance's id, the owner of its locks and the origin of its events. */
  readonly instanceId: string
}

/** What another instance told the fleet. */
export type PeerEvent =
  | { readonly _tag: "SessionEnded"; readonly sessionId: string }
  | {
      readonly _tag: "Invalidated"
      readonly filter: {
        readonly sessionId?: string | undefined
        readonly template?: string | undefined
        readonly organizationId?: string | undefined
      }
    }

/** A stored token as Redis has it: the JWT and what is left of its life. */
export interface Stored {
  readonly jwt: string
  readonly remainingMillis: number
}

/** The store's operations. Only `lock` reports that Redis is unavailable; the rest never fail. */
export interface Store {
  /** A token stored for `request`, if Redis has a well-formed one. */
  readonly read: (request: TokenRequest) => Effect.Effect<Stored | undefined>
  /** Stores a fresh token for `remainingMillis`, unless its session ended; wakes the waiters. */
  readonly write: (
    request: TokenRequest,
    jwt: string,
    remainingMillis: number,
  ) => Effect.Effect<void>
  /**
   * Takes the fetch lock of `request`, waiting up to `waitMillis` while a
   * peer holds it: `true` when held, until the scope closes (renewed while
   * held, so a holder that dies frees it within `lockTtl`), `false` when a
   * peer still holds it, `"unavailable"` when Redis does not answer.
   */
  readonly lock: (
    request: TokenRequest,
    waitMillis: number,
  ) => Effect.Effect<boolean | "unavailable", never, Scope.Scope>
  /** Ends a session fleet-wide: later writes are refused, its tokens deleted, peers told. */
  readonly endSession: (sessionId: string) => Effect.Effect<void>
  /** Deletes the tokens `filter` matches and tells the peers. */
  readonly invalidate: (
    filter: Extract<PeerEvent, { _tag: "Invalidated" }>["filter"],
  ) => Effect.Effect<void>
  /**
   * Calls `listener` with every event another instance publishes, and with
   * a session end a read found in Redis, for the life of the scope.
   */
  readonly listen: (listener: (event: PeerEvent) => void) => Effect.Effect<void, never, Scope.Scope>
  /** How many instances listen on the channel now (1 when unknown). */
  readonly peers: Effect.Effect<number>
}

/** Builds the store on the `Redis` service in context. */
export const make = Effect.fnUntraced(function* (config: StoreConfig) {
  const redis = yield* Redis.Redis
  const breaker = yield* CircuitBreaker.make({
    // Five failures in a row (timeouts included) and Redis is left alone for
    // a second; then one probe decides whether sharing resumes.
    tripPolicy: CircuitBreaker.consecutive(5),
    openDuration: "1 second",
  }).pipe(Effect.provide(CircuitBreaker.layerStoreMemory()))
  const channel = `${config.prefix}events`
  const genKey = generationKey(config.prefix)
  const timeout = Duration.millis(config.redisTimeout)
  // Events, sealed with the values' key when there is one (events.ts). Their
  // clock is the one in context when the store is built (Effect's `Clock`,
  // so tests can set it).
  const clock = yield* Clock.Clock
  const events = makeEventCodec({
    instanceId: config.instanceId,
    channel,
    sealer: config.sealer,
    now: () => clock.currentTimeMillisUnsafe(),
  })

  /** One Redis operation: bounded, behind the breaker, `undefined` on any failure. */
  const guarded = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A | undefined> =>
    effect.pipe(
      Effect.timeout(timeout),
      breaker.execute({ key: "redis" }),
      Effect.catchCause(() => Effect.succeed(undefined)),
    )

  const open = (value: string, key: string): Effect.Effect<string | undefined> =>
    config.sealer === undefined
      ? Effect.succeed(value)
      : Effect.promise(() => config.sealer!.open(value, key))

  // The prefix's generation as this instance last saw it (Redis' answer to
  // a read, a peer's invalidate event); `invalidate()` without a session
  // bumps it in Redis, and a value of an older generation is never read.
  let generation = 0
  const learn = (seen: number) => {
    if (seen > generation) generation = seen
  }
  // The generation each key was read in: the token a fetch after that read
  // brings back is written in it, so a fetch that started before an
  // invalidate is never read after it. Bounded: reads with no write after
  // them (a peer's token found, a failed fetch) are forgotten in bulk.
  const readIn = new Map<string, number>()
  // Invalidations in flight here: a read waits for them, so this instance
  // never reads back what it is deleting.
  const invalidating = new Set<Deferred.Deferred<void>>()
  // The client's listeners, also told when a read finds its session ended.
  const listeners = new Set<(event: PeerEvent) => void>()

  const read = (request: TokenRequest): Effect.Effect<Stored | undefined> =>
    Effect.gen(function* () {
      const keys = keysOf(config.prefix, request)
      if (invalidating.size > 0) {
        yield* Effect.all([...invalidating].map(Deferred.await)).pipe(Effect.timeoutOption(timeout))
      }
      // Two single-key commands, sent together (one round trip): a Cluster
      // keeps the generation and the token in different slots.
      const [reply, seen] = yield* Effect.all(
        [guarded(redis.eval(readScript)(keys)), guarded(redis.send<string | null>("GET", genKey))],
        { concurrency: 2 },
      )
      if (seen !== undefined) learn(Number(seen ?? 0) || 0)
      const current = seen === undefined ? generation : Number(seen ?? 0) || 0
      if (readIn.size >= 10_000) readIn.clear()
      readIn.set(keys.token, current)
      if (!Array.isArray(reply)) return undefined
      const [value, pttl, mark] = reply
      if (typeof mark === "string" && (yield* open(mark, keys.ended)) === ENDED) {
        // The session ended on some instance (its event may never have
        // reached this one): tell the client, which answers this call
        // NotSignedInError and makes no request.
        for (const listener of listeners)
          listener({ _tag: "SessionEnded", sessionId: request.sessionId })
        return undefined
      }
      if (typeof value !== "string" || typeof pttl !== "number" || pttl <= 0) return undefined
      const plaintext = yield* open(value, keys.token)
      if (plaintext === undefined) return undefined
      const jwt = decodePayload(request, plaintext, current)
      if (jwt === undefined) return undefined
      readIn.delete(keys.token)
      return { jwt, remainingMillis: pttl }
    })

  // Writes in flight by token key: a lock is let go only once its holder's
  // token is in Redis, or the peers it wakes would find the old one and fetch.
  const writing = new Map<string, Deferred.Deferred<void>>()

  const write = (
    request: TokenRequest,
    jwt: string,
    remainingMillis: number,
  ): Effect.Effect<void> =>
    Effect.gen(function* () {
      const ttl = Math.floor(remainingMillis)
      if (!(ttl > 0)) return
      const keys = keysOf(config.prefix, request)
      const done = yield* Deferred.make<void>()
      writing.set(keys.token, done)
      const stamp = readIn.get(keys.token) ?? generation
      readIn.delete(keys.token)
      yield* Effect.gen(function* () {
        const plaintext = encodePayload(request, jwt, stamp)
        const value =
          config.sealer === undefined
            ? plaintext
            : yield* Effect.promise(() => config.sealer!.seal(plaintext, keys.token))
        const message = yield* events.encode({ t: "token", k: keys.token })
        yield* guarded(redis.eval(writeScript)(keys, indexOf(keys), value, ttl, channel, message))
      }).pipe(
        Effect.ensuring(
          Effect.suspend(() => {
            if (writing.get(keys.token) === done) writing.delete(keys.token)
            return Deferred.succeed(done, undefined)
          }),
        ),
      )
    })

  let leases = 0
  /** One try at the lock: the lease's owner id, `"held"` by a peer, or `"unavailable"`. */
  const tryLock = (keys: Keys): Effect.Effect<string | "held" | "unavailable"> => {
    const owner = `${config.instanceId}:${(leases += 1)}`
    return guarded(
      redis.send<string | null>("SET", keys.lock, owner, "NX", "PX", String(config.lockTtl)),
    ).pipe(
      Effect.map((reply) =>
        reply === undefined ? "unavailable" : reply === "OK" ? owner : "held",
      ),
    )
  }

  /** Holds a lease until the scope closes: renewed a few times per `lockTtl`, released at the end. */
  const hold = (keys: Keys, owner: string): Effect.Effect<void, never, Scope.Scope> =>
    Effect.gen(function* () {
      yield* guarded(redis.eval(renewScript)(keys.lock, owner, config.lockTtl)).pipe(
        Effect.repeat(Schedule.spaced(Duration.millis(config.lockTtl / 3))),
        Effect.forkScoped,
      )
      yield* Effect.addFinalizer(() =>
        Effect.gen(function* () {
          const pending = writing.get(keys.token)
          if (pending) yield* Deferred.await(pending).pipe(Effect.timeoutOption(timeout))
          yield* guarded(redis.eval(unlockScript)(keys.lock, owner))
        }),
      )
    })

  // Waiters by token key, woken when a peer publishes that key's token.
  const waiters = new Map<string, Set<Deferred.Deferred<void>>>()
  const wake = (key: string) => {
    const set = waiters.get(key)
    if (!set) return
    waiters.delete(key)
    for (const deferred of set) Deferred.doneUnsafe(deferred, Effect.void)
  }

  const lock = (
    request: TokenRequest,
    waitMillis: number,
  ): Effect.Effect<boolean | "unavailable", never, Scope.Scope> => {
    const keys = keysOf(config.prefix, request)
    // Each round tries the lock; while a peer holds it, sleep until that
    // key's token event (its holder is done) or the next poll (its holder
    // died and the lock expired, or the event was lost).
    const round = (signal: Deferred.Deferred<void>) =>
      Effect.gen(function* () {
        const result = yield* tryLock(keys)
        if (result !== "held") return result
        yield* Deferred.await(signal).pipe(
          Effect.timeoutOption(Duration.millis(config.pollInterval)),
        )
        return undefined
      })
    const registered = Effect.acquireUseRelease(
      Effect.gen(function* () {
        const signal = yield* Deferred.make<void>()
        let set = waiters.get(keys.token)
        if (!set) waiters.set(keys.token, (set = new Set()))
        set.add(signal)
        return signal
      }),
      round,
      (signal) =>
        Effect.sync(() => {
          const set = waiters.get(keys.token)
          set?.delete(signal)
          if (set?.size === 0) waiters.delete(keys.token)
        }),
    )
    return Effect.gen(function* () {
      const first = yield* tryLock(keys)
      const result =
        first !== "held"
          ? first
          : yield* registered.pipe(
              Effect.repeat({ until: (result) => result !== undefined }),
              Effect.timeoutOption(Duration.millis(waitMillis)),
              Effect.map((result) => (result._tag === "Some" ? result.value : undefined)),
            )
      if (result === "unavailable") return "unavailable" as const
      if (result === undefined || result === "held") return false
      yield* hold(keys, result)
      return true
    })
  }

  const publish = (event: Record<string, unknown>) =>
    Effect.flatMap(events.encode(event), (text) => guarded(redis.send("PUBLISH", channel, text)))

  const endSession = (sessionId: string): Effect.Effect<void> =>
    Effect.gen(function* () {
      const keys = keysOf(config.prefix, { sessionId })
      const mark =
        config.sealer === undefined
          ? ENDED
          : yield* Effect.promise(() => config.sealer!.seal(ENDED, keys.ended))
      yield* guarded(redis.eval(endScript)(keys.ended, indexOf(keys), config.endedTtl, mark))
      yield* publish({ t: "end", s: sessionId })
    })

  const invalidate: Store["invalidate"] = (filter) =>
    Effect.suspend(() => {
      // Registered before the first Redis call, as the client forks this:
      // a read that starts now waits for it.
      const done = Deferred.makeUnsafe<void>()
      invalidating.add(done)
      return Effect.gen(function* () {
        if (filter.sessionId !== undefined) {
          const keys = keysOf(config.prefix, { sessionId: filter.sessionId })
          const members = yield* guarded(redis.send<Array<string>>("SMEMBERS", indexOf(keys)))
          const matching = (Array.isArray(members) ? members : []).filter((key) =>
            matches(config.prefix, key, filter),
          )
          if (matching.length > 0) yield* guarded(redis.eval(dropScript)(indexOf(keys), matching))
          yield* publish({ t: "inv", f: filter })
          return
        }
        // Without a session the tokens are spread over every session's slot
        // (in a Cluster, every node): rather than SCAN them, start a new
        // generation. Values of the old one are never read again and expire
        // with their tokens. It drops every Redis copy under the prefix, not
        // only those the filter names: those are refetched once, on a miss.
        const next = yield* guarded(redis.send<number>("INCR", genKey))
        if (typeof next === "number") learn(next)
        yield* publish({ t: "inv", f: filter, g: generation })
        return
      }).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            invalidating.delete(done)
            Deferred.doneUnsafe(done, Effect.void)
          }),
        ),
      )
    })

  const onMessage = (listener: (event: PeerEvent) => void, event: Record<string, unknown>) => {
    if (event["t"] === "token" && typeof event["k"] === "string") return wake(event["k"])
    if (event["o"] === config.instanceId) return
    if (typeof event["g"] === "number") learn(event["g"])
    if (event["t"] === "end" && typeof event["s"] === "string") {
      listener({ _tag: "SessionEnded", sessionId: event["s"] })
    } else if (event["t"] === "inv" && typeof event["f"] === "object" && event["f"] !== null) {
      const f = event["f"] as Record<string, unknown>
      const text = (value: unknown) => (typeof value === "string" ? value : undefined)
      listener({
        _tag: "Invalidated",
        filter: {
          sessionId: text(f["sessionId"]),
          template: text(f["template"]),
          organizationId: text(f["organizationId"]),
        },
      })
    }
  }

  const listen = (listener: (event: PeerEvent) => void) =>
    Effect.gen(function* () {
      listeners.add(listener)
      yield* Effect.addFinalizer(() => Effect.sync(() => listeners.delete(listener)))
      const subscribed = yield* Deferred.make<void>()
      const decode = events.decoder()
      const subscription = Effect.gen(function* () {
        const queue = yield* redis.subscribe(channel)
        yield* Deferred.succeed(subscribed, undefined)
        // One at a time, in the order Redis delivered them.
        yield* Queue.take(queue).pipe(
          Effect.flatMap((message) => decode(message.message)),
          Effect.map((event) => (event === undefined ? undefined : onMessage(listener, event))),
          Effect.forever,
        )
      }).pipe(Effect.scoped)
      // node-redis subscribers reconnect by themselves; a subscription that
      // still ends (or never started: Redis was down) is opened again after a pause.
      yield* subscription.pipe(
        Effect.catchCause(() => Effect.void),
        Effect.andThen(Effect.sleep("1 second")),
        Effect.forever,
        Effect.forkScoped,
      )
      // Start listening before the first request when Redis answers; never wait long for it.
      yield* Deferred.await(subscribed).pipe(Effect.timeoutOption(timeout))
    })

  const peers = guarded(redis.send<[string, number]>("PUBSUB", "NUMSUB", channel)).pipe(
    Effect.map((reply) => (Array.isArray(reply) ? Math.max(1, Number(reply[1]) || 1) : 1)),
  )

  return { read, write, lock, endSession, invalidate, listen, peers } satisfies Store
})

/** Whether the token key `key` (under `prefix`) is one `filter` matches. */
const matches = (
  prefix: string,
  key: string,
  filter: { readonly template?: string | undefined; readonly organizationId?: string | undefined },
): boolean => {
  const match = /:tok:(-|=[^:]*):(-|=[^:]*)$/.exec(key.slice(prefix.length))
  if (!match) return false
  // Compared as they are written in keys: nothing to decode, so a member
  // that is no key of tok's (or an id no decoder takes back) matches nothing.
  return (
    (filter.template === undefined || keyPart(filter.template) === match[1]) &&
    (filter.organizationId === undefined ||
      keyPart(filter.organizationId === "" ? undefined : filter.organizationId) === match[2])
  )
}
