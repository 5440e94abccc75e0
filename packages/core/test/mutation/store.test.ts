/**
 * The cache as the client keeps it, at its exact boundaries (issue 21): a
 * token whose expiry falls exactly at `now + buffer` can no longer be
 * answered, so it never replaces one that can; one second longer, it does.
 * And a cached token that is itself at that point is replaced by any fresh one.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { TestClock } from "effect/testing"
import { Lifecycle, TokenCache, TokenClient } from "@tok/core"
import { makeFakeSource } from "@tok/core/testing"
import { withClient } from "../support.ts"

// The default buffer is 10 s; fake tokens live 60 s unless a step says otherwise.
describe("which token the cache keeps", () => {
  it.effect("a skipCache token living exactly the buffer never replaces a usable one", () => {
    const source = makeFakeSource()
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        yield* tok.setSession("sess_1")
        const good = yield* tok.getToken()
        source.enqueue({ mint: { lifetimeSeconds: 10 } })
        const edge = yield* tok.getToken({ skipCache: true })
        expect(edge.jwt).not.toBe(good.jwt)
        expect(yield* tok.getToken()).toMatchObject({ jwt: good.jwt, source: "cache" })
        // Living one second more than the buffer, it is usable: it replaces the old one.
        source.enqueue({ mint: { lifetimeSeconds: 11 } })
        const longer = yield* tok.getToken({ skipCache: true })
        expect(yield* tok.getToken()).toMatchObject({ jwt: longer.jwt, source: "cache" })
        expect(source.requests).toHaveLength(3)
      }),
    )
  })

  it.effect("a cached token at exactly now + buffer is replaced, even by a short-lived one", () => {
    const source = makeFakeSource()
    const cache = TokenCache.make()
    const layer = TokenClient.layerWithoutDefaults().pipe(
      Layer.provide(
        Layer.mergeAll(
          source.layer,
          Layer.succeed(TokenCache.TokenCache, cache),
          Lifecycle.layerTest(Lifecycle.makeTest()),
        ),
      ),
    )
    return Effect.gen(function* () {
      const tok = yield* TokenClient.TokenClient
      yield* tok.setSession("sess_1")
      const old = yield* tok.getToken()
      // Now + buffer reaches the old token's expiry: it can no longer be answered.
      yield* TestClock.adjust("50 seconds")
      source.enqueue({ mint: { lifetimeSeconds: 5 } })
      const short = yield* tok.getToken({ skipCache: true })
      const held = [...cache.entries()].map(([, token]) => token.jwt)
      expect(held).toEqual([short.jwt])
      expect(held).not.toContain(old.jwt)
    }).pipe(Effect.provide(layer))
  })
})
