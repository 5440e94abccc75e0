import { type TokClient, type TokenState, TokenView, type WatchOptions } from "@tok/core"
import { readable, type Readable } from "svelte/store"

/** A readable store of one key's `TokenState`, with `refresh` and `whenReady`. */
export interface TokenStore extends Readable<TokenState> {
  /** A `skipCache` fetch of the key; resolves once its result is in the store. Never rejects. */
  readonly refresh: () => Promise<void>
  /**
   * The JWT once the key is no longer loading, `null` when signed out; rejects
   * with the `TokenError`. Resolves `null` at once on the server.
   */
  readonly whenReady: () => Promise<string | null>
}

/**
 * A `svelte/store` readable of the `TokenState` of one key (`template`,
 * `organizationId`, …). Creating it makes no request. In the browser, the
 * first subscriber starts the core's watcher (a fetch, then background
 * refresh) and gets the current state at once, as the store contract says;
 * after the last unsubscribes, every timer of the key stops. On the server
 * (no `window`) it never starts the watcher: it holds `initialState`
 * (default `loading`), so a server render makes no request and writes no
 * token. For keys that change, prefer `createToken(() => options)`.
 *
 * @example
 * ```svelte
 * <script lang="ts">
 *   import { tokenStore } from "@tok/svelte"
 *   import { tok } from "./tok"
 *   const token = tokenStore(tok, { template: "supabase" })
 * </script>
 *
 * {#if $token.status === "ready"}<code>{$token.token.jwt}</code>{/if}
 * <button onclick={() => token.refresh()}>Refresh</button>
 * ```
 */
export const tokenStore = (
  client: TokClient,
  options?: WatchOptions,
  initialState: TokenState = TokenView.initialState,
): TokenStore => {
  if (typeof window === "undefined") {
    return {
      subscribe: readable(initialState).subscribe,
      refresh: () => Promise.resolve(),
      whenReady: () => Promise.resolve(null),
    }
  }
  const watcher = client.watch(options)
  const { subscribe } = readable<TokenState>(watcher.getSnapshot(), (set) => {
    // `set` does not reach subscribers until this function returns, and then
    // the readable calls the first subscriber once with the latest value.
    const unsubscribe = watcher.subscribe(set)
    set(watcher.getSnapshot())
    return unsubscribe
  })
  return {
    subscribe,
    refresh: () => watcher.refresh(),
    whenReady: () => TokenView.whenReady(watcher),
  }
}
