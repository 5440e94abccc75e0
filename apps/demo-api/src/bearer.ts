/**
 * The bearer token of a request's `Authorization` header, or the `ApiError`
 * that says why there is none (never echoing what was sent).
 * @module
 */
import * as Effect from "effect/Effect"
import { ApiError } from "./ApiError.ts"

/** Largest bearer token accepted, in characters. */
const MAX_TOKEN_LENGTH = 16 * 1024

/** The bearer token of a request, or why there is none. */
export const bearerToken = (header: string | undefined): Effect.Effect<string, ApiError> => {
  if (header === undefined || header.trim() === "") {
    return Effect.fail(
      new ApiError({
        status: 401,
        code: "missing_token",
        message: "Sign in first: send the session token as Authorization: Bearer <token>.",
      }),
    )
  }
  const match = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header)
  if (match === null) {
    return Effect.fail(
      new ApiError({
        status: 400,
        code: "bad_authorization_header",
        message: "The Authorization header must be: Bearer <token>.",
      }),
    )
  }
  const token = match[1]!
  if (token.length > MAX_TOKEN_LENGTH) {
    return Effect.fail(
      new ApiError({ status: 400, code: "token_too_large", message: "The token is too large." }),
    )
  }
  return Effect.succeed(token)
}
