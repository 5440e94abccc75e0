/**
 * `@tok/angular` — tok for Angular: `provideTok(config)`, `injectToken(() =>
 * options)` and `TokenService` (signals), `tokInterceptor` (per-origin keys,
 * `TOK_REQUEST_KEY` per request, an opt-in retry after a 401) and
 * `signedInGuard`. Zoneless-ready and safe in server rendering (no token
 * request, no token in the HTML). Re-exports `@tok/core`, so an app installs
 * one package.
 *
 * @example
 * ```ts
 * import { provideHttpClient, withInterceptors } from "@angular/common/http"
 * import { clerkFrontendApi, createTokenClient, provideTok, tokInterceptor } from "@tok/angular"
 *
 * const tok = createTokenClient({ source: clerkFrontendApi({ baseUrl }), session: "sess_123" })
 * bootstrapApplication(App, {
 *   providers: [
 *     provideTok({ client: tok, authorizedOrigins: ["https://api.example.com"] }),
 *     provideHttpClient(withInterceptors([tokInterceptor])),
 *   ],
 * })
 * ```
 * @packageDocumentation
 */
export * from "@tok/core"
export {
  injectToken,
  type InjectTokenConfig,
  type InjectTokenOptions,
  type TokenSignals,
} from "./inject-token.ts"
export {
  provideTok,
  type ResolvedOrigin,
  type ResolvedTokConfig,
  TOK_CONFIG,
  type TokConfig,
  type TokOrigin,
} from "./provide-tok.ts"
export { signedInGuard } from "./signed-in.guard.ts"
export { TOK_REQUEST_KEY, tokInterceptor, type TokRequestKey } from "./tok.interceptor.ts"
export { TokenService } from "./token.service.ts"
