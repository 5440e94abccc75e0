/**
 * The token tok hands out, the states a watched key goes through, and the
 * hand-written JWT payload decoder behind them.
 *
 * The payload is decoded by hand (base64url → JSON → checks) rather than with
 * `Schema`, which would add ~90 KB gzip to every browser app.
 * @module
 */
import { decodeBase64UrlToString } from "./internal/base64url.ts"
import type { TokenError } from "./TokenError.ts"

/**
 * A JWT with what tok knows of it. `issuedAt` and `expiresAt` are local epoch
 * milliseconds: the lifetime `exp − iat` measured from when the token arrived,
 * so a client clock that is off does not matter (DESIGN §1).
 */
export interface Token {
  readonly jwt: string
  readonly sessionId: string
  readonly template?: string | undefined
  readonly organizationId?: string | undefined
  readonly claims: Claims
  readonly issuedAt: number
  readonly expiresAt: number
  /**
   * `"network"` for every caller of the request that fetched it, `"peer"`
   * when another client (a tab, a server) fetched it and shared it (DESIGN
   * §7), `"cache"` afterwards.
   */
  readonly source: "cache" | "network" | "peer"
}

/** The state of a watched key (see `TokenClient.watch`). */
export type TokenState =
  | { readonly status: "signed-out" }
  | { readonly status: "loading"; readonly token?: Token | undefined }
  | { readonly status: "ready"; readonly token: Token }
  | { readonly status: "error"; readonly error: TokenError; readonly token?: Token | undefined }

/** The lifetime of a token in milliseconds. */
export const lifetimeMillis = (token: Token): number => token.expiresAt - token.issuedAt

/** Whether `token` may still be handed out at `now` with `bufferMillis` to spare. */
export const isUsable = (token: Token, now: number, bufferMillis: number): boolean =>
  now + bufferMillis < token.expiresAt

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
  // Stryker disable next-line ConditionalExpression: `typeof … !== "number"` is there for TypeScript; Number.isFinite alone already refuses a non-number, so dropping it changes nothing
  if (typeof iat !== "number" || !Number.isFinite(iat)) {
    return { detail: "the JWT has no numeric iat claim" }
  }
  // Stryker disable next-line ConditionalExpression: as for iat, Number.isFinite alone refuses a non-number
  if (typeof exp !== "number" || !Number.isFinite(exp)) {
    return { detail: "the JWT has no numeric exp claim" }
  }
  if (exp <= iat) return { detail: "the JWT's exp is not after its iat" }
  return payload as Claims
}

/**
 * Decodes `jwt` and places its lifetime on the local clock: received at
 * `receivedAt`, it expires at `receivedAt + (exp − iat)` seconds.
 */
export const make = (
  jwt: unknown,
  request: {
    readonly sessionId: string
    readonly template?: string | undefined
    readonly organizationId?: string | undefined
  },
  receivedAt: number,
  source: Token["source"] = "network",
): Token | DecodeFailure => {
  const claims = decodeClaims(jwt)
  if (isDecodeFailure(claims)) return claims
  const expiresAt = receivedAt + (claims.exp - claims.iat) * 1000
  // `exp` of 1e308 would expire at Infinity: cached forever, serialized as null.
  if (!(expiresAt <= MAX_EPOCH_MILLIS)) {
    return { detail: "the JWT's lifetime (exp − iat) is too long to be a date" }
  }
  return {
    jwt: jwt as string,
    sessionId: request.sessionId,
    template: request.template,
    organizationId: request.organizationId,
    claims,
    issuedAt: receivedAt,
    expiresAt,
    source,
  }
}

/** The latest time a JavaScript `Date` can hold, in epoch ms. */
const MAX_EPOCH_MILLIS = 8.64e15

/** Whether a decode result is a failure. */
export const isDecodeFailure = <A extends object>(
  result: A | DecodeFailure,
): result is DecodeFailure => !("iat" in result) && !("jwt" in result)
