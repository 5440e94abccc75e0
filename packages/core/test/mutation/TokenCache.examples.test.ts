/**
 * `TokenCache.make` on the two cases the model test did not draw (issue 21):
 * a token that expires exactly now is expired, and a key overwritten with a
 * token of another lifetime is evicted by its new expiry — and the cache
 * stays consistent afterwards.
 */
import type * as Clock from "effect/Clock"
import { describe, expect, it } from "vitest"
import { type Token, TokenCache } from "@tok/core"

const setup = (maxEntries: number) => {
  const time = { now: 0 }
  const clock = { currentTimeMillisUnsafe: () => time.now } as unknown as Clock.Clock
  const cache = TokenCache.make({ maxEntries, clock })
  const put = (key: string, lifetime: number) => {
    const token: Token.Token = {
      jwt: `${key}@${time.now}+${lifetime}`,
      sessionId: "sess_1",
      claims: { iat: 0, exp: lifetime / 1000 },
      issuedAt: time.now,
      expiresAt: time.now + lifetime,
      source: "network",
    }
    cache.set(key, token)
    return token
  }
  const keys = () => [...cache.entries()].map(([key]) => key).sort()
  return { time, cache, put, keys }
}

describe("TokenCache.make, examples", () => {
  it("a token expiring exactly now is evicted before the least recently used live one", () => {
    const { time, cache, put, keys } = setup(2)
    put("live", 5000)
    put("edge", 100)
    // "live" is now the least recently used: only expiry can choose "edge".
    cache.get("edge")
    time.now = 100
    put("new", 5000)
    expect(keys()).toEqual(["live", "new"])
  })

  it("an overwritten key expires by its new token, and the cache stays consistent", () => {
    const { time, cache, put, keys } = setup(2)
    put("a", 1000)
    put("b", 1000)
    put("a", 100)
    time.now = 200
    // "a" expired (its new token lived 100 ms); "b" is older but live.
    put("c", 5000)
    expect(keys()).toEqual(["b", "c"])
    time.now = 2000
    put("d", 5000)
    expect(keys()).toEqual(["c", "d"])
    put("e", 5000)
    expect(cache.size()).toBe(2)
    expect(keys()).toEqual(["d", "e"])
    expect(cache.get("c")).toBeUndefined()
  })

  it("a cache made with room for nothing never throws on set", () => {
    const { cache, put } = setup(0)
    expect(() => put("a", 1000)).not.toThrow()
    expect(cache.get("a")?.sessionId).toBe("sess_1")
  })
})
