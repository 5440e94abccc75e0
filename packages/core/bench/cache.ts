/**
 * Inserts per second into a full cache of 100,000 tokens (every insert
 * evicts one), against a floor measured in the same process: inserting the
 * same keys into a plain `Map` that evicts nothing — what any cache must do
 * at least. (A `Map` that drops its first key each time is no floor: V8
 * walks the deleted slots at its head, so it slows down as it goes.)
 */
import { TokenCache, type Token } from "@tok/core"
import { median, report } from "./shared.ts"

const SIZE = 100_000
const INSERTS = Number(process.env.TOK_BENCH_INSERTS ?? 200_000)
const token = (i: number): Token => ({
  jwt: `jwt_${i}`,
  sessionId: `sess_${i}`,
  claims: { iat: 0, exp: 3600 },
  issuedAt: Date.now(),
  expiresAt: Date.now() + 3_600_000,
  source: "cache",
})
const tokens = Array.from({ length: SIZE + INSERTS }, (_, i) => token(i))
const keys = tokens.map((t) => t.sessionId)

const tokRun = (): number => {
  const cache = TokenCache.make({ maxEntries: SIZE })
  for (let i = 0; i < SIZE; i++) cache.set(keys[i]!, tokens[i]!)
  const start = performance.now()
  for (let i = SIZE; i < SIZE + INSERTS; i++) {
    cache.set(keys[i]!, tokens[i]!)
    // A hit on a recent key now and then, so recency has work to do.
    if ((i & 7) === 0) cache.get(keys[i - 3]!)
  }
  return performance.now() - start
}

const floorRun = (): number => {
  const map = new Map<string, Token>()
  for (let i = 0; i < SIZE; i++) map.set(keys[i]!, tokens[i]!)
  const start = performance.now()
  for (let i = SIZE; i < SIZE + INSERTS; i++) {
    map.set(keys[i]!, tokens[i]!)
    if ((i & 7) === 0) map.get(keys[i - 3]!)
  }
  return performance.now() - start
}

const tok: Array<number> = []
const floor: Array<number> = []
for (let round = 0; round < 5; round++) {
  floor.push(floorRun())
  tok.push(tokRun())
}
const perSecond = (ms: number) => Math.round(INSERTS / (ms / 1000))
report("cache-insert", {
  size: SIZE,
  insertsPerSecond: perSecond(median(tok)),
  floorInsertsPerSecond: perSecond(median(floor)),
  ratio: Math.round((median(tok) / median(floor)) * 100) / 100,
})
