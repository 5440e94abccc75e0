/**
 * The one failure a demo-api handler ends in: an HTTP status, a stable code
 * and a message for people. Never holds a JWT or a secret.
 * @module
 */
import * as Data from "effect/Data"
import type { TokenError } from "@tok/core"

/**
 * A failed request, answered as `{ "error": { "code", "message" } }` with `status`;
 * a 503 carries `Retry-After` (`retryAfterSeconds`, default 1).
 */
export class ApiError extends Data.TaggedError("ApiError")<{
  readonly status: number
  readonly code: string
  readonly message: string
  readonly retryAfterSeconds?: number
}> {}

/** What the answer's body holds for an `ApiError`. */
export const errorBody = (error: ApiError) => ({
  error: { code: error.code, message: error.message },
})

/**
 * Maps a failure of tok (asking the token server for a template token) to the
 * answer the browser gets. Only a 401 is the caller's problem: the rest is the
 * token server's, so 502/503.
 */
export const fromTokenError = (error: TokenError): ApiError => {
  switch (error._tag) {
    case "NotSignedInError":
      return new ApiError({
        status: 401,
        code: "session_ended",
        message: "The session has ended on the token server: sign in again.",
      })
    case "TokenUnavailableError":
      return new ApiError({
        status: 503,
        code: "token_server_unavailable",
        message: `The token server is unavailable (${error.reason}, ${error.attempts} attempts): try again shortly.`,
      })
    case "TemplateNotFoundError":
      return new ApiError({
        status: 502,
        code: "template_missing",
        message: `The token server has no JWT template named "${error.template}".`,
      })
    case "TokenRequestError":
      return new ApiError({
        status: 502,
        code: "token_request_refused",
        message: `The token server refused the token request (HTTP ${error.status}).`,
      })
    case "MalformedTokenError":
      return new ApiError({
        status: 502,
        code: "malformed_token",
        message: "The token server answered with a token that cannot be used.",
      })
    case "InvalidOptionsError":
      return new ApiError({
        status: 400,
        code: "invalid_session",
        message: "The token names a session id that cannot be used.",
      })
  }
}
