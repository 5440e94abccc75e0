/**
 * The server's RS256 signing key and its public JWKS.
 * @module
 */
import { exportJWK, generateKeyPair, type JWK, type CryptoKey } from "jose"

/** An RS256 key pair with its key id and the public key as a JWK. */
export interface SigningKey {
  readonly kid: string
  readonly privateKey: CryptoKey
  readonly publicJwk: JWK
}

/** Makes a fresh RS256 key pair; the key id is derived from a random UUID. */
export const generateSigningKey = async (): Promise<SigningKey> => {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true })
  const kid = `ins_${crypto.randomUUID().replaceAll("-", "")}`
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" }
  return { kid, privateKey, publicJwk }
}
