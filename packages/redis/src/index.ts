/**
 * `@tok/redis` — a fleet of servers, one request per key: tok's shared token
 * store, fetch lock and fleet-wide request cap on Redis (DESIGN §7), built on
 * Effect's own `Redis` service and `@effect/platform-node`'s `NodeRedis`.
 * @packageDocumentation
 */

/** A fleet-wide cap on requests per second to the auth server (Effect's `RateLimiter` on Redis). */
export * as RequestCap from "./RequestCap.ts"
/** The core's `TokenShare` on Redis: a shared token store, a fetch lock per key, session ends fleet-wide. */
export * as RedisTokenShare from "./RedisTokenShare.ts"
