import { describe, expect, it } from "vitest"
import { type Token, TokenCache } from "@tok/core"

const token = (jwt: string): Token.Token => ({
  jwt,
  sessionId: "sess_1",
  claims: { iat: 0, exp: 60 },
  issuedAt: 0,
  expiresAt: 60_000,
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
