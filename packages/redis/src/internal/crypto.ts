/**
 * Sealing values at rest: AES-256-GCM through Web Crypto, a fresh 96-bit IV
 * per value, and the Redis key as additional data, so a sealed value copied
 * under another key does not open. Sealed values read `v1.<iv>.<ciphertext>`
 * (base64url); anything else is not a sealed value.
 * @internal
 */

/** A key ready to seal and open values. */
export interface Sealer {
  readonly seal: (plaintext: string, redisKey: string) => Promise<string>
  /** The plaintext, or `undefined` when the value is not one this key sealed for `redisKey`. */
  readonly open: (value: string, redisKey: string) => Promise<string | undefined>
}

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

const toBase64Url = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64url")

const fromBase64Url = (text: string): Uint8Array | undefined =>
  /^[A-Za-z0-9_-]+$/.test(text) ? new Uint8Array(Buffer.from(text, "base64url")) : undefined

/** Why an encryption key cannot be used; `undefined` when it can. */
export const checkKey = (raw: Uint8Array): string | undefined =>
  raw.byteLength === 32 ? undefined : `the encryption key must be 32 bytes, got ${raw.byteLength}`

/** Decodes a key given as base64 or base64url text (32 bytes), or takes the bytes as they are. */
export const keyBytes = (key: string | Uint8Array): Uint8Array =>
  typeof key === "string" ? new Uint8Array(Buffer.from(key.trim(), "base64")) : key

/** A sealer for a 32-byte key (check it with {@link checkKey} first). */
export const makeSealer = async (raw: Uint8Array): Promise<Sealer> => {
  const key = await crypto.subtle.importKey("raw", new Uint8Array(raw), "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ])
  return {
    seal: async (plaintext, redisKey) => {
      const iv = crypto.getRandomValues(new Uint8Array(12))
      const sealed = await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: encoder.encode(redisKey) },
        key,
        encoder.encode(plaintext),
      )
      return `v1.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(sealed))}`
    },
    open: async (value, redisKey) => {
      const parts = value.split(".")
      if (parts.length !== 3 || parts[0] !== "v1") return undefined
      const iv = fromBase64Url(parts[1]!)
      const data = fromBase64Url(parts[2]!)
      if (iv === undefined || iv.byteLength !== 12 || data === undefined) return undefined
      try {
        const plain = await crypto.subtle.decrypt(
          { name: "AES-GCM", iv: new Uint8Array(iv), additionalData: encoder.encode(redisKey) },
          key,
          new Uint8Array(data),
        )
        return decoder.decode(plain)
      } catch {
        return undefined
      }
    },
  }
}
