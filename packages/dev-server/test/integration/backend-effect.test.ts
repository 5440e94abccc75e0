/**
 * The Effect API (`TokenClient.layer` + `TokenSource.clerkBackendApi`) against
 * the real dev server, as a backend uses it: one client, many sessions, each
 * named by `sessionId`, failures handled by tag.
 */
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import { TokenClient } from "@tok/core"
import { errorsAreSafe, faultMatrix, secretKeyCases } from "./matrix.ts"
import {
  backendEffect,
  effectRuntime,
  startServer,
  stats,
  tokenRequests,
  verify,
} from "./support.ts"

faultMatrix(backendEffect)
secretKeyCases(backendEffect)

describe("Effect API, clerkBackendApi: one client for many sessions", () => {
  it("serves each session its own token, and a session ended on the server fails by tag while the others keep theirs", async () => {
    const server = await startServer()
    const alice = server.signIn("user_alice").id
    const bob = server.signIn("user_bob").id
    const runtime = effectRuntime(server)
    try {
      const tokens = await runtime.runPromise(
        Effect.gen(function* () {
          const tok = yield* TokenClient.TokenClient
          const a = yield* tok.getToken({ sessionId: alice, template: "supabase" })
          const b = yield* tok.getToken({ sessionId: bob, template: "supabase" })
          return { a, b }
        }),
      )
      expect(tokens.a.claims).toMatchObject({ sid: alice, sub: "user_alice" })
      expect(tokens.b.claims).toMatchObject({ sid: bob, sub: "user_bob" })
      await verify(server, tokens.a.jwt, { audience: "authenticated" })
      await verify(server, tokens.b.jwt, { audience: "authenticated" })
      expect((await stats(server)).sessions).toEqual({
        [alice]: { tokenRequests: 1, tokensIssued: 1 },
        [bob]: { tokenRequests: 1, tokensIssued: 1 },
      })

      server.signOut(alice)
      const after = await runtime.runPromise(
        Effect.gen(function* () {
          const tok = yield* TokenClient.TokenClient
          const a = yield* tok
            .getToken({ sessionId: alice, skipCache: true })
            .pipe(
              Effect.catchTag("NotSignedInError", (error) =>
                Effect.succeed(`signed out: ${error.sessionId}`),
              ),
            )
          const b = yield* tok.getToken({ sessionId: bob, template: "supabase" })
          return { a, b }
        }),
      )
      expect(after.a).toBe(`signed out: ${alice}`)
      expect(after.b).toMatchObject({ jwt: tokens.b.jwt, source: "cache" })
      expect(await tokenRequests(server)).toBe(3)
    } finally {
      await runtime.dispose()
    }
  })

  it.each(["..", "."])(
    "a sessionId of %s is InvalidOptionsError, with no request",
    async (sessionId) => {
      const server = await startServer()
      const runtime = effectRuntime(server)
      try {
        const tag = await runtime.runPromise(
          Effect.gen(function* () {
            const tok = yield* TokenClient.TokenClient
            return yield* tok.getToken({ sessionId }).pipe(
              Effect.map(() => "token"),
              Effect.catchTag("InvalidOptionsError", (error) => Effect.succeed(error._tag)),
            )
          }),
        )
        expect(tag).toBe("InvalidOptionsError")
        expect((await stats(server)).requests).toBe(0)
      } finally {
        await runtime.dispose()
      }
    },
  )
})

errorsAreSafe()
