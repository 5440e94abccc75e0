/**
 * DESIGN §7 guarantee 1 for servers: a fleet of 4 real Node processes, each a
 * `TokenClient` on `clerkBackendApi` against a real dev server (20 s tokens),
 * asking for random keys among 200 sessions × 2 templates. With
 * `@tok/redis` the fleet makes at most 1.2 × the requests of one process
 * asking for the same keys (as often as the whole fleet); without it, about
 * 4 ×. The three runs go side by side, each against its own dev server,
 * for 30 s (the issue says 60 s; 30 s is two usable lifetimes of a 20 s
 * token with a 5 s buffer). Not part of `test`: run it with `test:load` on
 * a machine that is not busy (its counts mean nothing when the instances
 * cannot keep their pace).
 */
import { randomBytes } from "node:crypto"
import { createClient } from "redis"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  startFleet,
  startRecordingDevServer,
  stopFleet,
  type RecordingDevServer,
} from "../support/fleet.ts"
import { startRedis, type RedisServer } from "../support/redisServer.ts"

const DURATION = 30_000
/** Each fleet instance starts a call every 15 ms; the lone process as often as the whole fleet. */
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

beforeAll(async () => {
  redis = await startRedis()
  for (let i = 0; i < 3; i++) devs.push(await startRecordingDevServer(20))
})
afterAll(async () => {
  await Promise.all([redis?.stop(), ...devs.map((dev) => dev.server.stop())])
})

/** 200 sessions signed in on `dev` (the same user ids on every server). */
const sessionsOn = (dev: RecordingDevServer) =>
  Array.from({ length: 200 }, (_, i) => dev.server.signIn(`user_${i}`).id)

describe("a fleet of 4 instances", () => {
  it("with @tok/redis makes at most 1.2 × the requests of one process; without it, about 4 ×", async () => {
    const [alone, shared, unshared] = devs as [
      RecordingDevServer,
      RecordingDevServer,
      RecordingDevServer,
    ]
    const encryptionKey = randomBytes(32).toString("base64")
    // A count test, not a latency test: on a busy machine (this one is
    // shared by several engineers) neither the cold start of 400 keys × 4
    // instances nor a slow Redis round trip may make an instance go it alone.
    // A 5 s buffer leaves 15 s of each 20 s token usable: two lifetimes in 30 s.
    const base = (dev: RecordingDevServer) => ({
      devServerUrl: dev.server.url,
      secretKey: dev.server.secretKey,
      requestTimeout: 30_000,
      redisTimeout: 2000,
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
                load(sessions, fleet === one ? 3.75 : 15),
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
      // Every key was asked for, in both lifetimes.
      expect(counts.one).toBeGreaterThanOrEqual(800)
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
  })
})
