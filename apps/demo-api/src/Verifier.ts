/**
 * `Verifier` — checks the JWTs that reach demo-api with `jose`: the signature
 * against the token server's JWKS, `iss`, `exp` and `nbf` (5 s of clock
 * tolerance), and for session tokens the authorized party (`azp`) against the
 * browser origins allowed to call the API — what Clerk's `verifyToken` does
 * with `authorizedParties`.
 *
 * A session token is accepted only if it is what a Clerk session token is. The
 * same key signs JWT-template tokens for the same session (with `sub`, `sid` and
 * `azp` too), so a template token is refused by its marks (`not_a_session_token`):
 * an `aud`, or a claim a session token of the token server does not carry (Hasura's
 * claims, or a template-chosen `org_role`, `org_permissions` or `o`). Refused too:
 * an `iat` in the future beyond the clock tolerance (`token_issued_in_future`, as
 * Clerk's `verifyToken` does), and a lifetime (`exp − iat`) longer than the session
 * token lifetime plus the tolerance (`token_lifetime_too_long`): a template or the
 * Backend API's `expires_in_seconds` can make a session-shaped token that lives a day.
 * A required claim that is missing has its own code (`missing_claim`).
 * @module
 */
import * as Clock from "effect/Clock"
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
  /** The token server's session token lifetime in seconds; default 60 (Clerk's, and the dev server's). */
  readonly sessionTokenLifetime?: number
}

/** Clock tolerance, in seconds, for `exp`, `nbf`, a future `iat` and the lifetime. */
export const clockSkewSeconds = 5

const unauthorized = (code: string, message: string) => new ApiError({ status: 401, code, message })

/**
 * The claims a session token may carry: those the token server puts in its session
 * tokens (`org_id` with an active organization), and Clerk's version-2 markers
 * (`v`, `fva`, `sts`), none of which grants anything. Authorization claims a
 * template can choose freely (`org_role`, `org_slug`, `org_permissions`, `o`,
 * `act`, `pla`, `fea`) are not among them: a token carrying one is a template's.
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
  "v",
  "fva",
  "sts",
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
      if ((cause as { reason?: unknown }).reason === "missing") {
        return unauthorized("missing_claim", `The token has no "${claim}" claim.`)
      }
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
    const lifetime = options.sessionTokenLifetime ?? 60
    const verify = (jwt: string, audience?: string) =>
      Effect.tryPromise({
        try: () =>
          jwtVerify(jwt, keys, {
            issuer,
            algorithms: ["RS256"],
            clockTolerance: clockSkewSeconds,
            requiredClaims: ["sub", "sid", "exp", "nbf", "iat"],
            ...(audience === undefined ? {} : { audience }),
          }),
        catch: fromJoseError,
      }).pipe(Effect.map((verified) => verified.payload))

    return Verifier.of({
      session: (jwt) =>
        Effect.gen(function* () {
          const claims = yield* verify(jwt)
          if (claims.aud !== undefined || Object.keys(claims).some((c) => !sessionClaims.has(c))) {
            return yield* notASessionToken()
          }
          // jose has checked that both are numbers (required claims).
          const { iat, exp } = claims as { iat: number; exp: number }
          const now = (yield* Clock.currentTimeMillis) / 1000
          if (iat > now + clockSkewSeconds) {
            return yield* unauthorized(
              "token_issued_in_future",
              "The token's iat is in the future.",
            )
          }
          if (exp - iat > lifetime + clockSkewSeconds) {
            return yield* unauthorized(
              "token_lifetime_too_long",
              `The token lives ${exp - iat} s; a session token lives at most ${lifetime} s.`,
            )
          }
          const azp = claims.azp
          if (typeof azp !== "string" || !allowed.has(azp)) {
            return yield* unauthorized(
              "unauthorized_party",
              typeof azp === "string"
                ? `Tokens issued to ${azp} are not accepted here.`
                : "The token names no authorized party (azp).",
            )
          }
          if (typeof claims.sid !== "string" || typeof claims.sub !== "string") {
            return yield* unauthorized("invalid_claim", "The token has no session or user.")
          }
          return claims as SessionClaims
        }),
      template: (jwt, audience) => verify(jwt, audience),
    })
  })
