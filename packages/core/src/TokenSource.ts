/**
 * `TokenSource` — how a fresh JWT is fetched for a `TokenRequest`.
 *
 * A source fails only with `TokenSourceError { status?, retryAfterMs?, code? }`
 * (no `status`: the request never got an HTTP answer). What a failure means —
 * retried, fatal, signed out — is decided by the client alone (DESIGN §2.5, §3),
 * so every source is classified the same way.
 *
 * Built-ins: `clerkFrontendApi` (browsers), `clerkBackendApi` (servers) and
 * `fromFunction`. The HTTP sources take `fetch` from the context (the `Fetch`
 * reference, the global `fetch` by default), so tests swap it without
 * touching globals.
 * @module
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { redact, sanitizeCode } from "./internal/redact.ts"
import { InvalidOptionsError } from "./TokenError.ts"

/** What a source is asked for. `organizationId` is absent for "no organization". */
export interface TokenRequest {
  readonly sessionId: string
  readonly template?: string | undefined
  readonly organizationId?: string | undefined
}

/**
 * The one way a source fails. `status` is the HTTP status when there was an
 * answer; `retryAfterMs` the server's `Retry-After`; `code` its error code.
 */
export class TokenSourceError extends Data.TaggedError("TokenSourceError")<{
  readonly status?: number | undefined
  readonly retryAfterMs?: number | undefined
  readonly code?: string | undefined
  readonly cause?: unknown
  readonly message?: string | undefined
}> {}

/** The shape of a token source. */
export interface Service {
  /** Fetches a fresh JWT for the request. */
  readonly fetch: (request: TokenRequest) => Effect.Effect<string, TokenSourceError>
  /**
   * Who this source is (the built-ins: their endpoint URL). Clients share
   * tokens only with clients of the same source (DESIGN §7); none = unnamed.
   */
  readonly id?: string | undefined
}

/** The token source service. */
export class TokenSource extends Context.Service<TokenSource, Service>()("@tok/core/TokenSource") {}

/** The `fetch` function the HTTP sources use. */
export type FetchFn = (input: string, init: RequestInit) => Promise<Response>

/**
 * The `fetch` the HTTP sources call; the global `fetch`, looked up at call time,
 * unless a test or an app provides another.
 */
export const Fetch = Context.Reference<FetchFn>("@tok/core/TokenSource/Fetch", {
  defaultValue: () => (input, init) => globalThis.fetch(input, init),
})

/** A source from a function returning an `Effect` of the JWT. */
export const fromFunction = (
  fetch: (request: TokenRequest) => Effect.Effect<string, TokenSourceError>,
): Layer.Layer<TokenSource> => Layer.succeed(TokenSource, { fetch })

/** Options of `clerkFrontendApi`. */
export interface FrontendApiOptions {
  /** The Frontend API's base URL, e.g. `https://clerk.example.com`. */
  readonly baseUrl: string
  /** `fetch`'s `credentials` (default `"include"`, as Clerk's cookies need). */
  readonly credentials?: RequestCredentials | undefined
}

/**
 * Clerk's Frontend API: `POST {baseUrl}/v1/client/sessions/{sessionId}/tokens[/{template}]`
 * with `organization_id` as a form field; answers `{ "object": "token", "jwt": "…" }`.
 */
export const clerkFrontendApi = (
  options: FrontendApiOptions,
): Layer.Layer<TokenSource, InvalidOptionsError> => failLayer(() => frontendApi(options))

const frontendApi = (options: FrontendApiOptions): Layer.Layer<TokenSource> =>
  httpSource(checkBaseUrl(options), "/v1/client/sessions/", {
    credentials: options.credentials ?? "include",
  })

/** Options of `clerkBackendApi`. */
export interface BackendApiOptions {
  /** The Backend API's base URL, e.g. `https://api.clerk.com`. */
  readonly baseUrl: string
  /** The secret key sent as `Authorization: Bearer …`, plain or `Redacted`. Never logged or echoed. */
  readonly secretKey: string | Redacted.Redacted<string>
}

/**
 * Clerk's Backend API, for servers: `POST {baseUrl}/v1/sessions/{sessionId}/tokens[/{template}]`
 * with `Authorization: Bearer <secretKey>`.
 */
export const clerkBackendApi = (
  options: BackendApiOptions,
): Layer.Layer<TokenSource, InvalidOptionsError> => failLayer(() => backendApi(options))

const backendApi = (options: BackendApiOptions): Layer.Layer<TokenSource> => {
  const baseUrl = checkBaseUrl(options)
  const given: unknown = options.secretKey
  const secretKey = Redacted.isRedacted(given) ? Redacted.value(given) : given
  if (typeof secretKey !== "string" || secretKey.length === 0) {
    throw new InvalidOptionsError({ detail: "secretKey must be a non-empty string" })
  }
  return httpSource(baseUrl, "/v1/sessions/", {
    headers: { Authorization: `Bearer ${secretKey}` },
  })
}

/** Bad options fail the layer with `InvalidOptionsError` (the Effect API) instead of throwing. */
const failLayer = (
  build: () => Layer.Layer<TokenSource>,
): Layer.Layer<TokenSource, InvalidOptionsError> => {
  try {
    return build()
  } catch (error) {
    if (error instanceof InvalidOptionsError) return Layer.effect(TokenSource, Effect.fail(error))
    throw error
  }
}

/**
 * The built-in sources with bad options thrown at once, for the Promise face
 * (`createTokenClient`'s sources check when they are made). @internal
 */
export const checkedAtOnce = { clerkFrontendApi: frontendApi, clerkBackendApi: backendApi }

/** The options' `baseUrl`, if it is an http(s) URL; throws `InvalidOptionsError` otherwise. */
const checkBaseUrl = (options: unknown): string => {
  const baseUrl = (options as { baseUrl?: unknown } | null | undefined)?.baseUrl
  if (typeof baseUrl === "string" && /^https?:\/\//i.test(baseUrl) && URL.canParse(baseUrl)) {
    return baseUrl
  }
  throw new InvalidOptionsError({ detail: "baseUrl must be an http(s) URL" })
}

/** Answers larger than this are refused rather than read into memory. */
const MAX_BODY_BYTES = 1024 * 1024

const httpSource = (
  baseUrl: string,
  prefix: string,
  init: { readonly credentials?: RequestCredentials; readonly headers?: Record<string, string> },
): Layer.Layer<TokenSource> =>
  Layer.effect(
    TokenSource,
    Effect.gen(function* () {
      const fetch = yield* Fetch
      const clock = yield* Clock.Clock
      const base = baseUrl.replace(/\/+$/, "")
      return TokenSource.of({
        id: base + prefix,
        fetch: (request) =>
          Effect.tryPromise({
            try: async (signal) => {
              const url = `${base}${prefix}${encodeURIComponent(request.sessionId)}/tokens${
                request.template === undefined ? "" : `/${encodeURIComponent(request.template)}`
              }`
              const body = new URLSearchParams()
              if (request.organizationId !== undefined) {
                body.set("organization_id", request.organizationId)
              }
              let response: Response
              try {
                response = await fetch(url, {
                  method: "POST",
                  headers: {
                    "Content-Type": "application/x-www-form-urlencoded",
                    Accept: "application/json",
                    ...init.headers,
                  },
                  body: body.toString(),
                  signal,
                  ...(init.credentials === undefined ? {} : { credentials: init.credentials }),
                })
              } catch (cause) {
                throw new TokenSourceError({
                  cause,
                  message: "the token server could not be reached",
                })
              }
              return readAnswer(response, clock.currentTimeMillisUnsafe())
            },
            catch: (cause) =>
              cause instanceof TokenSourceError
                ? cause
                : new TokenSourceError({ cause, message: "the request failed" }),
          }),
      })
    }),
  )

const readAnswer = async (response: Response, now: number): Promise<string> => {
  const status = response.status
  const text = await readCapped(response, status)
  if (status >= 200 && status < 300) {
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      throw new TokenSourceError({ status, message: "the answer is not JSON" })
    }
    const jwt =
      typeof json === "object" && json !== null ? (json as { jwt?: unknown }).jwt : undefined
    if (typeof jwt !== "string" || jwt.length === 0) {
      throw new TokenSourceError({ status, message: "the answer has no jwt string" })
    }
    return jwt
  }
  throw new TokenSourceError({
    status,
    code: errorCode(text),
    retryAfterMs: retryAfter(response.headers.get("retry-after"), serverNow(response, now)),
    message: `the token server answered HTTP ${status}`,
  })
}

const readCapped = async (response: Response, status: number): Promise<string> => {
  const declared = Number(response.headers.get("content-length") ?? "0")
  if (declared > MAX_BODY_BYTES || !response.body) {
    await response.body?.cancel().catch(() => undefined)
    if (declared > MAX_BODY_BYTES) {
      throw new TokenSourceError({ status, message: "the answer is larger than 1 MiB" })
    }
    return ""
  }
  const reader = response.body.getReader()
  const chunks: Array<Uint8Array> = []
  let size = 0
  for (;;) {
    let step: ReadableStreamReadResult<Uint8Array>
    try {
      step = await reader.read()
    } catch (cause) {
      throw new TokenSourceError({ cause, message: "the connection closed mid-answer" })
    }
    if (step.done) break
    size += step.value.byteLength
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => undefined)
      throw new TokenSourceError({ status, message: "the answer is larger than 1 MiB" })
    }
    chunks.push(step.value)
  }
  const all = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    all.set(chunk, offset)
    offset += chunk.byteLength
  }
  return new TextDecoder().decode(all)
}

const errorCode = (text: string): string | undefined => {
  try {
    const json = JSON.parse(text) as { errors?: Array<{ code?: unknown }> }
    return sanitizeCode(json.errors?.[0]?.code)
  } catch {
    return undefined
  }
}

/**
 * "Now" for a `Retry-After` date: the response's `Date` header when it has a
 * usable one — the server's clock, which set the date — else the local clock,
 * which may be minutes off (DESIGN §1).
 */
const serverNow = (response: Response, now: number): number => {
  const date = response.headers.get("date")
  const parsed = date === null ? Number.NaN : Date.parse(date)
  return Number.isNaN(parsed) ? now : parsed
}

/**
 * `Retry-After` as milliseconds: delta-seconds (fractions tolerated) or an
 * HTTP date, measured from `now`; `undefined` for anything else.
 */
export const retryAfter = (header: string | null, now: number): number | undefined => {
  if (header === null) return undefined
  const trimmed = header.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000)
  // An HTTP date names its month (`Wed, 21 Oct 2015 07:28:00 GMT`).
  if (!/[a-z]/i.test(trimmed)) return undefined
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** A source error's message with anything secret-looking removed. @internal */
export const describe = (error: TokenSourceError): string => redact(error.message || "no detail")
