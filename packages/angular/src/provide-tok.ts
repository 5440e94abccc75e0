import type { TokClient } from "@tok/core"
import {
  type EnvironmentProviders,
  inject,
  InjectionToken,
  makeEnvironmentProviders,
} from "@angular/core"

/** What `provideTok` takes. */
export interface TokConfig {
  /** The Promise-face client (`createTokenClient(…)`). */
  readonly client: TokClient
  /**
   * Origins that get `Authorization: Bearer <jwt>` from `tokInterceptor`, e.g.
   * `["https://api.example.com"]`. Each entry is reduced to `new URL(x).origin`
   * and matched exactly: another scheme, host or port never matches.
   */
  readonly authorizedOrigins: ReadonlyArray<string>
  /** The JWT template `TokenService` watches and the default of `getToken()`. */
  readonly template?: string | undefined
}

/** `TokConfig` as checked by `provideTok`: origins normalized into a set. */
export interface ResolvedTokConfig {
  readonly client: TokClient
  readonly authorizedOrigins: ReadonlySet<string>
  readonly template: string | undefined
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
 * Provides tok to an application: the client for `TokenService`, and the
 * origins `tokInterceptor` may send tokens to. Throws on an entry of
 * `authorizedOrigins` that is not an absolute URL with an origin.
 *
 * @example
 * ```ts
 * export const appConfig: ApplicationConfig = {
 *   providers: [
 *     provideTok({ client: tok, authorizedOrigins: ["https://api.example.com"] }),
 *     provideHttpClient(withInterceptors([tokInterceptor])),
 *   ],
 * }
 * ```
 */
export const provideTok = (config: TokConfig): EnvironmentProviders => {
  const resolved: ResolvedTokConfig = {
    client: config.client,
    authorizedOrigins: new Set(config.authorizedOrigins.map(originOf)),
    template: config.template,
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
