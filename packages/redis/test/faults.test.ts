/**
 * DESIGN §7 guarantees 2 and 3 for servers, with real processes: Redis
 * killed, hung, restarted; the instance that holds a key's lock killed
 * mid-request; a 401 on one instance reaching every other.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  startFleet,
  startRecordingDevServer,
  stopFleet,
  type Instance,
  type RecordingDevServer,
} from "./support/fleet.ts"
import { until } from "./support/poll.ts"
import { startRedis, type RedisServer } from "./support/redisServer.ts"

type Got = { ok: boolean; source?: string; jwt?: string; error?: string; ms: number }

let redis: RedisServer
let dev: RecordingDevServer
let prefixes = 0

beforeAll(async () => {
  ;[redis, dev] = await Promise.all([startRedis(), startRecordingDevServer(20)])
})
afterAll(async () => {
  await Promise.all([redis?.stop(), dev?.server.stop()])
})

const fleetOf = (count: number, options: { requestTimeout?: number; lockTtl?: number } = {}) =>
  startFleet(count, {
    devServerUrl: dev.server.url,
    secretKey: dev.server.secretKey,
    redisUrl: redis.url,
    share: true,
    prefix: `f${(prefixes += 1)}:`,
    ...options,
  })

const get = (instance: Instance, sessionId: string, template?: string) =>
  instance.ask<Got>({ op: "get", sessionId, ...(template === undefined ? {} : { template }) })

const signIn = () => dev.server.signIn(`user_${Math.random()}`).id

/** Whether sharing works now: a key one instance fetched comes to another from Redis. */
const sharingWorks = async (a: Instance, b: Instance) => {
  const sessionId = signIn()
  const first = await get(a, sessionId)
  const second = await get(b, sessionId)
  return first.ok && second.ok && second.source === "peer" && second.jwt === first.jwt
}

describe("faults", () => {
  it("redis-server killed mid-run: no caller fails; restarted: sharing resumes", async () => {
    const fleet = await fleetOf(4)
    try {
      expect(await sharingWorks(fleet[0]!, fleet[1]!)).toBe(true)
      const sessions = Array.from({ length: 40 }, signIn)
      const load = (durationMs: number) =>
        Promise.all(
          fleet.map((instance) =>
            instance.ask<{ calls: number; failures: Record<string, number>; maxMs: number }>({
              op: "load",
              sessions,
              templates: [null, "supabase"],
              durationMs,
              intervalMs: 20,
            }),
          ),
        )
      const running = load(6000)
      await new Promise((resolve) => setTimeout(resolve, 1500))
      await redis.kill()
      const down = await running
      for (const result of down) {
        expect(result.failures).toEqual({})
        expect(result.calls).toBeGreaterThan(10)
      }
      // Redis gone: each instance on its own, every call still answered.
      const alone = await Promise.all(
        fleet.map((instance) => get(instance, sessions[0]!, "hasura")),
      )
      expect(alone.every((result) => result.ok)).toBe(true)
      await redis.restart()
      // Back: within a few seconds (reconnect, the breaker's probe) tokens are shared again.
      let resumed = false
      for (let i = 0; i < 40 && !resumed; i++) {
        resumed = await sharingWorks(fleet[2]!, fleet[3]!)
        if (!resumed) await new Promise((resolve) => setTimeout(resolve, 250))
      }
      expect(resumed).toBe(true)
    } finally {
      await stopFleet(fleet)
    }
  })

  it("redis-server hung (SIGSTOP): every call is still answered within requestTimeout", async () => {
    // Room for a cold fetch on a busy machine; what matters is that a hung
    // Redis adds no wait beyond it.
    const requestTimeout = 4000
    const fleet = await fleetOf(4, { requestTimeout })
    try {
      expect(await sharingWorks(fleet[0]!, fleet[1]!)).toBe(true)
      redis.pause()
      try {
        const results = await Promise.all(
          fleet.flatMap((instance) =>
            Array.from({ length: 5 }, () => get(instance, signIn(), "supabase")),
          ),
        )
        for (const result of results) {
          expect(result.ok).toBe(true)
          expect(result.ms).toBeLessThan(requestTimeout)
        }
      } finally {
        redis.resume()
      }
    } finally {
      await stopFleet(fleet)
    }
  })

  it("the instance holding a key's lock is killed mid-request: another fetches within the lock's lifetime", async () => {
    const lockTtl = 1500
    const fleet = await fleetOf(2, { lockTtl })
    try {
      const sessionId = signIn()
      const requests = () => dev.server.stats().tokenRequests
      dev.server.setFaults({ latencyMs: 4000 })
      const before = requests()
      // The holder asks first, takes the lock and waits on a slow answer.
      void get(fleet[0]!, sessionId).catch(() => undefined)
      while (requests() === before) await new Promise((resolve) => setTimeout(resolve, 20))
      const waiter = get(fleet[1]!, sessionId)
      await new Promise((resolve) => setTimeout(resolve, 300))
      // The waiter waits on the holder's lock rather than asking itself.
      expect(requests()).toBe(before + 1)
      dev.server.clearFaults()
      await fleet[0]!.kill()
      const killedAt = Date.now()
      const result = await waiter
      expect(result.ok).toBe(true)
      expect(requests()).toBe(before + 2)
      // Its own request went out once the dead holder's lease ran out.
      const after = dev.arrivals.filter((at) => at >= killedAt)
      expect(after).toHaveLength(1)
      // Up to lockTtl for the lease, then a poll, SET NX, a read and the POST
      // on a busy machine: 1.5 s of room, still far below the 10 s
      // requestTimeout that a waiter not freed by the lease would wait.
      expect(after[0]! - killedAt).toBeLessThan(lockTtl + 1_500)
    } finally {
      dev.server.clearFaults()
      await stopFleet(fleet)
    }
  })

  it("a 401 on one instance: no instance serves that session's token or asks for it afterwards", async () => {
    const fleet = await fleetOf(4)
    try {
      const sessionId = signIn()
      const first = await Promise.all(fleet.map((instance) => get(instance, sessionId)))
      expect(first.every((result) => result.ok)).toBe(true)
      dev.server.signOut(sessionId)
      // Only instance 0 asks the server (skipCache) and hears the 401.
      const ended = await fleet[0]!.ask<Got>({ op: "get", sessionId, skipCache: true })
      expect(ended.error).toBe("NotSignedInError")
      const before = dev.server.stats().tokenRequests
      // The others hold the token in their caches until instance 0's event
      // reaches them (Redis and three busy processes): wait for that, not a
      // fixed time. Every `get` meanwhile counts: none may ask the server.
      let after: Got[] = []
      await until(async () => {
        after = await Promise.all(fleet.map((instance) => get(instance, sessionId)))
        return after.every((result) => result.error === "NotSignedInError")
      })
      expect(after.map((result) => result.error)).toEqual([
        "NotSignedInError",
        "NotSignedInError",
        "NotSignedInError",
        "NotSignedInError",
      ])
      // Asked again, one after the other: still no request (each instance
      // finds the session's end in Redis, not only in the event).
      for (const instance of fleet) {
        expect((await get(instance, sessionId)).error).toBe("NotSignedInError")
      }
      // Once the 401 was told, no instance asked the auth server for that session.
      expect(dev.server.stats().tokenRequests).toBe(before)
    } finally {
      await stopFleet(fleet)
    }
  })
})
