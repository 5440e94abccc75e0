/**
 * The server's RS256 signing key and its public JWKS.
 * @module
 */
import { createPrivateKey, type JsonWebKey as NodeJwk } from "node:crypto"
import { readFile } from "node:fs/promises"
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK } from "jose"
import type { CryptoKey, JWK } from "jose"

/** An RS256 key pair with its key id and the public key as a JWK. */
export interface SigningKey {
  /** The key id, written into every JWT header and into the JWKS. */
  readonly kid: string
  /** The private key that signs tokens. */
  readonly privateKey: CryptoKey
  /** The public key as a JWK (`kty`, `n`, `e`, `kid`, `alg`, `use`); never holds private parts. */
  readonly publicJwk: JWK
}

/** Makes a fresh RS256 key pair; the key id is derived from a random UUID. */
export const generateSigningKey = async (): Promise<SigningKey> => {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true })
  const kid = `ins_${crypto.randomUUID().replaceAll("-", "")}`
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" }
  return { kid, privateKey, publicJwk }
}

/**
 * Reads an RSA private key from a file: PEM (PKCS#8 `BEGIN PRIVATE KEY` or PKCS#1
 * `BEGIN RSA PRIVATE KEY`) or a private JWK as JSON. The key id is the JWK's `kid`
 * when it has one, otherwise its RFC 7638 thumbprint, so a restarted server keeps
 * the same `kid` and clients' cached JWKS stay valid.
 * @example
 * const key = await loadSigningKey("./dev-key.pem")
 * const server = await startDevServer({ signingKey: key })
 */
export const loadSigningKey = async (path: string): Promise<SigningKey> => {
  let text: string
  try {
    text = await readFile(path, "utf8")
  } catch (cause) {
    throw new Error(`cannot read the signing key file ${path}`, { cause })
  }
  return parseSigningKey(text, path)
}

/** Parses the text of a PEM or JWK private key (see {@link loadSigningKey}); `source` names it in errors. */
export const parseSigningKey = async (
  text: string,
  source = "the signing key",
): Promise<SigningKey> => {
  const trimmed = text.trim()
  let declaredKid: string | undefined
  let keyObject
  try {
    if (trimmed.startsWith("{")) {
      const jwk = JSON.parse(trimmed) as NodeJwk & { kid?: unknown }
      declaredKid = typeof jwk.kid === "string" && jwk.kid !== "" ? jwk.kid : undefined
      keyObject = createPrivateKey({ key: jwk, format: "jwk" })
    } else {
      keyObject = createPrivateKey(trimmed)
    }
  } catch {
    // The underlying error may quote key material: do not chain it.
    throw new Error(`${source} is not a PEM or JWK RSA private key`)
  }
  const bits = keyObject.asymmetricKeyDetails?.modulusLength ?? 0
  if (keyObject.asymmetricKeyType !== "rsa" || bits < 2048) {
    throw new Error(`${source} must be an RSA private key of at least 2048 bits`)
  }
  const privateJwk = keyObject.export({ format: "jwk" }) as JWK
  const publicParts: JWK = { kty: "RSA", n: privateJwk.n ?? "", e: privateJwk.e ?? "" }
  const kid = declaredKid ?? `ins_${await calculateJwkThumbprint(publicParts)}`
  const privateKey = (await importJWK({ ...privateJwk, alg: "RS256" }, "RS256")) as CryptoKey
  return { kid, privateKey, publicJwk: { ...publicParts, kid, alg: "RS256", use: "sig" } }
}
