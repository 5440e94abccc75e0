/**
 * DESIGN §7 guarantee 1 for servers: a fleet of 4 real Node processes, each a
 * `TokenClient` on `clerkBackendApi` against a real dev server (20 s tokens,
 * a 5 s buffer: 15 s of use each), asking for random keys among 200
 * sessions × 2 templates for 60 s. With `@tok/redis` the fleet makes at most
 * 1.2 × the requests one process would make for the same asks; without it,
 * about 4 ×. Both fleets run side by side, each against its own dev server.
 *
 * Counts, not timings. "One process for the same asks" is computed from the
 * calls the fleet actually made (each instance logs when it asked for which
 * key, when the call started and ended): one cache that fetches a key when
 * a call finds no token in use nor on its way, the token arriving when that
 * call ended and used for 15 s. So a machine too slow to keep the pace
 * makes fewer calls, and the bound follows them, rather than comparing two
 * runs that kept different paces. Every wait is generous (60 s request
 * timeout, 15 s Redis timeout, 20 s lock lease): a slow machine makes it
 * slower, not red (an event loop that stalls longer than a timeout sees it
 * fire before the answer that was already there). Not part of `test`: CI
 * runs it on its own after the other tests (`test:fleet`), so nothing else
 * competes with its processes.
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

/**
 * How every JWT starts (`{"alg":` in base64url). Not just `eyJ`: sealed
 * values are random base64url, and one in about 260,000 places of it reads
 * `eyJ` by chance (a 60 s fleet run stores enough to hit it).
 */
const JWT_START = "eyJhbGci"

/** 60 s; `TOK_FLEET_SECONDS` shortens it for a quick look. */
const DURATION = 1000 * (Number(process.env["TOK_FLEET_SECONDS"]) || 60)
/** Each instance starts a call every 15 ms: a key every 6 s per instance, every 1.5 s across the fleet. */
const INTERVAL = 15
/** How long a token is used: 20 s of life less the 5 s buffer. */
const USE_MS = 15_000

type Ask = [start: number, end: number, session: number, template: number]
type LoadResult = { calls: number; failures: Record<string, number>; asks: Ask[] }

/**
 * How many requests one process makes for `asks`, in the order they
 * started: a call that finds no token in use (nor one on its way) fetches;
 * its token arrives when that call ended (the latency the fleet saw) and is
 * used for 15 s. Later calls meanwhile join it or hit.
 */
const oneProcess = (asks: readonly Ask[]): number => {
  const usableUntil = new Map<string, number>()
  let requests = 0
  for (const [start, end, session, template] of [...asks].sort((a, b) => a[0] - b[0])) {
    const key = `${session}:${template}`
    if ((usableUntil.get(key) ?? -Infinity) > start) continue
    requests += 1
    usableUntil.set(key, end + USE_MS)
  }
  return requests
}

let redis: RedisServer
const devs: RecordingDevServer[] = []
/** Every instance started, stopped after the test even if it timed out. */
const started: Instance[] = []

beforeAll(async () => {
  redis = await startRedis()
  for (let i = 0; i < 2; i++) devs.push(await startRecordingDevServer(20))
})
afterAll(async () => {
  await Promise.all(started.map((instance) => instance.kill()))
  await Promise.all([redis?.stop(), ...devs.map((dev) => dev.server.stop())])
})

describe("a fleet of 4 instances", () => {
  it(
    "with @tok/redis makes at most 1.2 × the requests of one process for the same asks; without it, about 4 ×",
    {
      timeout: 240_000,
    },
    async () => {
      const [shared, unshared] = devs as [RecordingDevServer, RecordingDevServer]
      const encryptionKey = randomBytes(32).toString("base64")
      const base = (dev: RecordingDevServer) => ({
        devServerUrl: dev.server.url,
        secretKey: dev.server.secretKey,
        requestTimeout: 60_000,
        redisTimeout: 15_000,
        lockTtl: 20_000,
        expirationBuffer: 5,
      })
      const [sharing, notSharing] = await Promise.all([
        startFleet(4, {
          ...base(shared),
          redisUrl: redis.url,
          share: true,
          prefix: "fleet:",
          encryptionKey,
        }),
        startFleet(4, base(unshared)),
      ])
      started.push(...sharing, ...notSharing)
      try {
        const runs = await Promise.all(
          (
            [
              [sharing, shared],
              [notSharing, unshared],
            ] as const
          ).map(([fleet, dev]) => {
            // The same user ids on both servers.
            const sessions = Array.from(
              { length: 200 },
              (_, i) => dev.server.signIn(`user_${i}`).id,
            )
            return Promise.all(
              fleet.map((instance) =>
                instance.ask<LoadResult>({
                  op: "load",
                  sessions,
                  templates: [null, "supabase"],
                  durationMs: DURATION,
                  intervalMs: INTERVAL,
                }),
              ),
            )
          }),
        )
        const [withRedis, without] = runs as [LoadResult[], LoadResult[]]
        const requests = {
          withRedis: shared.server.stats().tokenRequests,
          without: unshared.server.stats().tokenRequests,
        }
        const bound = {
          withRedis: oneProcess(withRedis.flatMap((result) => result.asks)),
          without: oneProcess(without.flatMap((result) => result.asks)),
        }
        const calls = runs.map((run) => run.reduce((sum, result) => sum + result.calls, 0))
        const ratio = (n: number, of: number) => (n / of).toFixed(2)
        console.info(
          `[fleet] ${DURATION / 1000} s, 400 keys, 20 s tokens, 4 instances: ` +
            `with @tok/redis ${requests.withRedis} requests for ${calls[0]} calls ` +
            `(one process: ${bound.withRedis}; ${ratio(requests.withRedis, bound.withRedis)} ×), ` +
            `without ${requests.without} for ${calls[1]} calls ` +
            `(one process: ${bound.without}; ${ratio(requests.without, bound.without)} ×); failures ` +
            JSON.stringify(runs.map((run) => run.map((result) => result.failures))),
        )
        for (const run of runs) for (const result of run) expect(result.failures).toEqual({})
        // The keys were asked for: at least a request per key for one process.
        expect(bound.withRedis).toBeGreaterThanOrEqual(400)
        expect(requests.withRedis).toBeLessThanOrEqual(1.2 * bound.withRedis)
        expect(requests.without).toBeGreaterThan(2.5 * bound.without)
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
              expect(value).not.toContain(JWT_START)
            }
          }
          expect(values).toBeGreaterThan(100)
        } finally {
          await raw.close()
        }
      } finally {
        await Promise.all([stopFleet(sharing), stopFleet(notSharing)])
      }
    },
  )
})
