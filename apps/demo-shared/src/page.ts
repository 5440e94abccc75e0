/**
 * The demo page's controller: what the three pages do besides showing the
 * token — signing in and out on the token server, the countdown's clock, the
 * token-request counters, calling demo-api. Framework-free, with the same
 * contract as tok's adapters: `getSnapshot()` and `subscribe(listener)`. Each
 * page maps it onto its framework's reactivity, `start()`s it when mounted and
 * `stop()`s it when destroyed; the token itself stays with the page's adapter.
 * @module
 */
import { isTokenError, type TokClient } from "@tok/core"
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
  /** demo-api's last answer; cleared by a sign-in. */
  readonly api: ApiAnswer | null
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
}

/** What the controller needs. */
export interface DemoPageOptions {
  readonly config: DemoConfig
  /** The page's tok client: its session is the page's. */
  readonly client: Pick<TokClient, "session" | "setSession" | "onSessionChange"> &
    Partial<Pick<TokClient, "peers" | "watch">>
  /** How demo-api is called; by default `callApi(config, jwt, fetch)`. */
  readonly api?: (jwt: string | null) => Promise<ApiAnswer>
  /** The `fetch` for the token server and demo-api; by default the global one. */
  readonly fetch?: (input: string, init?: RequestInit) => Promise<Response>
  /** Milliseconds between the clock's ticks; 250. */
  readonly tickMs?: number
  /** Milliseconds between the counters' polls; 1000. */
  readonly pollMs?: number
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
      const tick = setInterval(() => update({ now: Date.now() }), options.tickMs ?? 250)
      const polling = setInterval(poll, options.pollMs ?? 1000)
      running = {
        stop: () => {
          clearInterval(tick)
          clearInterval(polling)
          stopSessions()
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
      } catch (failure) {
        update({ notice: messageOf(failure) })
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
        update({ sessionId: client.session, busy: false })
      }
    },
    callApi: async (jwt = null) => {
      try {
        update({ api: await api(await jwt) })
      } catch (failure) {
        update({ api: { status: 0, body: { error: { message: messageOf(failure) } } } })
      }
    },
  }
}
