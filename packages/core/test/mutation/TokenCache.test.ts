/**
 * `TokenCache.make` against a plain model: random sequences of `set`, `get`,
 * `delete`, `clear` and clock moves over a few keys, with a full cache that
 * must evict — an expired token if there is one, else the least recently
 * used. Found by the mutation run (issue 21): the linked lists behind the
 * cache keep order in ways the example tests did not reach; and a lifetime
 * whose queue emptied gets a queue again (16 at most are kept).
 */
import type * as Clock from "effect/Clock"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { type Token, TokenCache } from "@tok/core"

type Op =
  | { readonly op: "set"; readonly key: string; readonly lifetime: number }
  | { readonly op: "get"; readonly key: string }
  | { readonly op: "delete"; readonly key: string }
  | { readonly op: "clear" }
  | { readonly op: "tick"; readonly ms: number }

const keys = ["a", "b", "c", "d", "e", "f"]

const opArb = (lifetimes: ReadonlyArray<number>): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      arbitrary: fc.record({
        op: fc.constant("set" as const),
        key: fc.constantFrom(...keys),
        lifetime: fc.constantFrom(...lifetimes),
      }),
      weight: 6,
    },
    {
      arbitrary: fc.record({ op: fc.constant("get" as const), key: fc.constantFrom(...keys) }),
      weight: 3,
    },
    {
      arbitrary: fc.record({ op: fc.constant("delete" as const), key: fc.constantFrom(...keys) }),
      weight: 1,
    },
    { arbitrary: fc.constant({ op: "clear" as const }), weight: 1 },
    {
      arbitrary: fc.record({
        op: fc.constant("tick" as const),
        ms: fc.integer({ min: 0, max: 40 }),
      }),
      weight: 2,
    },
  )

interface ModelEntry {
  readonly jwt: string
  readonly expiresAt: number
  used: number
}

const check = (maxEntries: number, ops: ReadonlyArray<Op>): void => {
  let now = 1000
  const clock = { currentTimeMillisUnsafe: () => now } as unknown as Clock.Clock
  const cache = TokenCache.make({ maxEntries, clock })
  const model = new Map<string, ModelEntry>()
  let tick = 0
  let n = 0
  for (const op of ops) {
    if (op.op === "tick") {
      now += op.ms
      continue
    }
    if (op.op === "clear") {
      cache.clear()
      model.clear()
    } else if (op.op === "delete") {
      cache.delete(op.key)
      model.delete(op.key)
    } else if (op.op === "get") {
      const entry = model.get(op.key)
      expect(cache.get(op.key)?.jwt).toBe(entry?.jwt)
      if (entry !== undefined) entry.used = ++tick
    } else {
      const jwt = `jwt${++n}`
      const token: Token.Token = {
        jwt,
        sessionId: "sess_1",
        claims: { iat: 0, exp: op.lifetime / 1000 },
        issuedAt: now,
        expiresAt: now + op.lifetime,
        source: "network",
      }
      const before = new Set(model.keys())
      const full = !model.has(op.key) && model.size >= maxEntries
      const expired = [...model].filter(([, e]) => e.expiresAt <= now).map(([k]) => k)
      const lru = [...model].sort(([, x], [, y]) => x.used - y.used)[0]?.[0]
      cache.set(op.key, token)
      model.set(op.key, { jwt, expiresAt: token.expiresAt, used: ++tick })
      if (full) {
        const gone = [...before].filter(
          (k) => !new Set([...cache.entries()].map(([key]) => key)).has(k),
        )
        expect(gone).toHaveLength(1)
        const evicted = gone[0]!
        if (expired.length > 0) expect(expired).toContain(evicted)
        else expect(evicted).toBe(lru)
        model.delete(evicted)
      }
    }
    expect(cache.size()).toBe(model.size)
    expect(new Map([...cache.entries()].map(([k, t]) => [k, t.jwt]))).toEqual(
      new Map([...model].map(([k, e]) => [k, e.jwt])),
    )
  }
}

describe("TokenCache.make against a model", () => {
  it("few lifetimes: evicts an expired token first, else the least recently used", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(opArb([10, 30, 50, 200]), { maxLength: 80 }),
        check,
      ),
      { numRuns: 300, seed: 21 },
    )
  })

  // 24 lifetimes come and go, but a cache of at most 5 holds at most 5 at
  // once: a queue emptied is dropped, so every live lifetime keeps a queue of
  // its own and eviction stays exact.
  it("many lifetimes over time, few at once: still an expired token first, else the LRU", () => {
    const lifetimes = Array.from({ length: 24 }, (_, i) => 5 + i * 3)
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(opArb(lifetimes), { minLength: 40, maxLength: 120 }),
        check,
      ),
      { numRuns: 300, seed: 21 },
    )
  })

  it("a queue emptied is dropped: after 16 lifetimes came and went, an expired token is still found", () => {
    let now = 0
    const clock = { currentTimeMillisUnsafe: () => now } as unknown as Clock.Clock
    const cache = TokenCache.make({ maxEntries: 2, clock })
    const token = (jwt: string, lifetime: number): Token.Token => ({
      jwt,
      sessionId: "s",
      claims: { iat: 0, exp: 1 },
      issuedAt: now,
      expiresAt: now + lifetime,
      source: "network",
    })
    // Sixteen lifetimes, one after another under one key: each empties the last one's queue.
    for (let i = 0; i < 16; i++) cache.set("x", token(`x${i}`, 1_000 + i))
    cache.delete("x")
    cache.set("a", token("a", 100_000))
    now = 1
    cache.set("b", token("b", 10))
    now = 50
    // Full: "b" has expired, "a" (the least recently used) has not.
    cache.set("c", token("c", 60_000))
    expect([...cache.entries()].map(([key]) => key).sort()).toEqual(["a", "c"])
  })

  // Past 16 live lifetimes the rest share one queue in arrival order, where
  // an expired token behind a live one waits for the LRU: bounded, consistent.
  it("more lifetimes at once than it keeps queues for: still bounded, still consistent", () => {
    const lifetimes = Array.from({ length: 24 }, (_, i) => 5 + i * 3)
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }),
        fc.array(opArb(lifetimes), { maxLength: 80 }),
        (max, ops) => {
          let now = 1000
          const clock = { currentTimeMillisUnsafe: () => now } as unknown as Clock.Clock
          const cache = TokenCache.make({ maxEntries: max, clock })
          const live = new Map<string, string>()
          let n = 0
          for (const op of ops) {
            if (op.op === "tick") now += op.ms
            else if (op.op === "clear") {
              cache.clear()
              live.clear()
            } else if (op.op === "delete") {
              cache.delete(op.key)
              live.delete(op.key)
            } else if (op.op === "get") expect(cache.get(op.key)?.jwt).toBe(live.get(op.key))
            else {
              const jwt = `jwt${++n}`
              cache.set(op.key, {
                jwt,
                sessionId: "s",
                claims: { iat: 0, exp: 1 },
                issuedAt: now,
                expiresAt: now + op.lifetime,
                source: "network",
              })
              live.set(op.key, jwt)
              expect(cache.get(op.key)?.jwt).toBe(jwt)
              for (const key of [...live.keys()]) {
                if (!new Set([...cache.entries()].map(([k]) => k)).has(key)) live.delete(key)
              }
            }
            expect(cache.size()).toBe(live.size)
            expect(cache.size()).toBeLessThanOrEqual(max)
          }
        },
      ),
      { numRuns: 200, seed: 21 },
    )
  })
})
