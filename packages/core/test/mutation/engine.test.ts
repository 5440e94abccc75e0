/**
 * The engine's bookkeeping, seen from outside (issue 21): which requests a
 * sign-out fences, which request a key's callers join once an older one
 * finishes, and that a session change leaves one refresher, not two.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import { inspectClient, makeFakeSource } from "@tok/core/testing"
import { settle, withClient } from "../support.ts"

describe("fencing is per session", () => {
  it.effect("signing out fences the current session's requests, not another session's", () => {
    const source = makeFakeSource({ delayMs: 100 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const mine = yield* Effect.forkChild(Effect.flip(tok.getToken()))
        const other = yield* Effect.forkChild(tok.getToken({ sessionId: "sess_2" }))
        yield* TestClock.adjust("10 millis")
        yield* tok.setSession(null)
        expect((yield* Fiber.join(mine))._tag).toBe("NotSignedInError")
        yield* TestClock.adjust("100 millis")
        const token = yield* Fiber.join(other)
        expect(inspectClient(tok).cachedTokens).toBe(1)
        const again = yield* tok.getToken({ sessionId: "sess_2" })
        expect(again).toMatchObject({ jwt: token.jwt, source: "cache" })
        expect(source.requests).toHaveLength(2)
      }),
    )
  })

  it.effect("a switch fences the old session's requests; the new session's own go on", () => {
    const source = makeFakeSource({ delayMs: 100 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const named = yield* Effect.forkChild(tok.getToken({ sessionId: "sess_2", template: "t" }))
        yield* TestClock.adjust("10 millis")
        yield* tok.setSession("sess_2")
        yield* TestClock.adjust("100 millis")
        yield* Fiber.join(named)
        expect((yield* tok.getToken({ template: "t" })).source).toBe("cache")
      }),
    )
  })
})

describe("a key's flight table", () => {
  it.effect(
    "an older request that finishes does not take a newer skipCache request off the table",
    () => {
      // Tokens live 30 s; a caller asking for 40 s to spare never takes one
      // from the cache, so it must join the request in flight.
      const source = makeFakeSource({ lifetimeSeconds: 30 })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          source.enqueue({ delayMs: 200 }, { delayMs: 200 })
          const older = yield* Effect.forkChild(tok.getToken())
          yield* TestClock.adjust("50 millis")
          const newer = yield* Effect.forkChild(tok.getToken({ skipCache: true }))
          yield* TestClock.adjust("160 millis")
          yield* Fiber.join(older)
          const late = yield* Effect.forkChild(tok.getToken({ expirationBuffer: 40 }))
          yield* TestClock.adjust("100 millis")
          const fresh = yield* Fiber.join(newer)
          expect((yield* Fiber.join(late)).jwt).toBe(fresh.jwt)
          expect(source.requests).toHaveLength(2)
        }),
      )
    },
  )
})

describe("one refresher per watched key", () => {
  it.effect("after a session change the old session's refresher is gone", () => {
    const source = makeFakeSource({ lifetimeSeconds: 60 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const watcher = yield* tok.watch()
        watcher.subscribe(() => undefined)
        yield* settle
        const fibers = inspectClient(tok).fibers
        yield* tok.setSession("sess_2")
        yield* settle
        expect(inspectClient(tok).fibers).toBe(fibers)
        const before = source.requests.length
        yield* TestClock.adjust("1 hour")
        const after = source.requests.slice(before)
        expect(after.every((request) => request.sessionId === "sess_2")).toBe(true)
        // One refresher: one refresh per ~50 s of a 60 s token, not two.
        expect(after.length).toBeLessThanOrEqual(80)
      }),
    )
  })
})
