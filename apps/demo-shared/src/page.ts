/**
 * The demo page's controller: what the three pages do besides showing the
 * token — signing in and out on the token server, the countdown's clock, the
 * token-request counters, calling demo-api. Framework-free, with the same
 * contract as tok's adapters: `getSnapshot()` and `subscribe(listener)`. Each
 * page maps it onto its framework's reactivity, `start()`s it when mounted and
 * `stop()`s it when destroyed; the token itself stays with the page's adapter.
 * @module
 */
import { isTokenError, type TokClient, type TokenEvent } from "@tok/core"
import {
  callApi,
  describeError,
  signIn,
  signOut,
  tokenRequests,
  type ApiAnswer,
  type DemoConfig,
  type RequestCounts,
} from "./demo.ts"
import { trackEvent, type Tracks } from "./status.ts"

/** What the page shows besides the token. */
export interface DemoPageState {
  /** The client's session, followed while started. */
  readonly sessionId: string | null
  /** The user id typed in, signed in by `signIn()`. */
  readonly userId: string
  /** A sign-in or sign-out is under way. */
  readonly busy: boolean
  /** Why the last sign-in or sign-out failed. */
  readonly notice: string | null
  /** The token server's counters, polled every second while started; `null` when they can't be read. */
  readonly counts: RequestCounts | null
  /** demo-api's last answer; cleared by a sign-in and a sign-out, and a "could not get a token" by the next token. */
  readonly api: ApiAnswer | null
  /** A call to demo-api is under way. */
  readonly apiPending: boolean
  /** Token requests this page's client made (HTTP requests: retries count), from its events. */
  readonly requests: number
  /** How many of `requests` were retries. */
  readonly retries: number
  /** What events tell of each key of the current session (see `describeStatus`). */
  readonly tracks: Tracks
  /** A "Refresh now" is under way (it keeps trying until a new token comes). */
  readonly refreshing: boolean
  /** Why "Refresh now" is still trying, or `null`. */
  readonly refreshNote: string | null
  /** The countdown's clock (epoch ms), ticking every 250 ms while started. */
  readonly now: number
}

/** The page's controller. */
export interface DemoPage {
  /** The current state; a new object after every change. */
  readonly getSnapshot: () => DemoPageState
  /** Calls `listener` after every change; returns the unsubscribe function. */
  readonly subscribe: (listener: () => void) => () => void
  /** Follows the client's session and starts the clock and the counters' poll. */
  readonly start: () => void
  /** Stops all of it; answers still on their way are dropped. */
  readonly stop: () => void
  /** Sets the user id to sign in. */
  readonly setUserId: (userId: string) => void
  /** Signs the typed user in on the token server, then hands the session to the client. */
  readonly signIn: () => Promise<void>
  /** Ends the session on the token server, and on the client whatever the server said. */
  readonly signOut: () => Promise<void>
  /**
   * Calls demo-api with `jwt`, or what it resolves to; a rejection (a
   * `TokenError`) is shown as an answer too. Without `jwt`, the request is
   * sent bare — unless `Options.api` adds the token itself.
   */
  readonly callApi: (jwt?: string | null | Promise<string | null>) => Promise<void>
  /**
   * "Refresh now": calls `refresh` (the adapter's) until `read()` shows a JWT
   * other than the one before — during an outage it tries again every few
   * seconds (up to 2 min) — so the click ends in a fresh token once the
   * server is back. Stops on a session change or `stop()`.
   */
  readonly refreshNow: (refresh: () => Promise<unknown>, read: () => string | null) => Promise<void>
}

/** What the controller needs. */
export interface DemoPageOptions {
  readonly config: DemoConfig
  /** The page's tok client: its session is the page's. */
  readonly client: Pick<TokClient, "session" | "setSession" | "onSessionChange"> &
    Partial<Pick<TokClient, "peers" | "watch" | "events">>
  /** How demo-api is called; by default `callApi(config, jwt, fetch)`. */
  readonly api?: (jwt: string | null) => Promise<ApiAnswer>
  /** The `fetch` for the token server and demo-api; by default the global one. */
  readonly fetch?: (input: string, init?: RequestInit) => Promise<Response>
  /** Milliseconds between the clock's ticks; 250. */
  readonly tickMs?: number
  /** Milliseconds between the counters' polls; 1000. */
  readonly pollMs?: number
  /** Milliseconds "Refresh now" first waits before trying again; 2000, doubling up to 8000. */
  readonly refreshRetryMs?: number
}

/**
 * Moves the keyboard focus to the element with `data-testid` `testId` once
 * the framework has rendered it enabled (within about a second), so focus
 * never drops to `<body>` when the button that had it is disabled.
 */
export const focusSoon = (testId: string): void => {
  if (typeof document === "undefined") return
  let tries = 0
  const attempt = () => {
    // The page may be gone meanwhile (a test's document torn down): then nothing to focus.
    try {
      if (typeof document === "undefined") return
      const element = document.querySelector<HTMLElement>(`[data-testid="${testId}"]`)
      if (element !== null && !(element as HTMLButtonElement).disabled) {
        element.focus()
        return
      }
    } catch {
      return
    }
    if (++tries < 60) setTimeout(attempt, 16)
  }
  setTimeout(attempt, 0)
}

const messageOf = (failure: unknown): string =>
  isTokenError(failure)
    ? describeError(failure)
    : failure instanceof Error
      ? failure.message
      : String(failure)

/**
 * Makes the page's controller.
 * @example
 * const page = createDemoPage({ config, client })
 * const stopListening = page.subscribe(() => render(page.getSnapshot()))
 * page.start()
 * // on teardown:
 * stopListening()
 * page.stop()
 */
export const createDemoPage = (options: DemoPageOptions): DemoPage => {
  const { config, client } = options
  const api = options.api ?? ((jwt) => callApi(config, jwt, options.fetch))
  const listeners = new Set<() => void>()
  let state: DemoPageState = {
    sessionId: client.session,
    userId: config.userId,
    busy: false,
    notice: null,
    counts: null,
    api: null,
    apiPending: false,
    requests: 0,
    retries: 0,
    tracks: {},
    refreshing: false,
    refreshNote: null,
    now: Date.now(),
  }
  const update = (change: Partial<DemoPageState>) => {
    state = { ...state, ...change }
    for (const listener of listeners) listener()
  }

  let running: { readonly stop: () => void } | null = null
  const sessionToken = client.watch?.()

  const poll = async () => {
    const polled = running
    let counts: RequestCounts | null
    try {
      counts = await tokenRequests(config, state.sessionId, options.fetch)
      // How many tabs share this session's tokens (tok's sharing, DESIGN §7).
      // With other tabs sharing: how many, and where the session token shown
      // came from (read, never subscribed: no request).
      const tabs = (await client.peers?.()) ?? 1
      if (tabs > 1) {
        const shown = sessionToken?.getSnapshot()
        const from = shown !== undefined && "token" in shown ? shown.token?.source : undefined
        counts = { ...counts, tabs, ...(from === undefined ? {} : { tokenSource: from }) }
      }
    } catch {
      counts = null
    }
    if (running !== null && running === polled) update({ counts })
  }

  // Events come synchronously, sometimes while a framework is reading the
  // token (a Svelte `$derived`): they are applied just after, never during.
  const onEvent = (event: TokenEvent) => queueMicrotask(() => applyEvent(event))
  const applyEvent = (event: TokenEvent) => {
    if (running === null) return
    const change: { -readonly [K in keyof DemoPageState]?: DemoPageState[K] } = {}
    if (event.type === "request-started") change.requests = state.requests + 1
    if (event.type === "attempt-failed" && event.retrying) {
      change.requests = state.requests + 1
      change.retries = state.retries + 1
    }
    const tracks = trackEvent(state.tracks, event, client.session)
    if (tracks !== state.tracks) change.tracks = tracks
    // The token is back: a "could not get a token" answer is old news.
    if (
      event.type === "request-ended" &&
      event.token !== undefined &&
      !event.fenced &&
      state.api?.noToken === true
    ) {
      change.api = null
    }
    if (Object.keys(change).length > 0) update(change)
  }

  return {
    getSnapshot: () => state,
    subscribe: (listener) => {
      const wrapped = () => listener()
      listeners.add(wrapped)
      return () => listeners.delete(wrapped)
    },
    start: () => {
      if (running !== null) return
      // `?session=sess_…` opens the page on that session (another tab of it).
      const wanted = new URLSearchParams(globalThis.location?.search ?? "").get("session")
      if (wanted !== null && wanted !== "" && client.session === null) client.setSession(wanted)
      const stopSessions = client.onSessionChange((sessionId) => update({ sessionId }))
      const stopEvents = client.events?.subscribe(onEvent) ?? (() => undefined)
      const tick = setInterval(() => update({ now: Date.now() }), options.tickMs ?? 250)
      const polling = setInterval(poll, options.pollMs ?? 1000)
      running = {
        stop: () => {
          clearInterval(tick)
          clearInterval(polling)
          stopSessions()
          stopEvents()
        },
      }
      update({ sessionId: client.session, now: Date.now() })
      void poll()
    },
    stop: () => {
      running?.stop()
      running = null
    },
    setUserId: (userId) => update({ userId }),
    signIn: async () => {
      update({ busy: true, notice: null })
      try {
        client.setSession(await signIn(config, state.userId.trim(), options.fetch))
        update({ sessionId: client.session, api: null })
        focusSoon("sign-out")
      } catch (failure) {
        update({ notice: messageOf(failure) })
        focusSoon("user-id")
      } finally {
        update({ busy: false })
      }
    },
    signOut: async () => {
      const id = state.sessionId
      if (id === null) return
      update({ busy: true, notice: null })
      try {
        await signOut(config, id, options.fetch)
      } catch (failure) {
        update({ notice: messageOf(failure) })
      } finally {
        // Signed out here whatever the server said: tok clears this session's tokens.
        client.setSession(null)
        update({
          sessionId: client.session,
          busy: false,
          api: null,
          apiPending: false,
          tracks: {},
          refreshNote: null,
        })
        focusSoon("user-id")
      }
    },
    callApi: async (jwt = null) => {
      const session = state.sessionId
      update({ apiPending: true })
      let answer: ApiAnswer | undefined
      let token: string | null
      try {
        token = await jwt
      } catch (failure) {
        token = null
        answer = {
          status: 0,
          body: { error: { code: "no_token", message: messageOf(failure) } },
          noToken: true,
        }
      }
      try {
        answer ??= await api(token)
      } catch (failure) {
        // The Angular page's interceptor fails the request with the TokenError.
        answer = isTokenError(failure)
          ? {
              status: 0,
              body: { error: { code: "no_token", message: messageOf(failure) } },
              noToken: true,
            }
          : { status: 0, body: { error: { message: messageOf(failure) } } }
      }
      // An answer for a session that has ended since is not this page's any more.
      if (state.sessionId !== session) update({ apiPending: false })
      else update({ api: answer, apiPending: false })
    },
    refreshNow: async (refresh, read) => {
      if (state.refreshing) return
      const before = read()
      const session = state.sessionId
      const firstWait = options.refreshRetryMs ?? 2_000
      const started = Date.now()
      const live = () => running !== null && state.sessionId === session
      update({ refreshing: true, refreshNote: null })
      try {
        for (let round = 0; ; round++) {
          await refresh()
          const after = read()
          if (after !== null && after !== before) return
          if (!live() || Date.now() - started > 120_000) return
          const wait = Math.min(firstWait * 2 ** round, 8_000)
          update({
            refreshNote: `No new token yet: the token server did not give one. Trying again in ${Math.round(wait / 1000)} s, until it does.`,
          })
          await new Promise((resolve) => setTimeout(resolve, wait))
          if (!live()) return
          const meanwhile = read()
          if (meanwhile !== null && meanwhile !== before) return
        }
      } finally {
        update({ refreshing: false, refreshNote: null })
      }
    },
  }
}
