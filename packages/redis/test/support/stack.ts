/**
 * What the integration tests against real processes share: a redis-server,
 * the dev token server (60 s tokens) and a raw node-redis client on that
 * Redis, started before a file's tests and stopped after them.
 */
import { startDevServer, type DevServer } from "@tok/dev-server"
import { createClient } from "redis"
import { afterAll, beforeAll } from "vitest"
import { startRedis, type RedisServer } from "./redisServer.ts"

/** A raw node-redis client, for writing what tok would not and reading what it wrote. */
export type RawClient = ReturnType<typeof createClient>

/** The running stack of a test file; reading it before `beforeAll` ran throws. */
export interface RedisStack {
  readonly redis: RedisServer
  readonly dev: DevServer
  readonly raw: RawClient
}

/**
 * Starts the stack before the file's tests and stops it after them. Register
 * it first: the file's own `beforeAll` hooks run after it, and its
 * `afterAll` hooks before it.
 */
export const useRedisStack = (): RedisStack => {
  let started: RedisStack | undefined
  let redis: RedisServer | undefined
  let dev: DevServer | undefined
  let raw: RawClient | undefined
  beforeAll(async () => {
    ;[redis, dev] = await Promise.all([startRedis(), startDevServer({ tokenLifetime: 60 })])
    raw = createClient({ url: redis.url })
    await raw.connect()
    started = { redis, dev, raw }
  })
  afterAll(async () => {
    await raw?.close().catch(() => undefined)
    await Promise.all([redis?.stop(), dev?.stop()])
  })
  const get = (): RedisStack => {
    if (started === undefined) throw new Error("the Redis test stack is not running")
    return started
  }
  return {
    get redis() {
      return get().redis
    },
    get dev() {
      return get().dev
    },
    get raw() {
      return get().raw
    },
  }
}
