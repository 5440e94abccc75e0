/**
 * Heap per cached token: fills a client's cache with N tokens of ~1 KB JWTs
 * (distinct strings, as real tokens are) and divides the heap growth by N.
 * Run with `--expose-gc`. Deterministic enough to gate CI with a margin.
 */
import { createTokenClient, fromFunction } from "@tok/core"
import { jwtOfSize, report } from "./shared.ts"

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error("run with node --expose-gc")

const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
}

const perToken = async (n: number) => {
  let counter = 0
  const iat = Math.floor(Date.now() / 1000)
  const tok = createTokenClient({
    source: fromFunction(async () => jwtOfSize(1024, iat, 3600, counter++)),
    session: "sess_1",
    maxEntries: n,
  })
  await settle()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < n; i += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, n - i) }, (_, j) =>
        tok.getToken({ organizationId: `org_${i + j}` }),
      ),
    )
  }
  await settle()
  const after = process.memoryUsage().heapUsed
  const hit = await tok.getToken({ organizationId: "org_0" })
  if (hit?.source !== "cache" || counter !== n)
    throw new Error("the cache did not keep every token")
  await tok.dispose()
  return Math.round((after - before) / n)
}

report("memory", {
  jwtBytes: jwtOfSize(1024, 0, 60).length,
  bytesPerToken10k: await perToken(10_000),
  bytesPerToken100k: await perToken(100_000),
})
