/**
 * What sharing through Redis costs and saves, against a real redis-server and
 * a real dev server, all in this process (bounded: about 25 s):
 * - latency, p50 and p99: a local hit, a shared hit (a token another client
 *   put in Redis: one round trip, decode), a network fetch (the dev server);
 * - requests per key per hour across a fleet of 4 clients watching one key
 *   (tokens of 6 s, buffer 1 s: 600 lifetimes an hour), with and without
 *   Redis, measured over 15 s and scaled to the hour.
 *
 * Run: node --conditions=@tok/source bench/redis.ts [--json]
 */
import { existsSync } from "node:fs"
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Context from "effect/Context"
import { TokenClient, TokenSource } from "@tok/core"
import { startDevServer, type DevServer } from "@tok/dev-server"
import { RedisTokenShare } from "@tok/redis"
import { REDIS_SERVER, startRedis } from "../test/support/redisServer.ts"

const report = (result: Record<string, unknown>) => {
  if (process.argv.includes("--json")) console.log(JSON.stringify({ bench: "redis", ...result }))
  else console.log("redis", result)
}

if (!existsSync(REDIS_SERVER)) {
  report({ skipped: `no redis-server at ${REDIS_SERVER}` })
  process.exit(0)
}

const quantile = (samples: number[], q: number) => {
  const sorted = [...samples].sort((a, b) => a - b)
  return Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(3))
}
const summary = (samples: number[]) => ({
  p50Ms: quantile(samples, 0.5),
  p99Ms: quantile(samples, 0.99),
})

const redis = await startRedis()

/** A client against `dev`, sharing through Redis when `shared`; built in `scope`. */
const client = (
  scope: Scope.Scope,
  dev: DevServer,
  shared: boolean,
  config: TokenClient.Config = {},
) => {
  const source = TokenSource.clerkBackendApi({ baseUrl: dev.url, secretKey: dev.secretKey })
  const share = shared
    ? RedisTokenShare.layer({ prefix: `bench${dev.port}:` }).pipe(
        Layer.provide(NodeRedis.layer({ url: redis.url, disableOfflineQueue: true })),
      )
    : Layer.empty
  return Layer.buildWithScope(
    TokenClient.layer(config).pipe(Layer.provide(source), Layer.provide(share)),
    scope,
  ).pipe(Effect.map((context) => Context.get(context, TokenClient.TokenClient)))
}

const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const start = performance.now()
    yield* effect
    return performance.now() - start
  })

const latency = Effect.gen(function* () {
  const scope = yield* Scope.make()
  const dev = yield* Effect.promise(() => startDevServer({ tokenLifetime: 600 }))
  try {
    const [writer, reader, alone] = [
      yield* client(scope, dev, true),
      yield* client(scope, dev, true),
      yield* client(scope, dev, false),
    ]
    const sessions = Array.from({ length: 300 }, (_, i) => dev.signIn(`user_${i}`).id)
    // Network: cold keys, no share.
    const network: number[] = []
    for (const sessionId of sessions) network.push(yield* timed(alone.getToken({ sessionId })))
    // Shared hit: the writer fetched, the reader finds it in Redis.
    for (const sessionId of sessions) yield* writer.getToken({ sessionId, template: "supabase" })
    const shared: number[] = []
    for (const sessionId of sessions) {
      shared.push(yield* timed(reader.getToken({ sessionId, template: "supabase" })))
    }
    // Local hit: the reader's own cache now.
    const local: number[] = []
    for (let round = 0; round < 10; round++) {
      for (const sessionId of sessions) {
        local.push(yield* timed(reader.getToken({ sessionId, template: "supabase" })))
      }
    }
    return { localHit: summary(local), sharedHit: summary(shared), networkFetch: summary(network) }
  } finally {
    yield* Scope.close(scope, Exit.void)
    yield* Effect.promise(() => dev.stop())
  }
})

/** 4 clients watching one key for `millis`: the requests the dev server saw, scaled to an hour. */
const fleetHour = (shared: boolean, millis: number) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const dev = yield* Effect.promise(() => startDevServer({ tokenLifetime: 6 }))
    try {
      const sessionId = dev.signIn("user_watch").id
      const clients = yield* Effect.forEach([0, 1, 2, 3], () =>
        client(scope, dev, shared, { expirationBuffer: 1, refreshJitter: 500 }),
      )
      const stops = yield* Effect.forEach(clients, (c) =>
        Effect.map(c.watch({ sessionId }), (watcher) => watcher.subscribe(() => undefined)),
      )
      yield* Effect.sleep(millis)
      for (const stop of stops) stop()
      return Math.round((dev.stats().tokenRequests * 3_600_000) / millis)
    } finally {
      yield* Scope.close(scope, Exit.void)
      yield* Effect.promise(() => dev.stop())
    }
  })

try {
  const result = await Effect.runPromise(
    Effect.gen(function* () {
      const lat = yield* latency
      const [withRedis, withoutRedis] = yield* Effect.all(
        [fleetHour(true, 15_000), fleetHour(false, 15_000)],
        { concurrency: 2 },
      )
      return {
        ...lat,
        fleetRequestsPerKeyHour: {
          withRedis,
          withoutRedis,
          oneClientBound: Math.ceil(3600 / (6 - 1 - 0.5)),
        },
      }
    }),
  )
  report(result)
} finally {
  await redis.stop()
}
process.exit(0)
