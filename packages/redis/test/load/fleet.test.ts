/**
 * DESIGN §7 guarantee 1 for servers: a fleet of 4 real Node processes, each a
 * `TokenClient` on `clerkBackendApi` against a real dev server (20 s tokens),
 * asking for random keys among 200 sessions × 2 templates for 60 s. With
 * `@tok/redis` the fleet makes at most 1.2 × the requests of one process
 * asking for the same keys (as often as the whole fleet); without it, about
 * 4 ×. The three runs go side by side, each against its own dev server.
 * It checks counts, not timings, and every wait is generous (a 30 s request
 * timeout, a 5 s Redis timeout, a 10 s lock lease), so a slow machine makes
 * it slower, not red. Not part of `test`: CI runs it on its own after the
 * other tests (`test:fleet`), so nothing else competes with its processes.
 */
import { randomBytes } from "node:crypto"
import { createClient } from "redis"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  startFleet,
  startRecordingDevServer,
  stopFleet,
  type Instance,
  type RecordingDevServer,
} from "../support/fleet.ts"
import { startRedis, type RedisServer } from "../support/redisServer.ts"

const DURATION = 60_000
/**
 * Each fleet instance starts a call every 25 ms (a key every 10 s per
 * instance, every 2.5 s across the fleet); the lone process as often as the
 * whole fleet.
 */
const INTERVAL = 25
const load = (sessions: readonly string[], intervalMs: number) =>
  ({
    op: "load",
    sessions,
    templates: [null, "supabase"],
    durationMs: DURATION,
    intervalMs,
  }) as const

let redis: RedisServer
const devs: RecordingDevServer[] = []
/** Every instance started, stopped after the test even if it timed out. */
const started: Instance[] = []

beforeAll(async () => {
  redis = await startRedis()
  for (let i = 0; i < 3; i++) devs.push(await startRecordingDevServer(20))
})
afterAll(async () => {
  await Promise.all(started.map((instance) => instance.kill()))
  await Promise.all([redis?.stop(), ...devs.map((dev) => dev.server.stop())])
})

/** 200 sessions signed in on `dev` (the same user ids on every server). */
const sessionsOn = (dev: RecordingDevServer) =>
  Array.from({ length: 200 }, (_, i) => dev.server.signIn(`user_${i}`).id)

describe("a fleet of 4 instances", () => {
  it(
    "with @tok/redis makes at most 1.2 × the requests of one process; without it, about 4 ×",
    {
      timeout: 240_000,
    },
    async () => {
      const [alone, shared, unshared] = devs as [
        RecordingDevServer,
        RecordingDevServer,
        RecordingDevServer,
      ]
      const encryptionKey = randomBytes(32).toString("base64")
      // A count test, not a latency test: neither the cold start of 400 keys
      // × 4 instances nor a slow Redis round trip nor a late timer may make an
      // instance go it alone (a lock lease that lapses, a Redis call that
      // times out). A 5 s buffer leaves 15 s of each 20 s token usable: four
      // lifetimes in 60 s.
      const base = (dev: RecordingDevServer) => ({
        devServerUrl: dev.server.url,
        secretKey: dev.server.secretKey,
        requestTimeout: 30_000,
        redisTimeout: 5000,
        lockTtl: 10_000,
        expirationBuffer: 5,
      })
      const [one, sharing, notSharing] = await Promise.all([
        startFleet(1, base(alone)),
        startFleet(4, {
          ...base(shared),
          redisUrl: redis.url,
          share: true,
          prefix: "fleet:",
          encryptionKey,
        }),
        startFleet(4, base(unshared)),
      ])
      started.push(...one, ...sharing, ...notSharing)
      try {
        // Side by side, each against its own dev server.
        const runs = await Promise.all(
          (
            [
              [one, alone],
              [sharing, shared],
              [notSharing, unshared],
            ] as const
          ).map(([fleet, dev]) => {
            const sessions = sessionsOn(dev)
            return Promise.all(
              fleet.map((instance) =>
                instance.ask<{ calls: number; failures: Record<string, number>; maxMs: number }>(
                  load(sessions, fleet === one ? INTERVAL / 4 : INTERVAL),
                ),
              ),
            )
          }),
        )
        const requests = (dev: RecordingDevServer) => dev.server.stats().tokenRequests
        const counts = {
          one: requests(alone),
          shared: requests(shared),
          unshared: requests(unshared),
        }
        const calls = runs.map((run) => run.reduce((sum, result) => sum + result.calls, 0))
        console.info(
          `[fleet] ${DURATION / 1000} s, 400 keys, 20 s tokens: one process ${counts.one} requests ` +
            `(${calls[0]} calls); 4 with @tok/redis ${counts.shared} (${calls[1]} calls, ` +
            `${(counts.shared / counts.one).toFixed(2)} ×); 4 without ${counts.unshared} ` +
            `(${calls[2]} calls, ${(counts.unshared / counts.one).toFixed(2)} ×); failures ` +
            JSON.stringify(runs.map((run) => run.map((result) => result.failures))),
        )
        for (const run of runs) for (const result of run) expect(result.failures).toEqual({})
        // Every key was asked for again and again: 60 s hold three to four
        // usable lifetimes of a token, and the next ask after one ends comes
        // 2.5 s later on average.
        expect(counts.one).toBeGreaterThanOrEqual(2.5 * 400)
        expect(counts.shared).toBeLessThanOrEqual(1.2 * counts.one)
        expect(counts.unshared).toBeGreaterThan(2.5 * counts.one)
        // Encrypted at rest: no raw value in Redis holds a JWT.
        const raw = createClient({ url: redis.url })
        await raw.connect()
        try {
          let values = 0
          for await (const keys of raw.scanIterator({ MATCH: "fleet:*", COUNT: 500 })) {
            for (const key of keys) {
              if ((await raw.type(key)) !== "string") continue
              const value = (await raw.get(key)) ?? ""
              values += 1
              expect(value).not.toContain("eyJ")
            }
          }
          expect(values).toBeGreaterThan(100)
        } finally {
          await raw.close()
        }
      } finally {
        await Promise.all([stopFleet(one), stopFleet(sharing), stopFleet(notSharing)])
      }
    },
  )
})
