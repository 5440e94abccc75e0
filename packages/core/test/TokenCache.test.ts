import type * as Clock from "effect/Clock"
import { describe, expect, it } from "vitest"
import { type Token, TokenCache } from "@tok/core"

const token = (jwt: string): Token.Token => ({
  jwt,
  sessionId: "sess_1",
  claims: { iat: 0, exp: 60 },
  issuedAt: 0,
  // Far in the future: these tests are about recency, not expiry.
  expiresAt: 8.64e15,
  source: "cache",
})

describe("TokenCache.make", () => {
  it("keeps tokens by key", () => {
    const cache = TokenCache.make()
    cache.set("a", token("A"))
    expect(cache.get("a")?.jwt).toBe("A")
    expect(cache.get("b")).toBeUndefined()
    expect(cache.size()).toBe(1)
  })

  it("holds at most maxEntries and evicts the least recently used", () => {
    const cache = TokenCache.make({ maxEntries: 3 })
    cache.set("a", token("A"))
    cache.set("b", token("B"))
    cache.set("c", token("C"))
    cache.get("a")
    cache.set("d", token("D"))
    expect([...cache.entries()].map(([key]) => key).sort()).toEqual(["a", "c", "d"])
    cache.set("c", token("C2"))
    cache.set("e", token("E"))
    expect([...cache.entries()].map(([key]) => key).sort()).toEqual(["c", "d", "e"])
    expect(cache.size()).toBe(3)
  })

  it("replacing a key does not evict another", () => {
    const cache = TokenCache.make({ maxEntries: 2 })
    cache.set("a", token("A"))
    cache.set("b", token("B"))
    cache.set("a", token("A2"))
    expect(cache.size()).toBe(2)
    expect(cache.get("a")?.jwt).toBe("A2")
    expect(cache.get("b")?.jwt).toBe("B")
  })

  it("deletes and clears", () => {
    const cache = TokenCache.make()
    cache.set("a", token("A"))
    cache.set("b", token("B"))
    cache.delete("a")
    expect(cache.get("a")).toBeUndefined()
    cache.clear()
    expect(cache.size()).toBe(0)
  })

  it("defaults to 1000 entries", () => {
    const cache = TokenCache.make()
    for (let i = 0; i < 1001; i++) cache.set(`k${i}`, token(`T${i}`))
    expect(cache.size()).toBe(TokenCache.defaultMaxEntries)
    expect(cache.get("k0")).toBeUndefined()
    expect(cache.get("k1000")?.jwt).toBe("T1000")
  })
})

describe("TokenCache eviction", () => {
  /** A clock standing at `now` ms. */
  const clockAt = (now: { ms: number }) =>
    ({ currentTimeMillisUnsafe: () => now.ms }) as unknown as Clock.Clock
  const tokenFor = (jwt: string, issuedAt: number, lifetime: number): Token.Token => ({
    jwt,
    sessionId: "sess_1",
    claims: { iat: 0, exp: lifetime / 1000 },
    issuedAt,
    expiresAt: issuedAt + lifetime,
    source: "cache",
  })

  it("§4 TokenCache: a full cache evicts an expired token before a live one", () => {
    const now = { ms: 0 }
    const cache = TokenCache.make({ maxEntries: 3, clock: clockAt(now) })
    cache.set("short", tokenFor("S", 0, 60_000))
    cache.set("long", tokenFor("L", 0, 3_600_000))
    cache.set("other", tokenFor("O", 0, 3_600_000))
    // "short" is the most recently used, but it has expired.
    now.ms = 120_000
    cache.get("short")
    cache.set("new", tokenFor("N", now.ms, 60_000))
    expect([...cache.entries()].map(([key]) => key).sort()).toEqual(["long", "new", "other"])
    // Nothing expired: the least recently used goes.
    cache.get("long")
    cache.set("newer", tokenFor("N2", now.ms, 60_000))
    expect([...cache.entries()].map(([key]) => key).sort()).toEqual(["long", "new", "newer"])
  })

  it("§4 TokenCache: overwriting a key in a full cache evicts nothing", () => {
    const cache = TokenCache.make({ maxEntries: 2 })
    cache.set("a", token("A"))
    cache.set("b", token("B"))
    cache.set("b", token("B2"))
    cache.set("a", token("A2"))
    expect(cache.size()).toBe(2)
    expect(cache.get("a")?.jwt).toBe("A2")
    expect(cache.get("b")?.jwt).toBe("B2")
  })

  it("§4 TokenCache: inserting into a full cache costs about what inserting into a roomy one does (no scan)", () => {
    // A complexity class, not a speed: a scan per insert is ~n²/2 = 8e8 steps
    // (seconds), a linked list n steps (milliseconds); the margin is wide
    // enough for a loaded 2-core machine. The speed is a bench row
    // (bench/cache.ts), not a test.
    const n = 40_000
    /** ms for `n` inserts into a cache of `capacity` that already holds `n` tokens. */
    const timeInserts = (capacity: number) => {
      const cache = TokenCache.make({ maxEntries: capacity })
      for (let i = 0; i < n; i++) cache.set(`k${i}`, token(`T${i}`))
      const start = performance.now()
      for (let i = 0; i < n; i++) cache.set(`n${i}`, token(`N${i}`))
      return { ms: performance.now() - start, cache }
    }
    timeInserts(2 * n) // warm up
    const roomy = Math.min(timeInserts(2 * n).ms, timeInserts(2 * n).ms)
    const { ms: full, cache } = timeInserts(n)
    expect(cache.size()).toBe(n)
    expect(cache.get(`k${n - 1}`)).toBeUndefined()
    expect(full).toBeLessThan(Math.max(50 * roomy, 2_000))
  })
})
