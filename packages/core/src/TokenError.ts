/**
 * The typed failures of tok (DESIGN §3). Every failure a caller can see is one
 * of these six classes; each is tagged (`_tag` = class name) for
 * `Effect.catchTag`, extends `Error` for the Promise face, and has a message
 * written for people. No message, `String()` or JSON of these ever holds a JWT
 * or a secret: they carry statuses, codes, template names and session ids only.
 * @module
 */
import * as Data from "effect/Data"
import { quoted } from "./internal/redact.ts"

/** No session is signed in, or the server said the session has ended (401). */
export class NotSignedInError extends Data.TaggedError("NotSignedInError")<{
  readonly sessionId?: string | undefined
  readonly message: string
}> {
  constructor(fields: { readonly sessionId?: string | undefined } = {}) {
    super({
      ...fields,
      message:
        fields.sessionId === undefined
          ? "No session is signed in: sign in before asking for a token"
          : `Session ${fields.sessionId} is not signed in (it has ended or was never started)`,
    })
  }
}

/** The server has no JWT template of that name (404 for a template). */
export class TemplateNotFoundError extends Data.TaggedError("TemplateNotFoundError")<{
  readonly template: string
  readonly message: string
}> {
  constructor(fields: { readonly template: string }) {
    super({
      ...fields,
      message: `The server has no JWT template named ${quoted(fields.template)}`,
    })
  }
}

/** The server refused the request with a 4xx that retrying cannot fix. */
export class TokenRequestError extends Data.TaggedError("TokenRequestError")<{
  readonly status: number
  readonly code?: string | undefined
  readonly message: string
}> {
  constructor(fields: { readonly status: number; readonly code?: string | undefined }) {
    super({
      ...fields,
      message: `The token request was refused with HTTP ${fields.status}${
        fields.code === undefined ? "" : ` (${fields.code})`
      }${fields.code === "dev_browser_unauthenticated" ? DEV_BROWSER_HINT : ""}`,
    })
  }
}

/** What a person can do about a refused dev-browser token. */
const DEV_BROWSER_HINT =
  ": the dev-browser token (__clerk_db_jwt) is missing, unknown or expired; load clerk-js, or pass devBrowserToken"

/** Why a token could not be had after retrying. */
export type UnavailableReason = "network" | "timeout" | "server" | "rate-limited"

const reasonText: Record<UnavailableReason, string> = {
  network: "the token server could not be reached",
  timeout: "the token server did not answer in time",
  server: "the token server failed",
  "rate-limited": "the token server is rate-limiting requests",
}

/** Transient failures (network, timeout, 5xx, 429) outlasted the retry budget. */
export class TokenUnavailableError extends Data.TaggedError("TokenUnavailableError")<{
  readonly reason: UnavailableReason
  readonly status?: number | undefined
  readonly retryAfterMs?: number | undefined
  readonly attempts: number
  readonly message: string
}> {
  constructor(fields: {
    readonly reason: UnavailableReason
    readonly status?: number | undefined
    readonly retryAfterMs?: number | undefined
    readonly attempts: number
  }) {
    const status = fields.status === undefined ? "" : ` (HTTP ${fields.status})`
    const after =
      fields.retryAfterMs === undefined ? "" : `; it asked to wait ${fields.retryAfterMs} ms`
    super({
      ...fields,
      message: `Token unavailable: ${reasonText[fields.reason]}${status} after ${fields.attempts} attempt${
        fields.attempts === 1 ? "" : "s"
      }${after}`,
    })
  }
}

/** The answer was not `{ jwt }` with a decodable JWT holding numeric `iat` < `exp`. */
export class MalformedTokenError extends Data.TaggedError("MalformedTokenError")<{
  readonly detail: string
  readonly message: string
}> {
  constructor(fields: { readonly detail: string }) {
    super({
      ...fields,
      message: `The token server's answer is not a usable token: ${fields.detail}`,
    })
  }
}

/** Options that cannot be used: a non-finite buffer, an empty template name, … */
export class InvalidOptionsError extends Data.TaggedError("InvalidOptionsError")<{
  readonly detail: string
  readonly message: string
}> {
  constructor(fields: { readonly detail: string }) {
    super({ ...fields, message: `Invalid tok options: ${fields.detail}` })
  }
}

/** Every failure tok reports. */
export type TokenError =
  | NotSignedInError
  | TemplateNotFoundError
  | TokenRequestError
  | TokenUnavailableError
  | MalformedTokenError
  | InvalidOptionsError

const tags = new Set([
  "NotSignedInError",
  "TemplateNotFoundError",
  "TokenRequestError",
  "TokenUnavailableError",
  "MalformedTokenError",
  "InvalidOptionsError",
])

/** Whether a value is one of the `TokenError` classes. */
export const isTokenError = (u: unknown): u is TokenError =>
  typeof u === "object" && u !== null && tags.has((u as { _tag?: unknown })._tag as string)
