/**
 * The cache as the client keeps it, at its exact boundaries (issue 21): a
 * token whose expiry falls exactly at `now + buffer` can no longer be
 * answered, so it never replaces one that can; one second longer, it does.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
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
})
