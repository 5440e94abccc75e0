/**
 * What demo-api accepts as a session token, with real JWTs: from the dev server's
 * routes, and (for shapes the dev server never signs) signed with its very key.
 */
import { SignJWT, type JWTPayload } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  generateSigningKey,
  startDevServer,
  type DevServer,
  type SigningKey,
} from "@tok/dev-server"
import { startDemoApi, type DemoApi } from "@tok/demo-api"

const origin = "http://127.0.0.1:4700"
let key: SigningKey
let tokens: DevServer
let api: DemoApi

beforeAll(async () => {
  key = await generateSigningKey()
  tokens = await startDevServer({
    signingKey: key,
    templates: {
      day: { lifetime: 86_400 },
      admin: { claims: { org_role: "org:admin", org_permissions: ["org:sys:manage"] } },
      slightlyLong: { lifetime: 66 },
      sixtyFive: { lifetime: 65 },
    },
  })
  api = await startDemoApi({ tokenServerUrl: tokens.url, allowedOrigins: [origin] })
})
afterAll(async () => {
  await api?.stop()
  await tokens?.stop()
})

/** The status and error code demo-api answers `/api/profile` with for this bearer token. */
const verdict = async (jwt: string): Promise<{ status: number; code: string | undefined }> => {
  const res = await fetch(`${api.url}/api/profile`, {
    headers: { authorization: `Bearer ${jwt}`, origin },
    signal: AbortSignal.timeout(10_000),
  })
  const body = (await res.json()) as { error?: { code: string } }
  return { status: res.status, code: body.error?.code }
}

/** A token from the dev server's frontend token route, as a browser on `origin` gets it. */
const fromRoute = async (sessionId: string, template?: string, organizationId?: string) => {
  const res = await fetch(
    `${tokens.url}/v1/client/sessions/${sessionId}/tokens${template ? `/${template}` : ""}`,
    {
      method: "POST",
      headers: { origin, "content-type": "application/json" },
      body: JSON.stringify(organizationId ? { organization_id: organizationId } : {}),
    },
  )
  expect(res.status).toBe(200)
  return ((await res.json()) as { jwt: string }).jwt
}

/** A JWT signed with the dev server's own key: a session token's claims, changed by `edit`. */
const signed = async (sessionId: string, edit: (claims: JWTPayload) => JWTPayload) => {
  const now = Math.floor(Date.now() / 1000)
  const claims = edit({
    sub: "user_1",
    sid: sessionId,
    azp: origin,
    iss: tokens.url,
    iat: now,
    nbf: now,
    exp: now + 60,
    jti: "jti_1",
  })
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "JWT" })
    .sign(key.privateKey)
}

describe("a session token is only what a Clerk session token is", () => {
  it("a session token from the token route, and one signed the same way, are accepted", async () => {
    const { id } = tokens.signIn("user_1")
    expect(await verdict(await fromRoute(id))).toEqual({ status: 200, code: undefined })
    expect(await verdict(await signed(id, (c) => c))).toEqual({ status: 200, code: undefined })
    // At most the session token lifetime plus the 5 s tolerance.
    expect((await verdict(await fromRoute(id, "sixtyFive"))).status).toBe(200)
  })

  it("a token that lives longer than a session token is refused: template or Backend API", async () => {
    const { id } = tokens.signIn("user_1")
    for (const jwt of [await fromRoute(id, "day"), await fromRoute(id, "slightlyLong")]) {
      expect(await verdict(jwt)).toEqual({ status: 401, code: "token_lifetime_too_long" })
    }
    // The Backend API's expires_in_seconds makes a session token that lives a day.
    const res = await fetch(`${tokens.url}/v1/sessions/${id}/tokens`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${tokens.secretKey}`,
        origin,
        "content-type": "application/json",
      },
      body: JSON.stringify({ expires_in_seconds: 86_400 }),
    })
    const { jwt } = (await res.json()) as { jwt: string }
    expect(await verdict(jwt)).toEqual({ status: 401, code: "token_lifetime_too_long" })
  })

  it("a template that chooses org_role is refused by that mark, organization or not", async () => {
    const { id } = tokens.signIn("user_1")
    for (const jwt of [await fromRoute(id, "admin"), await fromRoute(id, "admin", "org_1")]) {
      expect(await verdict(jwt)).toEqual({ status: 401, code: "not_a_session_token" })
    }
    // A session token of an organization is fine.
    expect((await verdict(await fromRoute(id, undefined, "org_1"))).status).toBe(200)
  })

  it("an iat in the future (beyond 5 s) is refused, though nbf has passed", async () => {
    const { id } = tokens.signIn("user_1")
    const future = await signed(id, (c) => ({ ...c, iat: c.iat! + 120, exp: c.iat! + 150 }))
    expect(await verdict(future)).toEqual({ status: 401, code: "token_issued_in_future" })
    const withinSkew = await signed(id, (c) => ({ ...c, iat: c.iat! + 3 }))
    expect((await verdict(withinSkew)).status).toBe(200)
  })

  it("a missing nbf has its own code; an nbf in the future is not valid yet", async () => {
    const { id } = tokens.signIn("user_1")
    const noNbf = await signed(id, ({ nbf: _, ...c }) => c)
    expect(await verdict(noNbf)).toEqual({ status: 401, code: "missing_claim" })
    tokens.setFaults({ clockSkewSeconds: 120 })
    try {
      expect(await verdict(await fromRoute(id))).toEqual({
        status: 401,
        code: "token_not_yet_valid",
      })
    } finally {
      tokens.clearFaults()
    }
  })
})
