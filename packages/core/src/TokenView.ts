/**
 * The one shape every adapter shows (DESIGN §9): `token`, `status`, `error`
 * and `expiresAt` projected from a watched key's `TokenState`, the state a
 * server render and a hydrating browser both show, and `whenReady`, the
 * promise behind Suspense, `onServerPrefetch`, route guards and load
 * functions. Adapters map these onto their framework's reactive types; none
 * of them projects `TokenState` by itself.
 *
 * @example
 * ```ts
 * import { TokenView } from "@tok/core"
 *
 * const watcher = tok.watch({ template: "supabase" })
 * const view = TokenView.fromState(watcher.getSnapshot()) // { token, status, error, expiresAt }
 * const jwt = await TokenView.whenReady(watcher)          // the JWT, or null when signed out
 * ```
 * @module
 */
import type { Token, TokenState } from "./Token.ts"
import type { TokenWatcher, WatchOptions } from "./TokenClient.ts"
import type { TokenError } from "./TokenError.ts"

/** A key's state as adapters show it. */
export interface TokenView {
  /** The JWT, in every status where there is one; `null` otherwise. */
  readonly token: string | null
  /** `"signed-out"`, `"loading"`, `"ready"` or `"error"`. */
  readonly status: TokenState["status"]
  /** The `TokenError` when the status is `"error"`, `null` otherwise. */
  readonly error: TokenError | null
  /** When the token expires, local epoch ms; `null` without a token. */
  readonly expiresAt: number | null
}

/**
 * What a server render shows, and what the browser shows while it hydrates
 * that HTML, before it subscribes: `loading`, with no token. Both sides
 * render the same, and no token is ever written into HTML.
 */
export const initialState: TokenState = { status: "loading" }

const tokenOf = (state: TokenState): Token | undefined =>
  state.status === "signed-out" ? undefined : state.token

/** Projects a `TokenState` onto the adapters' shape. */
export const fromState = (state: TokenState): TokenView => {
  const token = tokenOf(state)
  return {
    token: token?.jwt ?? null,
    status: state.status,
    error: state.status === "error" ? state.error : null,
    expiresAt: token?.expiresAt ?? null,
  }
}

/** What an adapter's `useToken`/`createToken`/`injectToken` takes: a key, and whether to watch it. */
export interface Options extends WatchOptions {
  /** `false` switches the watcher off (no subscription, no request). Default `true`. */
  readonly enabled?: boolean | undefined
}

/**
 * The key an adapter watches for `options`: only the fields of a key, so a
 * new object with the same values is the same key; `null` when `options` is
 * `null` or `enabled: false` (watch nothing — never the default key).
 */
export const keyOf = (options: Options | null | undefined): WatchOptions | null =>
  options === null || options?.enabled === false
    ? null
    : {
        template: options?.template,
        organizationId: options?.organizationId,
        expirationBuffer: options?.expirationBuffer,
        sessionId: options?.sessionId,
      }

/** Whether two keys from `keyOf` name the same key (both `null` included). */
export const sameKey = (a: WatchOptions | null, b: WatchOptions | null): boolean =>
  a === null || b === null
    ? a === b
    : Object.is(a.template, b.template) &&
      Object.is(a.organizationId, b.organizationId) &&
      Object.is(a.expirationBuffer, b.expirationBuffer) &&
      Object.is(a.sessionId, b.sessionId)

/**
 * Waits until `watcher`'s key is no longer loading: resolves the JWT when
 * ready, `null` when signed out, and rejects with the `TokenError` when the
 * key failed. While it waits it holds a subscription, so a key nothing else
 * watches is fetched (and let go afterwards). An aborted `signal` rejects
 * with its reason.
 */
export const whenReady = (
  watcher: Pick<TokenWatcher, "getSnapshot" | "subscribe">,
  signal?: AbortSignal,
): Promise<string | null> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const answer = (state: TokenState) =>
      state.status === "error" ? reject(state.error) : resolve(fromState(state).token)
    const first = watcher.getSnapshot()
    if (first.status !== "loading") return answer(first)
    const stop = () => {
      unsubscribe()
      signal?.removeEventListener("abort", onAbort)
    }
    const onAbort = () => {
      stop()
      reject(signal?.reason)
    }
    // The listener is never called from `subscribe` itself, so `unsubscribe` is set by then.
    const unsubscribe = watcher.subscribe((state) => {
      if (state.status === "loading") return
      stop()
      answer(state)
    })
    // Subscribing may have answered from the cache: read the state once more.
    const now = watcher.getSnapshot()
    if (now.status !== "loading") {
      stop()
      return answer(now)
    }
    signal?.addEventListener("abort", onAbort, { once: true })
  })
