import { generateKeyPairSync } from "node:crypto"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SignJWT, createLocalJWKSet, jwtVerify } from "jose"
import { afterAll, describe, expect, it } from "vitest"
import {
  generateSigningKey,
  loadSigningKey,
  parseSigningKey,
  type SigningKey,
} from "@tok/dev-server"

const roundTrip = async (key: SigningKey) => {
  const jwt = await new SignJWT({ sid: "sess_1" })
    .setProtectedHeader({ alg: "RS256", kid: key.kid })
    .setIssuedAt()
    .setExpirationTime("60s")
    .sign(key.privateKey)
  const { payload } = await jwtVerify(jwt, createLocalJWKSet({ keys: [key.publicJwk] }))
  return payload
}

const dir = await mkdtemp(join(tmpdir(), "tok-keys-"))
afterAll(() => rm(dir, { recursive: true, force: true }))

describe("generateSigningKey", () => {
  it("makes an RS256 key whose public JWK verifies what the private key signs", async () => {
    const key = await generateSigningKey()
    expect((await roundTrip(key)).sid).toBe("sess_1")
    expect(key.publicJwk).not.toHaveProperty("d")
    expect(key.publicJwk).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig", kid: key.kid })
  })
})

describe("loadSigningKey", () => {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 })

  it("loads a PKCS#8 PEM and keeps the same kid across loads", async () => {
    const path = join(dir, "key.pem")
    await writeFile(path, rsa.privateKey.export({ type: "pkcs8", format: "pem" }))
    const first = await loadSigningKey(path)
    const second = await loadSigningKey(path)
    expect(first.kid).toMatch(/^ins_/)
    expect(second.kid).toBe(first.kid)
    expect((await roundTrip(first)).sid).toBe("sess_1")
    expect(first.publicJwk).not.toHaveProperty("d")
  })

  it("loads a PKCS#1 PEM and a private JWK, keeping the JWK's kid", async () => {
    const pkcs1 = await parseSigningKey(
      rsa.privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    )
    expect((await roundTrip(pkcs1)).sid).toBe("sess_1")
    const jwk = { ...rsa.privateKey.export({ format: "jwk" }), kid: "my-key" }
    const path = join(dir, "key.json")
    await writeFile(path, JSON.stringify(jwk))
    const fromJwk = await loadSigningKey(path)
    expect(fromJwk.kid).toBe("my-key")
    expect(fromJwk.publicJwk.n).toBe(pkcs1.publicJwk.n)
    expect((await roundTrip(fromJwk)).sid).toBe("sess_1")
  })

  it("refuses what is not an RSA private key of 2048 bits or more, without quoting it", async () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" })
    const small = generateKeyPairSync("rsa", { modulusLength: 1024 })
    await expect(
      parseSigningKey(ec.privateKey.export({ type: "pkcs8", format: "pem" }).toString()),
    ).rejects.toThrow(/RSA/)
    await expect(
      parseSigningKey(small.privateKey.export({ type: "pkcs8", format: "pem" }).toString()),
    ).rejects.toThrow(/2048/)
    await expect(
      parseSigningKey("-----BEGIN PRIVATE KEY-----\nsecretstuff\n-----END PRIVATE KEY-----"),
    ).rejects.toThrow(/not a PEM or JWK/)
    await expect(parseSigningKey("{ not json")).rejects.toThrow(/not a PEM or JWK/)
    await expect(loadSigningKey(join(dir, "missing.pem"))).rejects.toThrow(/cannot read/)
  })
})
