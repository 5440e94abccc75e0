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
import * as clerkKeys from "./internal/clerkKeys.ts"
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

/** Options of `clerkFrontendApi`: a `publishableKey` or a `baseUrl`. */
export interface FrontendApiOptions {
  /**
   * Your Clerk publishable key (`pk_test_…` or `pk_live_…`): the Frontend API
   * host and the kind of instance come from it. A `pk_test_` key is a
   * development instance: every request carries its dev-browser token.
   */
  readonly publishableKey?: string | undefined
  /**
   * The Frontend API's base URL, e.g. `https://clerk.example.com`, instead of
   * a key: a production instance, unless `devBrowserToken` is given.
   */
  readonly baseUrl?: string | undefined
  /**
   * Clerk's `proxyUrl`: requests go there instead of the key's host, e.g.
   * `https://app.example.com/__clerk`, or `/__clerk` in a browser (resolved
   * against the page). Only with `publishableKey`.
   */
  readonly proxyUrl?: string | undefined
  /**
   * A development instance's dev-browser token, sent as the `__clerk_db_jwt`
   * query parameter: a string, or a function read before every request (for
   * apps that manage it). Default in a browser: the `__clerk_db_jwt` cookie
   * clerk-js sets. Not for production instances.
   */
  readonly devBrowserToken?: string | DevBrowserTokenFn | undefined
  /** `fetch`'s `credentials` (default `"include"`, as Clerk's cookies need). */
  readonly credentials?: RequestCredentials | undefined
}

/** A function that returns the current dev-browser token, or nothing when there is none. */
export type DevBrowserTokenFn = () =>
  string | null | undefined | PromiseLike<string | null | undefined>

/** What a publishable key says: the kind of instance and the Frontend API. */
export type PublishableKey = clerkKeys.PublishableKey

/**
 * Reads a Clerk publishable key: `{ instanceType, frontendApi, frontendApiUrl }`.
 * Throws `InvalidOptionsError` (which never shows the key) if it is not one.
 * A loopback host (`localhost`, `127.0.0.1`, `[::1]`) gets `http:`, any other `https:`.
 */
export const parsePublishableKey = (publishableKey: string): PublishableKey => {
  const parsed = clerkKeys.parsePublishableKey(publishableKey)
  if (parsed instanceof InvalidOptionsError) throw parsed
  return parsed
}

/**
 * Clerk's Frontend API: `POST {base}/v1/client/sessions/{sessionId}/tokens[/{template}]`
 * with `organization_id` as a form field; answers `{ "object": "token", "jwt": "…" }`.
 * On a development instance every request carries `?__clerk_db_jwt=<dev-browser token>`;
 * without one, it fails as the Frontend API would (401 `dev_browser_unauthenticated`,
 * a `TokenRequestError` that signs nobody out) and sends nothing. Bad options fail
 * the layer with `InvalidOptionsError`.
 */
export const clerkFrontendApi = (
  options: FrontendApiOptions,
): Layer.Layer<TokenSource, InvalidOptionsError> => failLayer(() => frontendApi(options))

const frontendApi = (options: FrontendApiOptions): Layer.Layer<TokenSource> => {
  const plan = frontendPlan(options)
  return httpSource(plan.baseUrl, "/v1/client/sessions/", {
    credentials: options.credentials ?? "include",
    ...(plan.devBrowserToken === undefined ? {} : { query: devBrowserQuery(plan.devBrowserToken) }),
  })
}

/** Where a Frontend API source sends its requests, and how it finds its dev-browser token. */
const frontendPlan = (
  options: FrontendApiOptions,
): { readonly baseUrl: string; readonly devBrowserToken: DevBrowserTokenFn | undefined } => {
  const takes = "clerkFrontendApi takes { publishableKey } or { baseUrl }"
  if (typeof options !== "object" || options === null) {
    throw new InvalidOptionsError({ detail: takes })
  }
  const { publishableKey, baseUrl, proxyUrl, devBrowserToken } = options
  const token = clerkKeys.checkDevBrowserToken(devBrowserToken)
  if (publishableKey === undefined) {
    if (proxyUrl !== undefined) {
      throw new InvalidOptionsError({ detail: "proxyUrl goes with publishableKey, not baseUrl" })
    }
    if (baseUrl === undefined) {
      throw new InvalidOptionsError({ detail: takes })
    }
    return { baseUrl: checkBaseUrl(options), devBrowserToken: token }
  }
  if (baseUrl !== undefined) {
    throw new InvalidOptionsError({ detail: "publishableKey or baseUrl, not both (see proxyUrl)" })
  }
  const key = parsePublishableKey(publishableKey)
  if (key.instanceType === "production" && token !== undefined) {
    throw new InvalidOptionsError({
      detail: "devBrowserToken is for development instances (pk_test_ keys)",
    })
  }
  return {
    baseUrl: proxyUrl === undefined ? key.frontendApiUrl : clerkKeys.checkProxyUrl(proxyUrl),
    devBrowserToken:
      key.instanceType === "production"
        ? undefined
        : (token ?? clerkKeys.cookieToken(publishableKey.trim())),
  }
}

/**
 * The query string of a development instance's request. No token: the error
 * the Frontend API would answer, without the request. A function that throws
 * is a defect in the app (DESIGN §2.9), not a network failure.
 */
const devBrowserQuery =
  (token: DevBrowserTokenFn): (() => Promise<string>) =>
  async () => {
    let value: unknown
    try {
      value = await token()
    } catch (defect) {
      throw new clerkKeys.AppDefect(defect)
    }
    if (!clerkKeys.isUsableDevBrowserToken(value)) {
      throw new TokenSourceError({
        status: 401,
        code: "dev_browser_unauthenticated",
        message: "no dev-browser token: load clerk-js, or pass devBrowserToken",
      })
    }
    return `?${clerkKeys.DEV_BROWSER_COOKIE}=${encodeURIComponent(value)}`
  }

/** Clerk's Backend API, the default of `clerkBackendApi`. */
const CLERK_BACKEND_API = "https://api.clerk.com"

/** Options of `clerkBackendApi`. */
export interface BackendApiOptions {
  /** The Backend API's base URL; default Clerk's, `https://api.clerk.com`. */
  readonly baseUrl?: string | undefined
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
  if (typeof options !== "object" || options === null) {
    throw new InvalidOptionsError({ detail: "clerkBackendApi takes { secretKey, baseUrl? }" })
  }
  const baseUrl = options.baseUrl === undefined ? CLERK_BACKEND_API : checkBaseUrl(options)
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
 * (`createTokenClient`'s sources check when they are made). Two bindings, not
 * one object, so an app that uses one does not bundle the other. @internal
 */
export const checkedFrontendApi: (options: FrontendApiOptions) => Layer.Layer<TokenSource> =
  frontendApi
/** `clerkBackendApi` with bad options thrown at once (see `checkedFrontendApi`). @internal */
export const checkedBackendApi: (options: BackendApiOptions) => Layer.Layer<TokenSource> =
  backendApi

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
  init: {
    readonly credentials?: RequestCredentials
    readonly headers?: Record<string, string>
    /**
     * The query string of each request (`?…`), worked out before it is sent;
     * throws a `TokenSourceError`, or an `AppDefect` for a bug in the app's code.
     */
    readonly query?: () => Promise<string>
  },
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
              const search = init.query === undefined ? "" : await init.query()
              const url = `${base}${prefix}${encodeURIComponent(request.sessionId)}/tokens${
                request.template === undefined ? "" : `/${encodeURIComponent(request.template)}`
              }${search}`
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
                : (clerkKeys.rethrowAppDefect(cause) ??
                  new TokenSourceError({ cause, message: "the request failed" })),
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
  const decoder = new TextDecoder()
  let text = ""
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
    text += decoder.decode(step.value, { stream: true })
  }
  return text + decoder.decode()
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
