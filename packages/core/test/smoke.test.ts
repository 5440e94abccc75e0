import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { createTokenClient, TokenClient } from "@tok/core"
import { makeFakeSource, testClientLayer } from "@tok/core/testing"

describe("smoke", () => {
  it.effect("single flight + cache", () =>
    Effect.gen(function* () {
      const source = makeFakeSource({ delayMs: 100 })
      yield* Effect.gen(function* () {
        const tok = yield* TokenClient.TokenClient
        yield* tok.setSession("sess_1")
        const fibers = yield* Effect.forEach(Array.from({ length: 1000 }), () =>
          Effect.forkChild(tok.getToken()),
        )
        yield* TestClock.adjust("100 millis")
        const tokens = yield* Effect.forEach(fibers, Fiber.join)
        expect(source.requests.length).toBe(1)
        expect(new Set(tokens.map((t) => t.jwt)).size).toBe(1)
        const again = yield* tok.getToken()
        expect(again.source).toBe("cache")
        yield* TestClock.adjust("51 seconds")
        const f = yield* Effect.forkChild(tok.getToken())
        yield* TestClock.adjust("100 millis")
        yield* Fiber.join(f)
        expect(source.requests.length).toBe(2)
      }).pipe(Effect.provide(testClientLayer(source)))
    }),
  )

  it("promise face", async () => {
    const source = makeFakeSource()
    const tok = createTokenClient({ source: source.layer, session: "sess_1" })
    const a = await tok.getToken()
    const b = await tok.getToken()
    expect(a?.source).toBe("network")
    expect(b?.source).toBe("cache")
    tok.setSession(null)
    expect(await tok.getToken()).toBe(null)
    const w = tok.watch()
    tok.setSession("sess_2")
    const states: Array<string> = []
    const stop = w.subscribe((s) => states.push(s.status))
    await new Promise((r) => setTimeout(r, 10))
    expect(w.getSnapshot().status).toBe("ready")
    stop()
    await tok.dispose()
  })
})
