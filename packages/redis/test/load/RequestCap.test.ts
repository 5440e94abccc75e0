import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  busiestWindow,
  startFleet,
  startRecordingDevServer,
  stopFleet,
  type RecordingDevServer,
} from "../support/fleet.ts"
import { startRedis, type RedisServer } from "../support/redisServer.ts"

let redis: RedisServer
let dev: RecordingDevServer

beforeAll(async () => {
  ;[redis, dev] = await Promise.all([startRedis(), startRecordingDevServer(60)])
})
afterAll(async () => {
  await Promise.all([redis?.stop(), dev?.server.stop()])
})

describe("RequestCap", () => {
  it("1,000 distinct cold keys across 4 instances under a cap of 20 rps: the auth server never sees more than 20 in any second", async () => {
    const keys = Array.from({ length: 500 }, (_, i) => dev.server.signIn(`user_${i}`).id).flatMap(
      (sessionId) => [{ sessionId }, { sessionId, template: "supabase" }],
    )
    const fleet = await startFleet(4, {
      devServerUrl: dev.server.url,
      secretKey: dev.server.secretKey,
      redisUrl: redis.url,
      requestsPerSecond: 20,
      // The default headroom (0.7): requests that left evenly spaced still
      // arrive a little bunched (the instances' and the dev server's event
      // loops, the sockets); on a quiet machine, 16 a second leaving (0.8)
      // showed up as 21 in the busiest second. What is tested is the default.
      // 1,000 requests at 14 per second take 71 s: every caller waits its
      // turn (71–90 s on a quiet machine). On a busy one a timer that fires
      // late gives its turn up rather than crowd the next second, and the
      // run has taken over 150 s: the bounds leave room for that, the cap
      // is what is tested.
      requestTimeout: 280_000,
      // The limiter's Redis call never times out here: that would fall back
      // to the per-process pacing (4 × the cap), which this test is not about.
      redisTimeout: 10_000,
    })
    try {
      const started = Date.now()
      const results = await Promise.all(
        fleet.map((instance, i) =>
          instance.ask<{ calls: number; failures: Record<string, number> }>({
            op: "many",
            keys: keys.filter((_, k) => k % fleet.length === i),
          }),
        ),
      )
      const elapsed = Date.now() - started
      const busiest = busiestWindow(dev.arrivals)
      console.info(
        `[cap] 1,000 cold keys, 4 instances, cap 20 rps (default headroom 0.7): ${elapsed} ms, ` +
          `busiest second ${busiest} requests`,
      )
      expect(results.map((r) => r.failures)).toEqual([{}, {}, {}, {}])
      expect(dev.arrivals.length).toBe(1000)
      expect(busiest).toBeLessThanOrEqual(20)
    } finally {
      await stopFleet(fleet)
    }
  }, 300_000)
})
