/**
 * The token tok hands out, and the hand-written JWT payload decoder behind it.
 *
 * The payload is decoded by hand (base64url → JSON → checks) rather than with
 * `Schema`, which would add ~90 KB gzip to every browser app.
 * @module
 */
import { decodeBase64UrlToString } from "./internal/base64url.ts"

/** The decoded payload of a JWT: at least numeric `iat` and `exp`. */
export interface Claims {
  readonly iat: number
  readonly exp: number
  readonly [claim: string]: unknown
}

/** Why a JWT could not be decoded; never contains the JWT itself. */
export type DecodeFailure = { readonly detail: string }

/**
 * Decodes a JWT's payload and checks what tok relies on: three segments, a
 * JSON object payload, numeric `iat` and `exp`, and `exp > iat`.
 * The signature is not verified: a client trusts its token endpoint.
 */
export const decodeClaims = (jwt: unknown): Claims | DecodeFailure => {
  if (typeof jwt !== "string") return { detail: "the JWT is not a string" }
  if (jwt.length > 64 * 1024) return { detail: "the JWT is longer than 64 KiB" }
  const parts = jwt.split(".")
  if (parts.length !== 3) return { detail: `a JWT has 3 segments, this one has ${parts.length}` }
  const json = decodeBase64UrlToString(parts[1]!)
  if (json === undefined) return { detail: "the JWT payload is not base64url-encoded UTF-8" }
  let payload: unknown
  try {
    payload = JSON.parse(json)
  } catch {
    return { detail: "the JWT payload is not JSON" }
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    return { detail: "the JWT payload is not a JSON object" }
  }
  const { iat, exp } = payload as Record<string, unknown>
  if (typeof iat !== "number" || !Number.isFinite(iat)) {
    return { detail: "the JWT has no numeric iat claim" }
  }
  if (typeof exp !== "number" || !Number.isFinite(exp)) {
    return { detail: "the JWT has no numeric exp claim" }
  }
  if (exp <= iat) return { detail: "the JWT's exp is not after its iat" }
  return payload as Claims
}

/** Whether a decode result is a failure. */
export const isDecodeFailure = (result: Claims | DecodeFailure): result is DecodeFailure =>
  "detail" in result && !("iat" in result)
