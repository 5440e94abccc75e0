/**
 * Everything the demo page needs besides tok itself: its config, the token
 * server's sign-in, sign-out and stats routes, demo-api, and the words and
 * numbers it shows. Framework-free: the three demo apps import it (and
 * `@tok/demo-shared/style.css`) from here. It depends on `@tok/core` alone —
 * the API each adapter re-exports — and never on an adapter.
 * @module
 */
import { Token, type TokenError, type TokenState } from "@tok/core"

/** What `/config.json` (served by `./tools/run demo`) tells the page. */
export interface DemoConfig {
  /** The dev token server's base URL. */
  readonly tokenServer: string
  /** demo-api's base URL. */
  readonly api: string
  /** JWT templates offered besides the session token. */
  readonly templates: readonly string[]
  /** The demo user signed in by default. */
  readonly userId: string
  /** The token server's publishable key (a Clerk development instance: `pk_test_…`), if it has one. */
  readonly publishableKey?: string
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>

const isHttpUrl = (value: unknown): value is string =>
  typeof value === "string" && URL.canParse(value) && /^https?:$/.test(new URL(value).protocol)

/** Checks a parsed `/config.json`; throws an `Error` that says what is wrong. */
export const parseConfig = (input: unknown): DemoConfig => {
  const value = (typeof input === "object" && input !== null ? input : {}) as Record<
    string,
    unknown
  >
  if (!isHttpUrl(value.tokenServer)) throw new Error("config.json: tokenServer is not a URL")
  if (!isHttpUrl(value.api)) throw new Error("config.json: api is not a URL")
  const templates = Array.isArray(value.templates) ? value.templates : []
  return {
    tokenServer: value.tokenServer.replace(/\/+$/, ""),
    api: value.api.replace(/\/+$/, ""),
    templates: templates.filter((name): name is string => typeof name === "string" && name !== ""),
    userId: typeof value.userId === "string" && value.userId !== "" ? value.userId : "user_alice",
    ...(typeof value.publishableKey === "string" && /^pk_(test|live)_/.test(value.publishableKey)
      ? { publishableKey: value.publishableKey }
      : {}),
  }
}

/** Loads `/config.json` from the server that serves the page. */
export const loadConfig = async (fetchFn: Fetch = fetch): Promise<DemoConfig> => {
  let res: Response
  try {
    res = await fetchFn("/config.json", { cache: "no-store" })
  } catch {
    throw new Error("The demo's config could not be loaded: start the demo with ./tools/run demo")
  }
  if (!res.ok) {
    throw new Error(
      `The demo's config answered HTTP ${res.status}: start the demo with ./tools/run demo`,
    )
  }
  return parseConfig(await res.json())
}

const clerkError = async (res: Response): Promise<string> => {
  try {
    const body = (await res.json()) as { errors?: Array<{ message?: string }> }
    return body.errors?.[0]?.message ?? `HTTP ${res.status}`
  } catch {
    return `HTTP ${res.status}`
  }
}

/** Signs a user in on the token server (`POST /v1/client/sessions`); resolves the session id. */
export const signIn = async (
  config: DemoConfig,
  userId: string,
  fetchFn: Fetch = fetch,
): Promise<string> => {
  let res: Response
  try {
    res = await fetchFn(`${config.tokenServer}/v1/client/sessions`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ user_id: userId }).toString(),
    })
  } catch {
    throw new Error("Sign-in failed: the token server could not be reached")
  }
  if (!res.ok) throw new Error(`Sign-in failed: ${await clerkError(res)}`)
  const session = (await res.json()) as { id?: unknown }
  if (typeof session.id !== "string") throw new Error("Sign-in failed: no session id in the answer")
  return session.id
}

/** Ends a session on the token server (`DELETE /v1/client/sessions/:id`). */
export const signOut = async (
  config: DemoConfig,
  sessionId: string,
  fetchFn: Fetch = fetch,
): Promise<void> => {
  const res = await fetchFn(
    `${config.tokenServer}/v1/client/sessions/${encodeURIComponent(sessionId)}`,
    { method: "DELETE" },
  )
  if (!res.ok && res.status !== 404) throw new Error(`Sign-out failed: ${await clerkError(res)}`)
}

/** How many token requests the server has seen: for one session, and in all. */
export interface RequestCounts {
  readonly session: number | null
  readonly total: number
  /** Tabs sharing this session's tokens, this one included. */
  readonly tabs?: number | undefined
  /** Where the session token shown came from (`Token.source`). */
  readonly tokenSource?: "cache" | "network" | "peer" | undefined
}

/**
 * Reads the token server's counters: the totals from `GET /__tok/stats`, and this
 * session's from `GET /__tok/stats?session=<id>` (the open stats list no session
 * ids: those are for the secret key only).
 */
export const tokenRequests = async (
  config: DemoConfig,
  sessionId: string | null,
  fetchFn: Fetch = fetch,
): Promise<RequestCounts> => {
  const read = async (query: string) => {
    const res = await fetchFn(`${config.tokenServer}/__tok/stats${query}`, { cache: "no-store" })
    if (!res.ok) throw new Error(`stats: HTTP ${res.status}`)
    return (await res.json()) as { tokenRequests?: number }
  }
  const [all, mine] = await Promise.all([
    read(""),
    sessionId === null ? null : read(`?session=${encodeURIComponent(sessionId)}`),
  ])
  return {
    session: mine === null ? null : (mine.tokenRequests ?? 0),
    total: all.tokenRequests ?? 0,
  }
}

/**
 * "3 for this session · 5 in all", then " · 4 tabs sharing" when tabs share
 * tokens and " · token from another tab" (the shown token's `source`).
 */
export const describeCounts = (counts: RequestCounts | null): string =>
  counts === null
    ? "—"
    : (counts.session === null
        ? `${counts.total} in all`
        : `${counts.session} for this session · ${counts.total} in all`) +
      (counts.tabs !== undefined && counts.tabs > 1 ? ` · ${counts.tabs} tabs sharing` : "") +
      (counts.tokenSource === undefined ? "" : ` · token from ${SOURCE_WORDS[counts.tokenSource]}`)

const SOURCE_WORDS = { cache: "the cache", network: "the network", peer: "another tab" } as const

/** What demo-api answered. */
export interface ApiAnswer {
  readonly status: number
  readonly body: unknown
  /** Getting the token failed, so demo-api was never called. */
  readonly noToken?: boolean | undefined
}

/** Calls demo-api's `GET /api/profile`, with `Authorization: Bearer` when there is a token. */
export const callApi = async (
  config: DemoConfig,
  jwt: string | null,
  fetchFn: Fetch = fetch,
): Promise<ApiAnswer> => {
  try {
    const res = await fetchFn(`${config.api}/api/profile`, {
      headers: jwt === null ? {} : { Authorization: `Bearer ${jwt}` },
    })
    return { status: res.status, body: await res.json().catch(() => null) }
  } catch {
    return {
      status: 0,
      body: { error: { code: "unreachable", message: "demo-api could not be reached" } },
    }
  }
}

/** What the API card shows: the answer in words, and how it reads. */
export interface ApiView {
  /** One line: "✓ 200 OK — …", "✕ 401 Refused — …", "✕ Could not get a token — …". */
  readonly text: string
  /** `ok` for a 2xx; `bad` otherwise. */
  readonly tone: "ok" | "bad"
}

const TOKEN_FROM_WORDS: Record<string, string> = {
  network: "had just fetched from the token server",
  cache: "had cached",
  peer: "got from another demo-api instance (shared through Redis)",
}

/**
 * demo-api's answer in words. `shown` is the template the page shows (`""`:
 * the session token): the call always sends the session token, and the card
 * says so when another template is shown. A `noToken` answer failed before
 * demo-api was called.
 */
export const describeApiAnswer = (answer: ApiAnswer, shown = ""): ApiView => {
  const body = (answer.body ?? {}) as {
    user?: string
    instance?: string
    tokenSource?: string
    downstream?: { template?: string; tokenFrom?: string }
    error?: { message?: string }
  }
  if (answer.noToken === true) {
    return {
      text: `✕ Could not get a token — demo-api was not called: ${body.error?.message ?? "no details"}`,
      tone: "bad",
    }
  }
  const sent =
    shown === ""
      ? "Sent the session token shown above"
      : `Sent the session token (not the ${shown} token shown above: demo-api takes session tokens)`
  if (answer.status >= 200 && answer.status < 300) {
    const downstream = body.downstream
    const template = downstream?.template ?? "template"
    const from = TOKEN_FROM_WORDS[downstream?.tokenFrom ?? ""]
    const fleet =
      body.instance === undefined
        ? ""
        : ` Answered by instance ${body.instance}${
            body.tokenSource === undefined ? "" : ` (its token: ${body.tokenSource})`
          }.`
    return {
      text: `✓ ${answer.status} OK — ${body.user ?? "?"}'s notes. ${sent}; demo-api read the notes with a ${template} token it ${
        from ?? "got for this session"
      }.${fleet}`,
      tone: "ok",
    }
  }
  const word =
    answer.status === 0
      ? "No answer"
      : answer.status < 500
        ? `${answer.status} Refused`
        : `${answer.status} Server error`
  return { text: `✕ ${word} — ${body.error?.message ?? "no details"}`, tone: "bad" }
}

/** The JWT shortened for display: its start and its end. */
export const shortJwt = (jwt: string): string =>
  jwt.length <= 32 ? jwt : `${jwt.slice(0, 18)}…${jwt.slice(-10)}`

/** A claim of the token, ready to show. */
export interface ClaimRow {
  readonly name: string
  readonly value: string
}

const timeClaims = new Set(["iat", "nbf", "exp", "auth_time"])

const clock = (epochSeconds: number): string =>
  new Date(epochSeconds * 1000).toLocaleTimeString("en-GB", { hour12: false })

/** The decoded claims of a JWT, standard ones first; times also as clock time. */
export const claimRows = (jwt: string | null): ClaimRow[] => {
  if (jwt === null) return []
  const claims = Token.decodeClaims(jwt)
  if (!("iat" in claims)) return [{ name: "(undecodable)", value: claims.detail }]
  const order = ["sub", "sid", "azp", "iss", "aud", "org_id", "iat", "nbf", "exp", "jti"]
  const names = Object.keys(claims).sort((a, b) => {
    const ia = order.indexOf(a)
    const ib = order.indexOf(b)
    return (ia === -1 ? order.length : ia) - (ib === -1 ? order.length : ib) || a.localeCompare(b)
  })
  return names.map((name) => {
    const value = claims[name]
    if (timeClaims.has(name) && typeof value === "number") {
      return { name, value: `${value} (${clock(value)})` }
    }
    return { name, value: typeof value === "string" ? value : JSON.stringify(value) }
  })
}

/**
 * Time left until `expiresAt`: "42 s", "1 min 05 s", "expired", or "—" without
 * a token. With `lifetimeMs`, never more than the lifetime (a clock read
 * just before the token arrived would show 16 s for a 15 s token).
 */
export const countdown = (expiresAt: number | null, now: number, lifetimeMs?: number): string => {
  if (expiresAt === null) return "—"
  const left = Math.min(expiresAt - now, lifetimeMs ?? Infinity)
  if (left <= 0) return "expired"
  const seconds = Math.ceil(left / 1000)
  if (seconds < 60) return `${seconds} s`
  return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, "0")} s`
}

/** A JWT's lifetime (`exp − iat`) in ms, or `undefined` when it cannot be decoded. */
export const lifetimeOf = (jwt: string | null): number | undefined => {
  if (jwt === null) return undefined
  const claims = Token.decodeClaims(jwt)
  return "iat" in claims ? (claims.exp - claims.iat) * 1000 : undefined
}

/**
 * What the countdown is measured against: "of a 20 s token · not handed out
 * in its last 5 s (buffer) · refreshed before that".
 */
export const describeLifetime = (jwt: string | null, bufferSeconds: number): string => {
  const lifetime = lifetimeOf(jwt)
  if (lifetime === undefined) return ""
  return `of a ${Math.round(lifetime / 1000)} s token · not handed out in its last ${bufferSeconds} s (the buffer), so tok refreshes it before that`
}

/**
 * "This page: 3 token requests (1 retry)", then " · 4 tabs sharing" when tabs
 * share tokens and " · token from another tab" (the shown token's `source`).
 */
export const describeRequests = (
  requests: number,
  retries: number,
  counts: RequestCounts | null,
): string =>
  `This page: ${requests} token request${requests === 1 ? "" : "s"}${
    retries === 0 ? "" : ` (${retries} ${retries === 1 ? "retry" : "retries"})`
  }` +
  (counts?.tabs !== undefined && counts.tabs > 1 ? ` · ${counts.tabs} tabs sharing` : "") +
  (counts?.tokenSource === undefined ? "" : ` · token from ${SOURCE_WORDS[counts.tokenSource]}`)

/** The status as a word. */
export const statusLabel = (status: TokenState["status"]): string =>
  ({ "signed-out": "Signed out", loading: "Getting a token…", ready: "Ready", error: "Error" })[
    status
  ]

/**
 * A `TokenError` the way people read it. A watched token is retried by tok on
 * its own (after the longest backoff), so most errors say "retrying".
 */
export const describeError = (error: TokenError): string => {
  switch (error._tag) {
    case "TokenUnavailableError": {
      const detail = `${error.status === undefined ? "" : `HTTP ${error.status}, `}${error.attempts} attempts`
      switch (error.reason) {
        case "server":
          return `Token server unavailable — retrying (${detail})`
        case "network":
          return `Can't reach the token server — retrying (${detail})`
        case "timeout":
          return `The token server is not answering — retrying (${detail})`
        case "rate-limited":
          return `The token server is rate-limiting us — retrying${
            error.retryAfterMs === undefined ? "" : ` in ${Math.ceil(error.retryAfterMs / 1000)} s`
          }`
      }
      break
    }
    case "NotSignedInError":
      return "The session has ended — sign in again"
    case "TemplateNotFoundError":
      return `The token server has no template "${error.template}"`
    case "TokenRequestError":
      if (error.code === "dev_browser_unauthenticated") {
        return "The token server does not know this browser (its dev-browser token is missing or stale) — clear this site's cookies and reload"
      }
      return `The token server refused the request (HTTP ${error.status}${
        error.code === undefined ? "" : `, ${error.code}`
      })`
    case "MalformedTokenError":
      return "The token server sent a token that cannot be used — retrying"
    case "InvalidOptionsError":
      return `Invalid options: ${error.detail}`
  }
  return "Something went wrong — retrying"
}
