/**
 * Watchers at the edges the mutation run found unchecked (issue 21):
 * `refresh()` always settles — when the last subscriber leaves mid-fetch, or
 * when called again during a refresh — and a token another caller fetched
 * reaches the watchers of its key.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { TestClock } from "effect/testing"
import { inspectClient, makeFakeSource } from "@tok/core/testing"
import { jwtOf, withClient } from "../support.ts"

describe("refresh() settles", () => {
  it.effect("when the last subscriber leaves while its fetch is in flight", () => {
    const source = makeFakeSource({ delayMs: 100 })
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const watcher = yield* tok.watch()
        const leave = watcher.subscribe(() => undefined)
        yield* TestClock.adjust("100 millis")
        let done = false
        const refreshed = watcher.refresh().then(() => (done = true))
        yield* TestClock.adjust("10 millis")
        leave()
        yield* TestClock.adjust("200 millis")
        yield* Effect.promise(() => refreshed)
        expect(done).toBe(true)
        expect(inspectClient(tok).watchedKeys).toBe(0)
      }),
    )
  })

  it.effect(
    "when called again during a refresh: both resolve, with a token newer than before",
    () => {
      const source = makeFakeSource({ delayMs: 100 })
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          const watcher = yield* tok.watch()
          watcher.subscribe(() => undefined)
          yield* TestClock.adjust("100 millis")
          const before = jwtOf(watcher.getSnapshot())
          const settled: Array<number> = []
          const first = watcher.refresh().then(() => settled.push(1))
          yield* TestClock.adjust("50 millis")
          const second = watcher.refresh().then(() => settled.push(2))
          yield* TestClock.adjust("500 millis")
          yield* Effect.promise(() => Promise.all([first, second]))
          expect(settled.sort()).toEqual([1, 2])
          expect(jwtOf(watcher.getSnapshot())).not.toBe(before)
        }),
      )
    },
  )
})

describe("watchers hear of tokens fetched by others", () => {
  it.effect("a getToken({ skipCache: true }) of the key shows in its subscribed watcher", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const watcher = yield* tok.watch({ template: "t" })
        const seen: Array<string | undefined> = []
        watcher.subscribe((state) => seen.push(jwtOf(state)))
        yield* TestClock.adjust("1 millis")
        const fresh = yield* tok.getToken({ template: "t", skipCache: true })
        expect(jwtOf(watcher.getSnapshot())).toBe(fresh.jwt)
        expect(seen.at(-1)).toBe(fresh.jwt)
        // Another key's token does not reach it.
        const other = yield* tok.getToken({ template: "u", skipCache: true })
        expect(seen).not.toContain(other.jwt)
        expect(jwtOf(watcher.getSnapshot())).toBe(fresh.jwt)
      }),
    )
  })
})
