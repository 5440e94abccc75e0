/**
 * The demo page as a Clerk app on a development instance, without clerk-js:
 * it does clerk-js's part itself. It gets a dev-browser token from the
 * Frontend API (`POST /v1/dev_browser`) and keeps it where clerk-js does — the
 * `__clerk_db_jwt` cookie and the key's own `__clerk_db_jwt_<suffix>` — and
 * tok's `clerkFrontendApi({ publishableKey })` reads it from there, as it
 * would next to clerk-js.
 * @module
 */
import { clerkFrontendApi, parsePublishableKey, type Source } from "@tok/core"
import type { DemoConfig } from "./demo.ts"

type Fetch = (input: string, init?: RequestInit) => Promise<Response>

/** Where cookies are read and written: `document.cookie` in the page. */
export interface CookieJar {
  readonly get: () => string
  readonly set: (cookie: string) => void
}

const documentJar: CookieJar = {
  get: () => document.cookie,
  set: (cookie) => {
    document.cookie = cookie
  },
}

/** clerk-js's dev-browser cookie. */
export const DEV_BROWSER_COOKIE = "__clerk_db_jwt"

/**
 * The suffix clerk-js gives its cookies for a key, so two apps on one host
 * (cookies ignore ports) keep theirs apart: the first 8 characters of the
 * URL-safe base64 of the key's SHA-1.
 */
export const cookieSuffix = async (publishableKey: string): Promise<string> => {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(publishableKey))
  let binary = ""
  for (const byte of new Uint8Array(digest)) binary += String.fromCharCode(byte)
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").slice(0, 8)
}

const readCookie = (cookies: string, name: string): string | undefined => {
  for (const part of cookies.split(";")) {
    const [key, ...value] = part.trim().split("=")
    if (key === name && value.length > 0) return decodeURIComponent(value.join("="))
  }
  return undefined
}

/**
 * Sets the dev browser up, as clerk-js does: the key's own cookie if the
 * browser has one; otherwise a new token from `POST /v1/dev_browser`, kept in
 * both cookies for a year. Resolves the token; `null` for a production key
 * (no dev browser there).
 */
export const setupDevBrowser = async (
  publishableKey: string,
  fetchFn: Fetch = fetch,
  jar: CookieJar = documentJar,
): Promise<string | null> => {
  const key = parsePublishableKey(publishableKey)
  if (key.instanceType === "production") return null
  const suffixed = `${DEV_BROWSER_COOKIE}_${await cookieSuffix(publishableKey)}`
  const kept = readCookie(jar.get(), suffixed)
  if (kept !== undefined) return kept
  let res: Response
  try {
    res = await fetchFn(`${key.frontendApiUrl}/v1/dev_browser`, { method: "POST" })
  } catch {
    throw new Error("The dev browser could not be set up: the token server could not be reached")
  }
  const body = (await res.json().catch(() => null)) as { id?: unknown } | null
  if (!res.ok || typeof body?.id !== "string" || body.id === "") {
    throw new Error(`The dev browser could not be set up: HTTP ${res.status}`)
  }
  const attributes = `; Path=/; Max-Age=31536000; SameSite=Lax${
    key.frontendApiUrl.startsWith("https:") ? "; Secure" : ""
  }`
  for (const name of [suffixed, DEV_BROWSER_COOKIE]) {
    jar.set(`${name}=${encodeURIComponent(body.id)}${attributes}`)
  }
  return body.id
}

/**
 * The page's tok source: `clerkFrontendApi({ publishableKey })` once the dev
 * browser is set up (tok reads its token from the cookie before each
 * request), or on the token server's URL when the config has no key.
 */
export const demoSource = async (
  config: DemoConfig,
  fetchFn: Fetch = fetch,
  jar: CookieJar = documentJar,
): Promise<Source> => {
  if (config.publishableKey === undefined) return clerkFrontendApi({ baseUrl: config.tokenServer })
  await setupDevBrowser(config.publishableKey, fetchFn, jar)
  return clerkFrontendApi({ publishableKey: config.publishableKey })
}
