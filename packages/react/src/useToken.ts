// Context and hooks: a client module for React Server Components, so a server
// component can import @tok/react (the core, the types) without evaluating them.
"use client"
import {
  type TokClient,
  type TokenState,
  TokenView,
  type TokenWatcher,
  type WatchOptions,
} from "@tok/core"
import {
  createContext,
  createElement,
  useCallback,
  useContext,
  useMemo,
  useSyncExternalStore,
  type Context,
  type ReactNode,
} from "react"

/** The context `TokProvider` fills; `null` outside one. */
export const TokContext: Context<TokClient | null> = createContext<TokClient | null>(null)

/** What `TokProvider` takes. */
export interface TokProviderProps {
  /** The Promise-face client (`createTokenClient`) the tree's hooks use. */
  readonly client: TokClient
  readonly children?: ReactNode
}

/**
 * Makes `client` available to `useToken`, `useSuspenseToken` and `useTokClient` below it.
 *
 * @example
 * ```tsx
 * const tok = createTokenClient({ source: clerkFrontendApi({ baseUrl }), session: "sess_123" })
 * createRoot(root).render(<TokProvider client={tok}><App /></TokProvider>)
 * ```
 */
export const TokProvider = ({ client, children }: TokProviderProps): ReactNode =>
  createElement(TokContext.Provider, { value: client }, children)

/** The client of the nearest `TokProvider`; throws when there is none. */
export const useTokClient = (): TokClient => {
  const client = useContext(TokContext)
  if (client === null) {
    throw new Error("@tok/react: no tok client here; wrap the tree in <TokProvider client={…}>")
  }
  return client
}

/** `useToken` options: the watched key, and whether to watch it at all. */
export interface UseTokenOptions extends WatchOptions {
  /** `false` watches nothing: no request, status `"loading"`, no token. Default `true`. */
  readonly enabled?: boolean | undefined
}

/** What `useToken` returns: the key's state, and `refresh` and `whenReady`. */
export interface UseTokenResult extends TokenView.TokenView {
  /** A `skipCache` fetch of the key; resolves once its result is in the store. Never rejects. */
  readonly refresh: () => Promise<void>
  /**
   * The JWT once the key is not loading, `null` when signed out; rejects with
   * the `TokenError`. Resolves `null` at once on the server and while disabled.
   */
  readonly whenReady: () => Promise<string | null>
}

/**
 * What a hook shows on the server, during hydration and while disabled: the
 * core's `loading` without a token, the same object every time, so hydration matches.
 */
const OFF: TokenState = TokenView.initialState
const off = () => OFF
const noop = () => undefined

/** One watch handle per key: an equal options object gives the same handle. */
const useWatcher = (client: TokClient, options: WatchOptions | undefined, enabled: boolean) => {
  const { template, organizationId, expirationBuffer, sessionId } = options ?? {}
  return useMemo(
    () =>
      enabled ? client.watch({ template, organizationId, expirationBuffer, sessionId }) : null,
    [client, enabled, template, organizationId, expirationBuffer, sessionId],
  )
}

/** The handle's state through `useSyncExternalStore`, plus the shape's functions. */
const useWatched = (watcher: TokenWatcher | null) => {
  const subscribe = useCallback(
    (onChange: () => void) => {
      if (watcher === null) return noop
      let live = true
      const stop = watcher.subscribe(() => {
        if (live) onChange()
      })
      // Let go a microtask later: a handle taking over the same key (StrictMode's
      // second mount, the same key spelled another way) subscribes first, so the
      // key never drops to zero subscribers in between — no refetch, no flash.
      return () => {
        live = false
        queueMicrotask(stop)
      }
    },
    [watcher],
  )
  const getSnapshot = useCallback(() => (watcher === null ? OFF : watcher.getSnapshot()), [watcher])
  // The server snapshot is OFF: the server never subscribes, so it requests nothing.
  const state = useSyncExternalStore(subscribe, getSnapshot, off)
  const refresh = useCallback(
    () => (watcher === null ? Promise.resolve() : watcher.refresh()),
    [watcher],
  )
  const ready = useCallback(
    () =>
      watcher === null || typeof window === "undefined"
        ? Promise.resolve(null)
        : TokenView.whenReady(watcher),
    [watcher],
  )
  return { state, refresh, ready }
}

const useResult = (
  state: TokenState,
  refresh: () => Promise<void>,
  ready: () => Promise<string | null>,
): UseTokenResult =>
  useMemo(
    () => ({ ...TokenView.fromState(state), refresh, whenReady: ready }),
    [state, refresh, ready],
  )

/**
 * Watches one key (`template`, `organizationId`, …) and keeps its token fresh
 * while the component is mounted, on `useSyncExternalStore` over the core's
 * watch handle. A re-render with equal options keeps the subscription; other
 * options move it to the new key; `null` or `enabled: false` watches
 * nothing. On the server (and while hydrating) it
 * shows `"loading"` without a token and requests nothing.
 *
 * @example
 * ```tsx
 * const Profile = ({ org }: { org?: string }) => {
 *   const { token, status, error, refresh } = useToken({ template: "supabase", organizationId: org })
 *   if (status === "loading") return <p>Loading…</p>
 *   if (error) return <p>Could not get a token: {error._tag}</p>
 *   return <button onClick={() => refresh()}>{token?.slice(0, 16)}</button>
 * }
 * ```
 */
export const useToken = (options?: UseTokenOptions | null): UseTokenResult => {
  const enabled = options !== null && options?.enabled !== false
  const { state, refresh, ready } = useWatched(
    useWatcher(useTokClient(), options ?? undefined, enabled),
  )
  return useResult(state, refresh, ready)
}

/** A key's first answer, kept for the render that retries after suspending. */
interface Pending {
  readonly promise: Promise<void>
  state?: TokenState
}

/** Per client, per key (and session): what `useSuspenseToken` suspended on. */
const pending = new WeakMap<TokClient, Map<string, Pending>>()

const suspenseKey = (client: TokClient, options: WatchOptions | undefined): string =>
  JSON.stringify([
    client.session,
    options?.template,
    options?.organizationId,
    options?.expirationBuffer,
    options?.sessionId,
  ])

/** The first state of `watcher` that is not loading; subscribed until then. */
const firstAnswer = (watcher: TokenWatcher): Promise<TokenState> =>
  new Promise((resolve) => {
    const settle = (state: TokenState) => {
      if (state.status === "loading") return
      stop()
      resolve(state)
    }
    const stop = watcher.subscribe(settle)
    settle(watcher.getSnapshot())
  })

/**
 * `useToken` for `<Suspense>`: suspends while the key is loading, so the
 * component renders with a token (or `"signed-out"`, or `"error"` with the
 * `TokenError`). On the server and while hydrating it does not suspend and
 * requests nothing: it shows `"loading"`, as `useToken` does; in the browser
 * it then suspends until the first answer.
 *
 * @example
 * ```tsx
 * const Claims = () => {
 *   const { token } = useSuspenseToken({ template: "supabase" })
 *   return <pre>{token}</pre>
 * }
 * // <Suspense fallback={<p>Loading…</p>}><Claims /></Suspense>
 * ```
 */
export const useSuspenseToken = (options?: WatchOptions): UseTokenResult => {
  const client = useTokClient()
  const watcher = useWatcher(client, options, true) as TokenWatcher
  const { state: live, refresh, ready } = useWatched(watcher)
  const key = suspenseKey(client, options)
  let state = live
  let byKey = pending.get(client)
  if (live.status !== "loading") {
    byKey?.delete(key)
  } else if (live !== OFF) {
    if (byKey === undefined) pending.set(client, (byKey = new Map()))
    const entry = byKey.get(key)
    // The answer the suspended render waited for, until the store has its own
    // (a permanent error is not cached: waiting again would request again).
    if (entry?.state !== undefined && isCurrent(entry.state)) state = entry.state
    else if (entry !== undefined && entry.state === undefined) throw entry.promise
    else {
      const next: Pending = {
        promise: firstAnswer(watcher).then((answer) => void (next.state = answer)),
      }
      byKey.set(key, next)
      throw next.promise
    }
  }
  return useResult(state, refresh, ready)
}

/** A kept answer is shown only while its token (if any) has not expired. */
const isCurrent = (state: TokenState): boolean => {
  const token = state.status === "signed-out" ? undefined : state.token
  return token === undefined || Date.now() < token.expiresAt
}
