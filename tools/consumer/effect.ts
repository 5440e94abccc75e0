// The Effect API of @tok/core, as a server uses it (the backend API with the
// secret key, a session named per call), against a running `tok-dev-server`
// (its URL in TOK_URL). The app's own `effect` is the one tok runs on.
import assert from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { TokenClient, TokenSource } from "@tok/core"
import { DEFAULT_SECRET_KEY } from "@tok/dev-server"

const url = process.env.TOK_URL ?? assert.fail("TOK_URL is not set")

const signIn = (userId: string) =>
  Effect.promise(async () => {
    const res = await fetch(`${url}/v1/client/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user_id: userId }),
    })
    return ((await res.json()) as { id: string }).id
  })

const program = Effect.gen(function* () {
  const tok = yield* TokenClient.TokenClient
  const sessionId = yield* signIn("user_effect")
  const token = yield* tok.getToken({ sessionId, template: "hasura" })
  assert.equal(token.sessionId, sessionId)
  assert.equal(token.template, "hasura")
  assert.equal(token.claims["sub"], "user_effect")
  const again = yield* tok.getToken({ sessionId, template: "hasura" })
  assert.equal(again.jwt, token.jwt, "the second call is a cache hit")

  // Typed failures: an unknown session and an unknown template.
  const unknown = yield* tok.getToken({ sessionId: "sess_unknown" }).pipe(
    Effect.as("token" as const),
    Effect.catchTag("NotSignedInError", () => Effect.succeed("not-signed-in" as const)),
  )
  assert.equal(unknown, "not-signed-in")
  const missing = yield* tok.getToken({ sessionId, template: "nope" }).pipe(
    Effect.as(""),
    Effect.catchTag("TemplateNotFoundError", (error) => Effect.succeed(error.template)),
  )
  assert.equal(missing, "nope")
})

const TokLive = TokenClient.layer({ expirationBuffer: 15 }).pipe(
  Layer.provide(TokenSource.clerkBackendApi({ baseUrl: url, secretKey: DEFAULT_SECRET_KEY })),
)

await Effect.runPromise(program.pipe(Effect.provide(TokLive)))
console.log("effect api: ok")
