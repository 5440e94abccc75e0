/**
 * `@tok/core` — short-lived session JWTs for the code that needs them:
 * cached, fetched once for many callers, refreshed ahead of expiry, retried
 * with backoff, never handed out across sessions.
 *
 * The Effect API is the modules (`TokenClient`, `TokenSource`, …); the Promise
 * face is `createTokenClient` with its sources.
 * @packageDocumentation
 */
export * as Lifecycle from "./Lifecycle.ts"
export * as RetryPolicy from "./RetryPolicy.ts"
export * as Token from "./Token.ts"
export * as TokenCache from "./TokenCache.ts"
export * as TokenClient from "./TokenClient.ts"
export * as TokenSource from "./TokenSource.ts"
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
export type { TokenState } from "./Token.ts"
export type { InvalidateFilter, TokenWatcher, WatchOptions } from "./TokenClient.ts"
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
export { TokenSourceError, type TokenRequest } from "./TokenSource.ts"
