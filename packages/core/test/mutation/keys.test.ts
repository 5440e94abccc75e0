/**
 * Cache keys and watch ids never run two different keys together, even when
 * the ids' characters would concatenate to the same text. Found by the
 * mutation run (issue 21).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { makeFakeSource } from "@tok/core/testing"
import { withClient } from "../support.ts"

describe("keys", () => {
  it.effect("ids whose text runs together still name different keys", () => {
    const source = makeFakeSource()
    const keys = [
      { sessionId: "s" },
      { sessionId: "s", template: "x" },
      { sessionId: "sx" },
      { sessionId: "s", organizationId: "x" },
      { sessionId: "s", template: "x", organizationId: "y" },
      { sessionId: "s", template: "xy" },
      { sessionId: "s", organizationId: "xy" },
      { sessionId: "s", template: "y", organizationId: "x" },
      { sessionId: "s", organizationId: "y" },
      { sessionId: "t", organizationId: "y" },
      { sessionId: "t", template: "x", organizationId: "y" },
      { sessionId: "t", template: "z", organizationId: "y" },
    ]
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        const first = yield* Effect.forEach(keys, (options) => tok.getToken(options))
        const again = yield* Effect.forEach(keys, (options) => tok.getToken(options))
        expect(source.requests).toHaveLength(keys.length)
        expect(again.map((t) => t.jwt)).toEqual(first.map((t) => t.jwt))
        first.forEach((token, i) => {
          expect(token.sessionId).toBe(keys[i]!.sessionId)
          expect(token.template).toBe(keys[i]!.template)
          expect(token.organizationId).toBe(keys[i]!.organizationId)
        })
      }),
    )
  })

  it.effect("watchers of keys whose text runs together each see their own token", () => {
    const source = makeFakeSource()
    const keys = [
      { sessionId: "s", template: "x" },
      { sessionId: "sx" },
      { sessionId: "s", organizationId: "x" },
      { sessionId: "s", template: "xy" },
      { sessionId: "s", template: "x", organizationId: "y" },
    ]
    return withClient(source, (tok) =>
      Effect.gen(function* () {
        const watchers = yield* Effect.forEach(keys, (options) => tok.watch(options))
        for (const watcher of watchers) watcher.subscribe(() => undefined)
        yield* Effect.forEach(watchers, (watcher) => Effect.promise(() => watcher.refresh()))
        watchers.forEach((watcher, i) => {
          const state = watcher.getSnapshot()
          expect(state.status).toBe("ready")
          const token = (
            state as { token: { sessionId: string; template?: string; organizationId?: string } }
          ).token
          expect(token.sessionId).toBe(keys[i]!.sessionId)
          expect(token.template).toBe(keys[i]!.template)
          expect(token.organizationId).toBe(keys[i]!.organizationId)
        })
      }),
    )
  })

  it.effect(
    "invalidate refuses a filter that is not an object, null included, and drops nothing",
    () => {
      const source = makeFakeSource()
      return withClient(source, (tok) =>
        Effect.gen(function* () {
          yield* tok.setSession("sess_1")
          yield* tok.getToken()
          for (const filter of [null, "everything", 42]) {
            const error = yield* Effect.flip(tok.invalidate(filter as never))
            expect(error).toMatchObject({
              _tag: "InvalidOptionsError",
              detail: "the invalidate filter must be an object",
            })
          }
          expect((yield* tok.getToken()).source).toBe("cache")
        }),
      )
    },
  )
})
