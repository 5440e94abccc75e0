/**
 * `Verifier` — checks the JWTs that reach demo-api with `jose`: the signature
 * against the token server's JWKS, `iss`, `exp` and `nbf` (5 s of clock
 * tolerance), and for session tokens the authorized party (`azp`) against the
 * browser origins allowed to call the API — what Clerk's `verifyToken` does
 * with `authorizedParties` — and that the token is one: no `aud`, no claims
 * beyond a session token's (a template token is refused, `not_a_session_token`).
 * @module
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose"
import { ApiError } from "./ApiError.ts"

/** The claims demo-api relies on in a verified session token. */
export interface SessionClaims extends JWTPayload {
  readonly sub: string
  readonly sid: string
  readonly azp: string
  readonly exp: number
}

/** The shape of the verifier. */
export interface Service {
  /** A browser's session token: signature, `iss`, `exp`, `nbf`, and `azp` in the allowed origins. */
  readonly session: (jwt: string) => Effect.Effect<SessionClaims, ApiError>
  /** A template token sent to a downstream service: also its audience. */
  readonly template: (jwt: string, audience: string) => Effect.Effect<JWTPayload, ApiError>
}

/** The verifier service. */
export class Verifier extends Context.Service<Verifier, Service>()("@tok/demo-api/Verifier") {}

/** Options of {@link layer}. */
export interface Options {
  /** The token server's base URL: every token's `iss`, and where the JWKS is. */
  readonly issuer: string
  /** Browser origins whose session tokens are accepted (`azp`). */
  readonly allowedOrigins: readonly string[]
}

const unauthorized = (code: string, message: string) => new ApiError({ status: 401, code, message })

/**
 * The claims a Clerk session token may carry (default session token, v1 and v2).
 * A template token is signed by the same key for the same session, with `sub`,
 * `sid` and `azp` too: it has an `aud` (Clerk session tokens have none), or
 * claims of its own (e.g. Hasura's), and is not a session token.
 */
const sessionClaims = new Set([
  "iss",
  "sub",
  "sid",
  "azp",
  "exp",
  "iat",
  "nbf",
  "jti",
  "org_id",
  "org_role",
  "org_slug",
  "org_permissions",
  "act",
  "v",
  "fva",
  "sts",
  "o",
  "pla",
  "fea",
])

const notASessionToken = () =>
  unauthorized("not_a_session_token", "This is not a session token (a JWT template's token?).")

/** jose's failures as answers; the token itself is never part of one. */
const fromJoseError = (cause: unknown): ApiError => {
  const code = (cause as { code?: unknown }).code
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return unauthorized("token_expired", "The token has expired.")
    case "ERR_JWT_CLAIM_VALIDATION_FAILED": {
      const claim = String((cause as { claim?: unknown }).claim ?? "a claim")
      return claim === "nbf"
        ? unauthorized("token_not_yet_valid", "The token is not valid yet (nbf).")
        : unauthorized("invalid_claim", `The token's "${claim}" claim is not acceptable.`)
    }
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return unauthorized("invalid_signature", "The token's signature does not verify.")
    case "ERR_JWKS_NO_MATCHING_KEY":
      return unauthorized(
        "unknown_key",
        "The token was signed by a key the token server does not list.",
      )
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return unauthorized("invalid_algorithm", "The token is not signed with RS256.")
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
    case "ERR_JOSE_NOT_SUPPORTED":
      return unauthorized("malformed_token", "The bearer token is not a well-formed JWT.")
    default:
      return new ApiError({
        status: 503,
        code: "jwks_unavailable",
        message: "The token server's keys (JWKS) could not be fetched: try again shortly.",
      })
  }
}

/** The verifier for one token server. Keys are fetched once and refetched for an unknown `kid`. */
export const layer = (options: Options): Layer.Layer<Verifier> =>
  Layer.sync(Verifier, () => {
    const issuer = options.issuer.replace(/\/+$/, "")
    const keys = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`), {
      timeoutDuration: 5_000,
    })
    const allowed = new Set(options.allowedOrigins.map((origin) => new URL(origin).origin))
    const verify = (jwt: string, audience?: string) =>
      Effect.tryPromise({
        try: () =>
          jwtVerify(jwt, keys, {
            issuer,
            algorithms: ["RS256"],
            clockTolerance: 5,
            requiredClaims: ["sub", "sid", "exp", "nbf", "iat"],
            ...(audience === undefined ? {} : { audience }),
          }),
        catch: fromJoseError,
      }).pipe(Effect.map((verified) => verified.payload))

    return Verifier.of({
      session: (jwt) =>
        Effect.flatMap(verify(jwt), (claims) => {
          if (claims.aud !== undefined || Object.keys(claims).some((c) => !sessionClaims.has(c))) {
            return Effect.fail(notASessionToken())
          }
          const azp = claims.azp
          if (typeof azp !== "string" || !allowed.has(azp)) {
            return Effect.fail(
              unauthorized(
                "unauthorized_party",
                typeof azp === "string"
                  ? `Tokens issued to ${azp} are not accepted here.`
                  : "The token names no authorized party (azp).",
              ),
            )
          }
          if (typeof claims.sid !== "string" || typeof claims.sub !== "string") {
            return Effect.fail(unauthorized("invalid_claim", "The token has no session or user."))
          }
          return Effect.succeed(claims as SessionClaims)
        }),
      template: (jwt, audience) => verify(jwt, audience),
    })
  })
