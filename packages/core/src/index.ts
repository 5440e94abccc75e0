/**
 * `@tok/core` — short-lived session JWTs for the code that needs them:
 * cached, fetched once for many callers, refreshed ahead of expiry, retried
 * with backoff, never handed out across sessions.
 *
 * The Effect API is the modules (`TokenClient`, `TokenSource`, …); the Promise
 * face is `createTokenClient` with its sources.
 *
 * @example
 * ```ts
 * import { createTokenClient, clerkFrontendApi } from "@tok/core"
 *
 * const tok = createTokenClient({
 *   source: clerkFrontendApi({ baseUrl: "https://clerk.example.com" }),
 *   session: "sess_123",
 * })
 * const token = await tok.getToken({ template: "supabase" }) // Token | null
 * ```
 * @packageDocumentation
 */
import * as TokenModule from "./Token.ts"

/** Whether background refresh makes sense now (page visible, online), and resume events. */
export * as Lifecycle from "./Lifecycle.ts"
/** The retry schedule (full jitter, `Retry-After` as a lower bound) and what is transient. */
export * as RetryPolicy from "./RetryPolicy.ts"
/**
 * `Token` is three things at once, so both styles work:
 * `import type { Token } from "@tok/core"` (the token tok hands out),
 * `Token.Token` / `Token.TokenState` (Effect's module style), and
 * `Token.decodeClaims(…)` (the helpers).
 */
export declare namespace Token {
  /** The token tok hands out. */
  export type Token = TokenModule.Token
  /** The state of a watched key. */
  export type TokenState = TokenModule.TokenState
  /** The decoded payload of a JWT. */
  export type Claims = TokenModule.Claims
  /** Why a JWT could not be decoded. */
  export type DecodeFailure = TokenModule.DecodeFailure
}
/** The token helpers: `make`, `decodeClaims`, `isUsable`, `lifetimeMillis`, … */
export const Token: typeof TokenModule = TokenModule
/** The token tok hands out: `{ jwt, sessionId, template?, organizationId?, claims, issuedAt, expiresAt, source }`. */
export type Token = TokenModule.Token
/** Where tokens are kept: in memory, bounded, least recently used first out. */
export * as TokenCache from "./TokenCache.ts"
/** The service users call: `getToken`, `setSession`, `watch`, `invalidate`, `layer`. */
export * as TokenClient from "./TokenClient.ts"
/** The one shape adapters show (`token`, `status`, `error`, `expiresAt`) and `whenReady`. */
export * as TokenView from "./TokenView.ts"
/** tok's metrics (Effect `Metric`) and span and attribute names (DESIGN §8). */
export * as TokenMetrics from "./TokenMetrics.ts"
/** What a client does, as typed events (`client.events.subscribe`). */
export type {
  EventError,
  EventKey,
  EventToken,
  Origin,
  RequestCause,
  TokenEvent,
  TokenEvents,
  TokenEventType,
} from "./TokenEvents.ts"
/** How clients share tokens and sign-outs: tabs (BroadcastChannel, Web Locks), servers (`@tok/redis`). */
export * as TokenShare from "./TokenShare.ts"
/** How a fresh JWT is fetched: `clerkFrontendApi`, `clerkBackendApi`, `fromFunction`. */
export * as TokenSource from "./TokenSource.ts"
/** The Promise face: `createTokenClient` and its sources. */
export {
  clerkBackendApi,
  clerkFrontendApi,
  createTokenClient,
  fromFunction,
  type GetTokenOptions,
  type Source,
  type TokClient,
  type TokClientConfig,
} from "./createTokenClient.ts"
/** The state of a watched key: signed-out, loading, ready or error. */
export type { Claims, TokenState } from "./Token.ts"
/** The watch handle adapters are built on, and the filters and options around it. */
export type { InvalidateFilter, TokenWatcher, WatchOptions } from "./TokenClient.ts"
/** The six typed failures of DESIGN §3, their union, and a guard. */
export {
  InvalidOptionsError,
  isTokenError,
  MalformedTokenError,
  NotSignedInError,
  TemplateNotFoundError,
  type TokenError,
  TokenRequestError,
  TokenUnavailableError,
  type UnavailableReason,
} from "./TokenError.ts"
/** How a source fails, and what it is asked for. */
export { TokenSourceError, type TokenRequest } from "./TokenSource.ts"
/** Reads a Clerk publishable key: the kind of instance and the Frontend API URL. */
export {
  type DevBrowserTokenFn,
  type FrontendApiOptions,
  parsePublishableKey,
  type PublishableKey,
} from "./TokenSource.ts"
