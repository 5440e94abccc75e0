/**
 * DESIGN §6: Clerk's own backend SDK works against the dev server unchanged.
 */
import { createClerkClient, verifyToken } from "@clerk/backend"
import { describe, expect, it } from "vitest"
import { start } from "./helpers.ts"

describe("@clerk/backend against the dev server", () => {
  it("sessions.getToken gets session and template tokens that verifyToken accepts", async () => {
    const server = await start({ secretKey: "sk_test_clerk_compat" })
    const clerk = createClerkClient({ secretKey: server.secretKey, apiUrl: server.url })
    const { id } = server.signIn("user_42")

    const sessionToken = await clerk.sessions.getToken(id)
    const payload = await verifyToken(sessionToken.jwt, {
      secretKey: server.secretKey,
      apiUrl: server.url,
    })
    expect(payload).toMatchObject({ sub: "user_42", sid: id, iss: server.url })

    const template = await clerk.sessions.getToken(id, "supabase")
    const claims = await verifyToken(template.jwt, {
      secretKey: server.secretKey,
      apiUrl: server.url,
      audience: "authenticated",
    })
    expect(claims).toMatchObject({ sub: "user_42", role: "authenticated" })

    const short = await clerk.sessions.getToken(id, undefined, 30)
    const shortClaims = await verifyToken(short.jwt, {
      secretKey: server.secretKey,
      apiUrl: server.url,
    })
    expect(shortClaims.exp - shortClaims.iat).toBe(30)
    expect(server.stats().routes).toMatchObject({
      "POST /v1/sessions/:sid/tokens": 2,
      "POST /v1/sessions/:sid/tokens/:template": 1,
      "GET /v1/jwks": 1,
    })
  })

  it("a wrong secret key is refused", async () => {
    const server = await start({ secretKey: "sk_test_clerk_compat" })
    const { id } = server.signIn("user_42")
    const wrong = createClerkClient({ secretKey: "sk_test_wrong_key", apiUrl: server.url })
    await expect(wrong.sessions.getToken(id)).rejects.toMatchObject({
      status: 401,
      errors: [expect.objectContaining({ code: "clerk_key_invalid" })],
    })
  })

  it("an ended session is refused with 401", async () => {
    const server = await start()
    const { id } = server.signIn("user_42")
    server.signOut(id)
    const clerk = createClerkClient({ secretKey: server.secretKey, apiUrl: server.url })
    await expect(clerk.sessions.getToken(id)).rejects.toMatchObject({ status: 401 })
  })
})
