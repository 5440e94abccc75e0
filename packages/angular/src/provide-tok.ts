import type { TokClient } from "@tok/core"
import {
  type EnvironmentProviders,
  inject,
  InjectionToken,
  makeEnvironmentProviders,
} from "@angular/core"

/** An authorized origin with its own key and rules. */
export interface TokOrigin {
  /** E.g. `"https://api.example.com"`; reduced to `new URL(origin).origin`. */
  readonly origin: string
  /** The JWT template for requests to this origin (default: `provideTok`'s `template`). */
  readonly template?: string | undefined
  /** The organization for requests to this origin (default: `provideTok`'s `organizationId`). */
  readonly organizationId?: string | undefined
  /** Send the request without a token when tok cannot get one (default: `provideTok`'s). */
  readonly allowAnonymous?: boolean | undefined
  /** Retry once with a fresh (`skipCache`) token after a 401 (default: `provideTok`'s). */
  readonly retryUnauthorized?: boolean | undefined
}

/** What `provideTok` takes. */
export interface TokConfig {
  /** The Promise-face client (`createTokenClient(…)`). */
  readonly client: TokClient
  /**
   * Origins that get `Authorization: Bearer <jwt>` from `tokInterceptor`, e.g.
   * `["https://api.example.com"]`, or `{ origin, template, organizationId, … }`
   * for an origin with a key of its own. Each origin is reduced to
   * `new URL(x).origin` and matched exactly: another scheme, host or port never matches.
   */
  readonly authorizedOrigins: ReadonlyArray<string | TokOrigin>
  /** The JWT template `TokenService` watches, and the default of `getToken()` and of the origins. */
  readonly template?: string | undefined
  /** The organization `TokenService` watches, and the default of `getToken()` and of the origins. */
  readonly organizationId?: string | undefined
  /**
   * When tok cannot get a token (any failure but signed out): `false` (default)
   * fails the request with an `HttpErrorResponse` (status 0, `error` the
   * `TokenError`); `true` sends it without a token, as Auth0's `allowAnonymous`.
   */
  readonly allowAnonymous?: boolean | undefined
  /** Opt-in: after a 401 from an authorized origin, retry once with a `skipCache` token. */
  readonly retryUnauthorized?: boolean | undefined
}

/** How `tokInterceptor` treats one authorized origin. */
export interface ResolvedOrigin {
  readonly template: string | undefined
  readonly organizationId: string | undefined
  readonly allowAnonymous: boolean
  readonly retryUnauthorized: boolean
}

/** `TokConfig` as checked by `provideTok`: origins normalized into a map. */
export interface ResolvedTokConfig {
  readonly client: TokClient
  readonly authorizedOrigins: ReadonlyMap<string, ResolvedOrigin>
  readonly template: string | undefined
  readonly organizationId: string | undefined
}

/** The injection token holding the configuration given to `provideTok`. */
export const TOK_CONFIG = new InjectionToken<ResolvedTokConfig>("@tok/angular config")

const originOf = (entry: string): string => {
  const origin = URL.canParse(entry) ? new URL(entry).origin : "null"
  if (origin === "null") {
    const shown = JSON.stringify(entry)
    throw new TypeError(
      `@tok/angular: authorizedOrigins entry ${shown} is not a URL with an origin`,
    )
  }
  return origin
}

/**
 * Provides tok to an application: the client for `TokenService` and
 * `injectToken`, and the origins `tokInterceptor` may send tokens to, each
 * with its key. Throws on an origin that is not an absolute URL with an origin.
 *
 * @example
 * ```ts
 * export const appConfig: ApplicationConfig = {
 *   providers: [
 *     provideTok({
 *       client: tok,
 *       authorizedOrigins: [
 *         "https://api.example.com",
 *         { origin: "https://db.example.com", template: "supabase" },
 *       ],
 *     }),
 *     provideHttpClient(withInterceptors([tokInterceptor])),
 *   ],
 * }
 * ```
 */
export const provideTok = (config: TokConfig): EnvironmentProviders => {
  const origins = new Map<string, ResolvedOrigin>()
  for (const entry of config.authorizedOrigins) {
    const given: TokOrigin = typeof entry === "string" ? { origin: entry } : entry
    origins.set(originOf(given.origin), {
      template: "template" in given ? given.template : config.template,
      organizationId: "organizationId" in given ? given.organizationId : config.organizationId,
      allowAnonymous: given.allowAnonymous ?? config.allowAnonymous ?? false,
      retryUnauthorized: given.retryUnauthorized ?? config.retryUnauthorized ?? false,
    })
  }
  const resolved: ResolvedTokConfig = {
    client: config.client,
    authorizedOrigins: origins,
    template: config.template,
    organizationId: config.organizationId,
  }
  return makeEnvironmentProviders([{ provide: TOK_CONFIG, useValue: resolved }])
}

/** The configuration, with a clear error when `provideTok` is missing. */
export const injectTokConfig = (): ResolvedTokConfig => {
  const config = inject(TOK_CONFIG, { optional: true })
  if (config === null) {
    throw new Error("@tok/angular: no tok configuration; add provideTok({ … }) to the providers")
  }
  return config
}
