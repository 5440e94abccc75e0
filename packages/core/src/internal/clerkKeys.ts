/**
 * Clerk's publishable keys and dev-browser token, for `clerkFrontendApi`.
 *
 * A publishable key is `pk_test_` (a development instance) or `pk_live_` (a
 * production one) followed by the base64 of the Frontend API host and a `$`.
 * The host becomes an `https:` URL — except a loopback host (`localhost`,
 * `*.localhost`, `127.x.x.x`, `[::1]`), which becomes `http:`: Clerk never
 * serves a Frontend API there, so such a key names a local stand-in (tok's
 * dev server, a test double), and traffic to it never leaves the machine.
 *
 * A development instance authenticates the browser with a dev-browser token,
 * which clerk-js keeps in the `__clerk_db_jwt` cookie (and, since it can tell
 * two apps on one host apart, in `__clerk_db_jwt_<suffix>` too, the suffix
 * derived from the key). tok reads it; it never creates or writes it.
 * @internal
 */
import { InvalidOptionsError } from "../TokenError.ts"
import { decodeBase64UrlToString } from "./base64url.ts"
import { quoted } from "./redact.ts"

/** What a publishable key says. */
export interface PublishableKey {
  /** `pk_test_` keys are development instances, `pk_live_` keys production ones. */
  readonly instanceType: "development" | "production"
  /** The Frontend API as the key holds it: a host, maybe with a port and a path. */
  readonly frontendApi: string
  /** The Frontend API's base URL: `https://` + host, or `http://` for a loopback host. */
  readonly frontendApiUrl: string
}

const PREFIXES = { pk_test_: "development", pk_live_: "production" } as const

const invalid = (detail: string) => new InvalidOptionsError({ detail })

/** Standard base64 (what Clerk's keys use), padded or not; `undefined` if it is not. */
const decodeBase64 = (input: string): string | undefined => {
  const match = /^([A-Za-z0-9+/]*)(={0,2})$/.exec(input)
  if (match === null) return undefined
  const [, body = "", padding = ""] = match
  if (padding.length > 0 && (body.length + padding.length) % 4 !== 0) return undefined
  return decodeBase64UrlToString(body.replace(/\+/g, "-").replace(/\//g, "_"))
}

/** `host[:port]` of a name or an IP, IPv6 in brackets. */
const AUTHORITY = /^(?:[a-z\d]+(?:(?:-+|\.)[a-z\d]+)*\.?|\[[\da-f:.]+\])(?::\d{1,5})?$/i

/** A path of plain URL characters: no query, fragment, backslash, space or control character. */
const PATH = /^[\w.~!$&'()*+,;=:@%/-]*$/

/** Whether a URL's hostname is a loopback address or name. */
export const isLoopbackHost = (hostname: string): boolean => {
  const host = hostname.toLowerCase().replace(/\.$/, "")
  return (
    host === "localhost" ||
    host.endsWith(".localhost") ||
    host === "[::1]" ||
    /^127(\.\d{1,3}){3}$/.test(host)
  )
}

/**
 * The Frontend API base URL of a key's host: `https:`, or `http:` for a
 * loopback host; without a trailing slash. An `InvalidOptionsError` if the
 * host is not one.
 */
const frontendApiUrl = (frontendApi: string): string | InvalidOptionsError => {
  const slash = frontendApi.indexOf("/")
  const authority = slash === -1 ? frontendApi : frontendApi.slice(0, slash)
  const path = slash === -1 ? "" : frontendApi.slice(slash)
  const bad = (why: string) => invalid(`publishableKey's host ${quoted(frontendApi)} ${why}`)
  if (frontendApi.includes("://")) return bad("has a scheme")
  if (!AUTHORITY.test(authority) || !PATH.test(path) || !URL.canParse(`http://${authority}`)) {
    return bad("is not a host name")
  }
  const url = new URL(`http://${authority}`)
  const scheme = isLoopbackHost(url.hostname) ? "http:" : "https:"
  const port = url.port === "" ? "" : `:${url.port}`
  return `${scheme}//${url.hostname}${port}${path.replace(/\/+$/, "")}`
}

/**
 * Reads a publishable key; an `InvalidOptionsError` that says what is wrong
 * (never echoing the key) if it is not one.
 */
export const parsePublishableKey = (key: unknown): PublishableKey | InvalidOptionsError => {
  if (typeof key !== "string" || key.trim().length === 0) {
    return invalid("publishableKey must be a non-empty string (pk_test_… or pk_live_…)")
  }
  // A key pasted from an .env file often brings a newline along.
  const trimmed = key.trim()
  const prefix = trimmed.slice(0, 8)
  if (prefix !== "pk_test_" && prefix !== "pk_live_") {
    return invalid(
      /^sk_(test|live)_/.test(trimmed)
        ? "publishableKey is a secret key (sk_…): never put one in browser code; use the pk_… key"
        : "publishableKey must start with pk_test_ or pk_live_",
    )
  }
  const decoded = decodeBase64(trimmed.slice(8))
  if (decoded === undefined || decoded.length === 0) {
    return invalid("publishableKey is not base64 after pk_test_/pk_live_ (copy the whole key)")
  }
  if (!decoded.endsWith("$") || decoded.length === 1) {
    return invalid("publishableKey does not decode to a host ending in $ (is it cut short?)")
  }
  const frontendApi = decoded.slice(0, -1)
  const url = frontendApiUrl(frontendApi)
  if (url instanceof InvalidOptionsError) return url
  return { instanceType: PREFIXES[prefix], frontendApi, frontendApiUrl: url }
}

/** The name of clerk-js's dev-browser cookie. */
export const DEV_BROWSER_COOKIE = "__clerk_db_jwt"

/**
 * The suffix clerk-js gives its cookies for one key: the first 8 characters
 * of the URL-safe base64 of the key's SHA-1. `undefined` where there is no
 * WebCrypto (an insecure context).
 */
export const cookieSuffix = async (publishableKey: string): Promise<string | undefined> => {
  const subtle = globalThis.crypto?.subtle
  if (subtle === undefined) return undefined
  try {
    const digest = new Uint8Array(
      await subtle.digest("SHA-1", new TextEncoder().encode(publishableKey)),
    )
    let binary = ""
    for (const byte of digest) binary += String.fromCharCode(byte)
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").slice(0, 8)
  } catch {
    return undefined
  }
}

/** A cookie's value from `document.cookie`-style text; `undefined` if absent or empty. */
export const readCookie = (cookies: string, name: string): string | undefined => {
  for (const part of cookies.split(";")) {
    const eq = part.indexOf("=")
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue
    const raw = part.slice(eq + 1).trim()
    let value: string
    try {
      value = decodeURIComponent(raw)
    } catch {
      value = raw
    }
    return value === "" ? undefined : value
  }
  return undefined
}

/** `document.cookie` where there is a document, else `undefined`. */
export const documentCookies = (): string | undefined => {
  const doc = (globalThis as { document?: { cookie?: unknown } }).document
  return typeof doc?.cookie === "string" ? doc.cookie : undefined
}

/** Whether a dev-browser token can go into a URL as it is: a short, plain string. */
export const isUsableDevBrowserToken = (value: unknown): value is string =>
  typeof value === "string" &&
  value.length > 0 &&
  value.length <= 4096 &&
  /^[\x21-\x7e]+$/.test(value)

/** A failure of the app's own code met inside a request, to be passed on as a defect. */
export class AppDefect {
  readonly defect: unknown
  constructor(defect: unknown) {
    this.defect = defect
  }
}

/**
 * For `Effect.tryPromise`'s `catch`: throws the app's defect (so the effect
 * dies with it), and returns `undefined` for anything else.
 */
export const rethrowAppDefect = (cause: unknown): undefined => {
  if (cause instanceof AppDefect) throw cause.defect
  return undefined
}

/** A function giving the current dev-browser token, or nothing. */
export type DevBrowserToken = () =>
  string | null | undefined | PromiseLike<string | null | undefined>

/** Checks the `devBrowserToken` option: a function, a usable string, or absent. */
export const checkDevBrowserToken = (value: unknown): DevBrowserToken | undefined => {
  if (value === undefined) return undefined
  if (typeof value === "function") return value as DevBrowserToken
  if (isUsableDevBrowserToken(value)) return () => value
  throw new InvalidOptionsError({
    detail: "devBrowserToken must be a function or a URL-safe string",
  })
}

/** `proxyUrl`: an http(s) URL, or a path resolved against the page; without a trailing slash. */
export const checkProxyUrl = (proxyUrl: unknown): string => {
  const problem = "proxyUrl must be an http(s) URL, or a path such as /__clerk"
  if (typeof proxyUrl !== "string" || proxyUrl.length === 0) {
    throw new InvalidOptionsError({ detail: problem })
  }
  let url: URL
  if (proxyUrl.startsWith("/") && !proxyUrl.startsWith("//")) {
    const origin = (globalThis as { location?: { origin?: unknown } }).location?.origin
    if (typeof origin !== "string" || !URL.canParse(proxyUrl, origin)) {
      throw new InvalidOptionsError({ detail: "a relative proxyUrl needs a page: give a full URL" })
    }
    url = new URL(proxyUrl, origin)
  } else if (/^https?:\/\//i.test(proxyUrl) && URL.canParse(proxyUrl)) {
    url = new URL(proxyUrl)
  } else {
    throw new InvalidOptionsError({ detail: problem })
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    throw new InvalidOptionsError({ detail: "proxyUrl must not have a query, hash or user" })
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`
}

/** The default dev-browser token: clerk-js's cookie, the key's suffixed one first. */
export const cookieToken = (publishableKey: string): DevBrowserToken => {
  let suffix: Promise<string | undefined> | undefined
  return async () => {
    const cookies = documentCookies()
    if (cookies === undefined) return undefined
    const name = DEV_BROWSER_COOKIE
    const end = await (suffix ??= cookieSuffix(publishableKey))
    return (
      (end === undefined ? undefined : readCookie(cookies, `${name}_${end}`)) ??
      readCookie(cookies, name)
    )
  }
}
