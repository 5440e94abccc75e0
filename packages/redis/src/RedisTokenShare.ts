/**
 * `RedisTokenShare` — the core's `TokenShare` (DESIGN §7) for a fleet of
 * servers: one Redis shared by every instance holds the tokens one of them
 * fetched, a fetch lock per key (one instance fetches, the others wait for
 * its answer), and carries session ends (a 401, a sign-out, `invalidate`) to
 * every instance.
 *
 * Built on Effect's own `Redis` service (`effect/persistence/Redis`): plain
 * commands through `send`, the few steps that must be atomic as Lua scripts
 * through `eval` (loaded once, run by hash), session ends over `subscribe`.
 * Provide a `Redis` with `@effect/platform-node`'s `NodeRedis.layer` (or use
 * {@link layerNode}). Every Redis call is bounded by `redisTimeout` and
 * behind a circuit breaker: Redis slow, down or hung never fails a caller,
 * the client fetches on its own and sharing resumes when Redis is back.
 *
 * In Redis (all keys of a session in one hash slot, `{sessionId}`, so a
 * Redis Cluster keeps and drops them together):
 * - `<prefix>{<session>}:tok:<template>:<org>` — the token, set to expire
 *   when the token does (never later);
 * - `<prefix>{<session>}:lock:<template>:<org>` — the fetch lock, a lease
 *   renewed while its holder works, gone `lockTtl` after a holder dies;
 * - `<prefix>{<session>}:index` — the session's token keys;
 * - `<prefix>{<session>}:ended` — a session that ended: no token of it is
 *   written for `endedTtl` (a fetch that was in flight when it ended is dropped);
 * - `<prefix>gen` — the generation: `invalidate()` without a session bumps it,
 *   and no value written in an older one is read again;
 * - channel `<prefix>events` — wake-ups, session ends, invalidations (never a JWT).
 *
 * With `encryptionKey`, values are sealed with AES-256-GCM (Web Crypto),
 * bound to their key: someone who can read Redis cannot replay a token, and
 * a value that does not open, or is not a well-formed token for its key, is
 * ignored. Events are sealed with the same key, bound to the channel: an
 * event that does not open (forged by anyone who can `PUBLISH`) is ignored,
 * and so is one replayed: a sealed event carries when it was sent and a
 * random id, and is heard once, within 30 s after (5 s before) it was sent
 * by the receiver's `Clock`. Sealed events of older versions (no time) are ignored.
 * @module
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Redis from "effect/persistence/Redis"
import type * as Scope from "effect/Scope"
import { InvalidOptionsError, TokenShare } from "@tok/core"
import { checkKey, keyBytes, makeSealer } from "./internal/crypto.ts"
import * as Store from "./internal/store.ts"

/** Options of {@link layer}; every one has a default. */
export interface Options {
  /** Prefix of every Redis key and of the channel; default `"tok:"`. */
  readonly prefix?: string | undefined
  /**
   * A 32-byte AES-256 key (base64 text, bytes, or either `Redacted`): tokens
   * are sealed at rest with AES-GCM. Every instance needs the same key.
   * Default: none (values are stored as JSON; anyone who can read Redis can
   * read the tokens).
   */
  readonly encryptionKey?:
    string | Uint8Array | Redacted.Redacted<string> | Redacted.Redacted<Uint8Array> | undefined
  /** The longest one Redis call may take before the client goes on without it (ms); default 500. */
  readonly redisTimeout?: number | undefined
  /** How long a fetch lock outlives a holder that died (ms); renewed while held; default 3000. */
  readonly lockTtl?: number | undefined
  /** How long an ended session keeps its tokens out of Redis (ms); default 3,600,000 (1 hour). */
  readonly endedTtl?: number | undefined
  /** How often an instance waiting on a peer's lock looks again when no event woke it (ms); default 100. */
  readonly pollInterval?: number | undefined
  /** This instance's name, shown as who fetched a token; default a random id. */
  readonly instanceId?: string | undefined
}

const milliseconds = (
  options: Options,
  name: "redisTimeout" | "lockTtl" | "endedTtl" | "pollInterval",
  fallback: number,
  min: number,
): number | InvalidOptionsError => {
  const value = options[name] ?? fallback
  return typeof value === "number" && Number.isFinite(value) && value >= min
    ? value
    : new InvalidOptionsError({ detail: `${name} must be a finite number of ms ≥ ${min}` })
}

/** Checks the options and builds the store's config. */
const configOf = (options: Options) =>
  Effect.gen(function* () {
    const prefix = options.prefix ?? "tok:"
    if (typeof prefix !== "string" || /[{}]/.test(prefix)) {
      return yield* new InvalidOptionsError({ detail: "prefix must be a string without { or }" })
    }
    const numbers = {
      redisTimeout: milliseconds(options, "redisTimeout", 500, 1),
      lockTtl: milliseconds(options, "lockTtl", 3000, 30),
      endedTtl: milliseconds(options, "endedTtl", 3_600_000, 1000),
      pollInterval: milliseconds(options, "pollInterval", 100, 1),
    }
    for (const value of Object.values(numbers)) {
      if (value instanceof InvalidOptionsError) return yield* value
    }
    let sealer: Store.StoreConfig["sealer"]
    if (options.encryptionKey !== undefined) {
      const raw = Redacted.isRedacted(options.encryptionKey)
        ? Redacted.value(options.encryptionKey as Redacted.Redacted<string | Uint8Array>)
        : options.encryptionKey
      if (typeof raw !== "string" && !(raw instanceof Uint8Array)) {
        return yield* new InvalidOptionsError({
          detail: "encryptionKey must be base64 text or bytes",
        })
      }
      const bytes = keyBytes(raw)
      const problem = checkKey(bytes)
      if (problem) return yield* new InvalidOptionsError({ detail: problem })
      sealer = yield* Effect.promise(() => makeSealer(bytes))
    }
    return {
      prefix,
      sealer,
      redisTimeout: numbers.redisTimeout as number,
      lockTtl: numbers.lockTtl as number,
      endedTtl: numbers.endedTtl as number,
      pollInterval: numbers.pollInterval as number,
      instanceId: options.instanceId ?? crypto.randomUUID().slice(0, 8),
    } satisfies Store.StoreConfig
  })

const unavailable = new TokenShare.TokenShareError({ message: "Redis did not answer" })

/**
 * Builds the share on the `Redis` in context; it listens for peers' events
 * for the life of the scope. Bad options fail with `InvalidOptionsError`.
 */
export const make = (
  options: Options = {},
): Effect.Effect<TokenShare.Service, InvalidOptionsError, Redis.Redis | Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* configOf(options)
    const store = yield* Store.make(config)
    return {
      kind: "redis",
      get: (request) =>
        Effect.map(store.read(request), (stored) =>
          stored === undefined
            ? undefined
            : TokenShare.decodeSharedToken({
                request,
                jwt: stored.jwt,
                expiresInMillis: stored.remainingMillis,
              }),
        ),
      lock: (request, waitMillis) =>
        Effect.flatMap(store.lock(request, waitMillis), (held) =>
          held === "unavailable" ? Effect.fail(unavailable) : Effect.succeed(held),
        ),
      publish: (message) => {
        switch (message._tag) {
          case "token":
            return store.write(
              message.token.request,
              message.token.jwt,
              message.token.expiresInMillis,
            )
          case "ended":
            return store.endSession(message.sessionId)
          case "invalidated":
            return store.invalidate(message.filter)
          case "switched":
            // A server names its session on every call: nothing follows a switch.
            return Effect.void
        }
      },
      subscribe: (onMessage) =>
        store.listen((event) =>
          onMessage(
            event._tag === "SessionEnded"
              ? { _tag: "ended", sessionId: event.sessionId }
              : { _tag: "invalidated", filter: event.filter },
          ),
        ),
      follow: () => Effect.void,
      peers: store.peers,
    } satisfies TokenShare.Service
  })

/**
 * The share as a layer: clients built under it share through the `Redis`
 * in context. Fails with `InvalidOptionsError` for bad options.
 * @example
 * ```ts
 * import * as Layer from "effect/Layer"
 * import { NodeRedis } from "@effect/platform-node"
 * import { TokenClient, TokenSource } from "@tok/core"
 * import { RedisTokenShare } from "@tok/redis"
 *
 * const client = TokenClient.layer().pipe(
 *   Layer.provide(TokenSource.clerkBackendApi({ baseUrl, secretKey })),
 *   Layer.provide(RedisTokenShare.layer({ encryptionKey: Redacted.make(process.env.TOK_KEY!) })),
 *   Layer.provide(NodeRedis.layer({ url: process.env.REDIS_URL, disableOfflineQueue: true })),
 * )
 * ```
 */
export const layer = (
  options: Options = {},
): Layer.Layer<never, InvalidOptionsError, Redis.Redis> =>
  Layer.effect(TokenShare.TokenShare)(make(options))

/** Options of `NodeRedis.layer` (the `redis` client's `createClient` options). */
export type NodeRedisOptions = Parameters<typeof NodeRedis.layer>[0]

/**
 * {@link layer} with its own `NodeRedis` client (`@effect/platform-node`,
 * the `redis` package). Commands fail at once while the connection is down
 * (`disableOfflineQueue`) rather than queue; the connection itself comes
 * back by the client's reconnect strategy. Fails when Redis cannot be
 * reached at start.
 */
export const layerNode = (
  options: Options & { readonly redis?: NodeRedisOptions },
): Layer.Layer<never, InvalidOptionsError | Redis.RedisError> =>
  layer(options).pipe(
    Layer.provide(NodeRedis.layer({ disableOfflineQueue: true, ...options.redis })),
  )
