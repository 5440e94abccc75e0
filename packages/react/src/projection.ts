/**
 * The shared shape of DESIGN §9 — `token`, `status`, `error`, `expiresAt` and
 * `whenReady()` — projected from a watch handle's `TokenState`.
 *
 * Temporary: `@tok/core` gets the one projection every adapter uses; when it
 * lands, this file goes and `useToken.ts` imports the core's instead.
 * @internal
 */
import type { TokenError, TokenState, TokenWatcher } from "@tok/core"

/** A watched key's state as the adapters show it. */
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

/** The view of one `TokenState`. */
export const project = (state: TokenState): TokenView => {
  const token = state.status === "signed-out" ? undefined : state.token
  return {
    token: token?.jwt ?? null,
    status: state.status,
    error: state.status === "error" ? state.error : null,
    expiresAt: token?.expiresAt ?? null,
  }
}

/**
 * The JWT once the key is no longer loading: `null` when signed out; rejects
 * with the `TokenError` when it failed without a token to show. Subscribes
 * until then (so it starts a fetch if nothing watches the key).
 */
export const whenReady = (watcher: TokenWatcher): Promise<string | null> =>
  new Promise((resolve, reject) => {
    const settle = (state: TokenState): boolean => {
      if (state.status === "loading") return false
      stop()
      const token = state.status === "signed-out" ? undefined : state.token
      if (token !== undefined) resolve(token.jwt)
      else if (state.status === "error") reject(state.error)
      else resolve(null)
      return true
    }
    // Never called from `subscribe` itself, so `stop` is set by the time it runs.
    const stop = watcher.subscribe(settle)
    settle(watcher.getSnapshot())
  })
