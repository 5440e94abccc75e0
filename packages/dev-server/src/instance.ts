/**
 * The kind of Clerk instance the server stands in for, its publishable key,
 * and — for a development instance — the dev-browser tokens it has issued.
 *
 * A Clerk development instance does not use third-party cookies: clerk-js
 * gets a dev-browser token with `POST /v1/dev_browser` and sends it as the
 * `__clerk_db_jwt` query parameter on every Frontend API request. Without it,
 * or with one the instance does not know, the Frontend API answers 401
 * `dev_browser_unauthenticated`. A production instance uses its cookies
 * instead and has no dev browsers.
 * @module
 */
import { randomBytes } from "node:crypto"

/** `"development"` (a `pk_test_` key, dev-browser tokens) or `"production"` (a `pk_live_` key). */
export type InstanceType = "development" | "production"

/** The instance kinds, for flags and options. */
export const instanceTypes: readonly InstanceType[] = ["development", "production"]

/** The query parameter (and clerk-js's cookie) that carries the dev-browser token. */
export const DEV_BROWSER_PARAM = "__clerk_db_jwt"

/** At most this many dev-browser tokens are kept; beyond, the oldest is forgotten. */
export const maxDevBrowsers = 10_000

/**
 * The publishable key of a Frontend API at `url` (`http://127.0.0.1:4000`):
 * `pk_test_`/`pk_live_` + base64 of `host[:port]$`, as Clerk builds them.
 */
export const publishableKeyFor = (instance: InstanceType, url: string): string => {
  const { host } = new URL(url)
  const prefix = instance === "development" ? "pk_test_" : "pk_live_"
  return `${prefix}${Buffer.from(`${host}$`, "utf8").toString("base64")}`
}

/** Why a request's dev-browser token was not accepted. */
export type DevBrowserProblem = "missing" | "unknown"

/** The dev-browser tokens one development instance has issued. */
export class DevBrowsers {
  readonly #tokens = new Set<string>()

  /** Issues a new token, as `POST /v1/dev_browser` does. */
  create(): string {
    const token = `dvb_${randomBytes(18).toString("base64url")}`
    this.#tokens.add(token)
    if (this.#tokens.size > maxDevBrowsers) {
      const oldest = this.#tokens.values().next().value
      if (oldest !== undefined) this.#tokens.delete(oldest)
    }
    return token
  }

  /** `undefined` if `token` is one this instance issued; else what is wrong with it. */
  check(token: string | null): DevBrowserProblem | undefined {
    if (token === null || token === "") return "missing"
    return this.#tokens.has(token) ? undefined : "unknown"
  }

  /** Forgets every token (a server reset that forgets sessions). */
  clear(): void {
    this.#tokens.clear()
  }

  /** How many tokens are kept. */
  get size(): number {
    return this.#tokens.size
  }
}
