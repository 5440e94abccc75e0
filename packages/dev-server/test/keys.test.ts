import { SignJWT, createLocalJWKSet, jwtVerify } from "jose"
import { describe, expect, it } from "vitest"
import { generateSigningKey } from "@tok/dev-server"

describe("generateSigningKey", () => {
  it("makes an RS256 key whose public JWK verifies what the private key signs", async () => {
    const key = await generateSigningKey()
    const jwt = await new SignJWT({ sid: "sess_1" })
      .setProtectedHeader({ alg: "RS256", kid: key.kid })
      .setIssuedAt()
      .setExpirationTime("60s")
      .sign(key.privateKey)
    const jwks = createLocalJWKSet({ keys: [key.publicJwk] })
    const { payload } = await jwtVerify(jwt, jwks)
    expect(payload.sid).toBe("sess_1")
    expect(key.publicJwk).not.toHaveProperty("d")
  })
})
