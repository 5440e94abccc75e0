/**
 * One virtual hour under `TestClock`: one watched key, 1,000 readers each
 * reading once a second, 60 s tokens, 10 s buffer. Counts requests against
 * the minimum ⌈3600 / (TTL − buffer)⌉ = 72, with `refreshJitter: 0` (where
 * DESIGN §2.4 promises exactly the minimum) and with the default jitter
 * (where it promises at most ⌈3600 / (50 − 2)⌉ = 75). Deterministic: CI gates it.
 */
import * as Effect from "effect/Effect"
import { TestClock } from "effect/testing"
import { TokenClient } from "@tok/core"
import { makeFakeSource, testClientLayer } from "@tok/core/testing"
import { report } from "./shared.ts"

const TTL = 60
const BUFFER = 10
const READERS = Number(process.env.READERS ?? 1_000)
const SECONDS = 3_600

const hour = (refreshJitter: number | undefined) => {
  const source = makeFakeSource({ lifetimeSeconds: TTL })
  return Effect.gen(function* () {
    const tok = yield* TokenClient.TokenClient
    yield* tok.setSession("sess_1")
    const watcher = yield* tok.watch()
    const stop = watcher.subscribe(() => undefined)
    let misses = 0
    let minValidityMs = Infinity
    // Reads at t = 0, 1, …, 3599 s: the hour [0, 3600).
    for (let second = 0; second < SECONDS; second++) {
      if (second > 0) yield* TestClock.adjust("1 second")
      const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      for (let reader = 0; reader < READERS; reader++) {
        const token = yield* tok.getToken()
        if (token.source !== "cache") misses++
        minValidityMs = Math.min(minValidityMs, token.expiresAt - now)
      }
    }
    stop()
    return { requests: source.requests.length, misses, minValiditySeconds: minValidityMs / 1000 }
  }).pipe(
    Effect.provide(testClientLayer(source, { refreshJitter, expirationBuffer: BUFFER })),
    Effect.provide(TestClock.layer()),
  )
}

const minimum = Math.ceil(SECONDS / (TTL - BUFFER))
const start = performance.now()
const exact = await Effect.runPromise(hour(0))
const jittered = await Effect.runPromise(hour(undefined))
report("virtual-hour", {
  readers: READERS,
  minimum,
  jitter0: exact,
  jitterDefault: { ...jittered, bound: Math.ceil(SECONDS / (TTL - BUFFER - 2)) },
  realMs: Math.round(performance.now() - start),
})
