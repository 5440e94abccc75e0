/**
 * demo-api's options, and the dev token server's public secret key it uses
 * when none is given.
 * @module
 */
import { DEFAULT_SECRET_KEY } from "@tok/dev-server"

/** The dev token server's public secret key: `@tok/dev-server`'s `DEFAULT_SECRET_KEY`. */
export const DEV_SECRET_KEY: string = DEFAULT_SECRET_KEY

/** Options of `startDemoApi`. */
export interface DemoApiOptions {
  /** The token server's base URL: issuer of the tokens, JWKS, and the Backend API tok calls. */
  readonly tokenServerUrl: string
  /** Browser origins that may call the API (CORS) and whose tokens are accepted (`azp`). */
  readonly allowedOrigins: readonly string[]
  /** The token server's secret key; default {@link DEV_SECRET_KEY}. */
  readonly secretKey?: string
  /** The token server's session token lifetime in seconds: longer-lived tokens are refused; default 60. */
  readonly sessionTokenLifetime?: number
  /** The JWT template used downstream; default `"supabase"` (audience `authenticated`). */
  readonly template?: string
  /** The audience the downstream service requires; default `"authenticated"`. */
  readonly audience?: string
  /**
   * At most this many requests at once do their outgoing HTTP calls (the template
   * token from the token server, then the downstream service); default 32.
   */
  readonly downstreamConcurrency?: number
  /**
   * At most this many more wait for their turn; beyond, a request is answered 503
   * `busy` with `Retry-After` at once, before any outgoing call. Default 256.
   */
  readonly downstreamQueue?: number
  /** TCP port; default 0 (chosen by the OS). */
  readonly port?: number
  /** Interface to bind; default 127.0.0.1. */
  readonly host?: string
  /** One line per request: method, path, status, time. Default: none. */
  readonly log?: (line: string) => void
  /**
   * An OTLP/HTTP collector's base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`): tok's
   * spans are exported to `{endpoint}/v1/traces` as JSON. Default: no export.
   */
  readonly otlpEndpoint?: string | undefined
  /**
   * A Redis URL: tok shares tokens, fetch locks and session ends with the
   * other demo-apis on it (`@tok/redis`). Default: none (this process alone).
   */
  readonly redisUrl?: string | undefined
  /** This instance's name, in every answer (`instance`); default `"demo-api"`. */
  readonly instance?: string | undefined
}
