/**
 * Cold burst: N concurrent `getToken` calls on an empty cache, against a
 * floor implementation (a `Map` plus one shared in-flight promise) calling
 * the same source, measured in this one process. Counts requests and wall time.
 */
import { createTokenClient, fromFunction } from "@tok/core"
import { jwtOfSize, median, report } from "./shared.ts"

/** A source that answers on the next macrotask, counting its requests. */
const makeSource = () => {
  let requests = 0
  const fetchJwt = () =>
    new Promise<string>((resolve) => {
      requests++
      setImmediate(() => resolve(jwtOfSize(1024, Math.floor(Date.now() / 1000), 60)))
    })
  return { fetchJwt, requests: () => requests }
}

const floorRun = async (n: number) => {
  const source = makeSource()
  const cache = new Map<string, { jwt: string; expiresAt: number }>()
  const inflight = new Map<string, Promise<{ jwt: string; expiresAt: number }>>()
  const get = (key: string) => {
    const hit = cache.get(key)
    if (hit !== undefined && Date.now() + 10_000 < hit.expiresAt) return Promise.resolve(hit)
    let pending = inflight.get(key)
    if (pending === undefined) {
      pending = source.fetchJwt().then((jwt) => {
        const entry = { jwt, expiresAt: Date.now() + 60_000 }
        cache.set(key, entry)
        inflight.delete(key)
        return entry
      })
      inflight.set(key, pending)
    }
    return pending
  }
  const start = performance.now()
  await Promise.all(Array.from({ length: n }, () => get("sess_1")))
  return { ms: performance.now() - start, requests: source.requests() }
}

const tokRun = async (n: number) => {
  const source = makeSource()
  const tok = createTokenClient({ source: fromFunction(source.fetchJwt), session: "sess_1" })
  const start = performance.now()
  const tokens = await Promise.all(Array.from({ length: n }, () => tok.getToken()))
  const ms = performance.now() - start
  await tok.dispose()
  const answered = tokens.filter((token) => token?.source === "network").length
  return { ms, requests: source.requests(), answered }
}

const results: Record<string, unknown> = {}
for (const n of [1_000, 10_000]) {
  const floor: Array<number> = []
  const tok: Array<number> = []
  let requests = 0
  let floorRequests = 0
  let answered = n
  for (let round = 0; round < 7; round++) {
    const f = await floorRun(n)
    const t = await tokRun(n)
    floor.push(f.ms)
    tok.push(t.ms)
    requests = Math.max(requests, t.requests)
    answered = Math.min(answered, t.answered)
    floorRequests = Math.max(floorRequests, f.requests)
  }
  results[n] = {
    requests,
    answered,
    floorRequests,
    wallMs: Math.round(median(tok) * 100) / 100,
    floorWallMs: Math.round(median(floor) * 100) / 100,
    ratio: Math.round((median(tok) / median(floor)) * 100) / 100,
  }
}
report("cold-burst", results)
