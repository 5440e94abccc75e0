/**
 * The store's Lua scripts: each one atomic on Redis, each touching the keys
 * of one session (one hash slot), so a Redis Cluster runs them too.
 * @internal
 */
import * as Redis from "effect/persistence/Redis"
import type { Keys } from "./codec.ts"

/** Reads a token, what Redis has left of its life and its session's end mark, in one round trip. */
export const readScript = Redis.script((keys: Keys) => [keys.token, keys.ended], {
  numberOfKeys: 2,
  lua: `return { redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]), redis.call('GET', KEYS[2]) }`,
}).withReturnType<[string | null, number, string | null]>()

/**
 * Writes a token unless its session ended, indexes it under its session,
 * releases the writer's lock and wakes the waiters. All keys share the
 * session's hash slot.
 */
export const writeScript = Redis.script(
  (keys: Keys, index: string, value: string, ttl: number, channel: string, message: string) => [
    keys.token,
    keys.ended,
    index,
    value,
    ttl,
    channel,
    message,
  ],
  {
    numberOfKeys: 3,
    lua: `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[3], KEYS[1])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`,
  },
).withReturnType<number>()

/** Releases a lock only if this owner still holds it. */
export const unlockScript = Redis.script((lock: string, owner: string) => [lock, owner], {
  numberOfKeys: 1,
  lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
}).withReturnType<number>()

/** Extends a lock only if this owner still holds it. */
export const renewScript = Redis.script(
  (lock: string, owner: string, ttl: number) => [lock, owner, ttl],
  {
    numberOfKeys: 1,
    lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`,
  },
).withReturnType<number>()

/** Marks a session ended and deletes every token it indexed. */
export const endScript = Redis.script(
  (ended: string, index: string, ttl: number, mark: string) => [ended, index, ttl, mark],
  {
    numberOfKeys: 2,
    lua: `
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
local keys = redis.call('SMEMBERS', KEYS[2])
for _, key in ipairs(keys) do redis.call('DEL', key) end
redis.call('DEL', KEYS[2])
return #keys`,
  },
).withReturnType<number>()

/** The plaintext of a session's end mark (sealed when a key is configured). */
export const ENDED = "ended"

/** Deletes the listed tokens of one session and drops them from its index. */
export const dropScript = Redis.script(
  (index: string, keys: ReadonlyArray<string>) => [index, ...keys],
  {
    numberOfKeys: (_index: string, keys: ReadonlyArray<string>) => 1 + keys.length,
    lua: `
for i = 2, #KEYS do redis.call('DEL', KEYS[i]); redis.call('SREM', KEYS[1], KEYS[i]) end
return #KEYS - 1`,
  },
).withReturnType<number>()

/** The index of a session's token keys. */
export const indexOf = (keys: Keys): string => keys.ended.replace(/:ended$/, ":index")
