/**
 * `@tok/angular` — tok for Angular: `provideTok(config)`, `TokenService`
 * (signals and `token$`) and `tokInterceptor`. Zoneless-ready.
 * Re-exports `@tok/core`, so an app installs one package.
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
export { provideTok, type ResolvedTokConfig, TOK_CONFIG, type TokConfig } from "./provide-tok.ts"
export { tokInterceptor } from "./tok.interceptor.ts"
export { TokenService } from "./token.service.ts"
