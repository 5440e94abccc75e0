import {
  type TokClient,
  type TokenError,
  type TokenState,
  TokenView,
  type TokenWatcher,
  type WatchOptions,
} from "@tok/core"
import { getContext, setContext } from "svelte"
import { createSubscriber } from "svelte/reactivity"

const clientKey = Symbol("@tok/svelte client")

/**
 * Makes `client` the one `createToken` finds in this component and its
 * children. Call it during component initialisation, e.g. in SvelteKit's
 * root `+layout.svelte`: on the server that runs once per request, so each
 * request gets its own client and no session leaks between users.
 */
export const setTokClient = (client: TokClient): TokClient => setContext(clientKey, client)

/** The client `setTokClient` gave this component tree; throws when there is none. */
export const getTokClient = (): TokClient => {
  const client = getContext<TokClient | undefined>(clientKey)
  if (client === undefined) {
    throw new Error("@tok/svelte: no tok client here; call setTokClient(client) in a parent")
  }
  return client
}

/** The options of `createToken`: a key, and whether to watch it at all (`enabled`). */
export type CreateTokenOptions = TokenView.Options

/** What `createToken` is set up with once. */
export interface CreateTokenConfig {
  /** The client; default: the one `setTokClient` gave the component tree. */
  readonly client?: TokClient | undefined
  /**
   * What a server render shows, and the browser until it has subscribed (so
   * hydration matches). Default `TokenView.initialState` (`loading`).
   */
  readonly initialState?: TokenState | undefined
}

/** One key's token as reactive getters (read them in markup, `$derived` or `$effect`). */
export interface CreateTokenResult {
  /** The JWT, in every status where there is one; `null` otherwise. */
  readonly token: string | null
  /** `"signed-out"`, `"loading"`, `"ready"` or `"error"`. */
  readonly status: TokenState["status"]
  /** The `TokenError` when the status is `"error"`, `null` otherwise. */
  readonly error: TokenError | null
  /** When the token expires, local epoch ms; `null` without a token. */
  readonly expiresAt: number | null
  /** A `skipCache` fetch of the key; resolves once its result is shown. Never rejects. */
  readonly refresh: () => Promise<void>
  /**
   * The JWT once the key is no longer loading, `null` when signed out; rejects
   * with the `TokenError`. Resolves `null` at once on the server and while disabled.
   */
  readonly whenReady: () => Promise<string | null>
}

/**
 * Svelte 5 runes for one key, built on `createSubscriber`: the watcher starts
 * when markup or an effect first reads a getter, and stops when the last one
 * is gone. `options` is a function, read reactively: when the key it returns
 * changes, the new key is subscribed before the old one is let go, so a
 * shared key keeps its refresher. A server render makes no request and shows
 * `initialState`; so does the browser until it has subscribed.
 *
 * @example
 * ```svelte
 * <script lang="ts">
 *   import { createToken } from "@tok/svelte"
 *   let { org }: { org?: string } = $props()
 *   const tok = createToken(() => ({ template: "supabase", organizationId: org }))
 * </script>
 *
 * {#if tok.status === "ready"}<code>{tok.token}</code>{/if}
 * <button onclick={() => tok.refresh()}>Refresh</button>
 * ```
 */
export const createToken = (
  options: () => CreateTokenOptions | null | undefined = () => undefined,
  config: CreateTokenConfig = {},
): CreateTokenResult => {
  const client = config.client ?? getTokClient()
  const initial = config.initialState ?? TokenView.initialState
  const onServer = typeof window === "undefined"
  let key: WatchOptions | null | undefined
  let watcher: TokenWatcher | undefined
  let unsubscribe: (() => void) | undefined
  let update: (() => void) | undefined
  let live = false

  const listen = (target: TokenWatcher) =>
    target.subscribe(() => {
      if (watcher === target) update?.()
    })
  /** Follows `options()`: the new key is subscribed before the old one is let go. */
  const sync = () => {
    const next = TokenView.keyOf(options())
    if (key !== undefined && TokenView.sameKey(key, next)) return
    key = next
    watcher = next === null ? undefined : client.watch(next)
    if (update === undefined) return
    const previous = unsubscribe
    unsubscribe = watcher === undefined ? undefined : listen(watcher)
    previous?.()
  }
  const subscribe = createSubscriber((tick) => {
    update = tick
    unsubscribe = watcher === undefined ? undefined : listen(watcher)
    // Show the live state from the next microtask: hydration renders `initial`, as the server did.
    queueMicrotask(() => {
      live = true
      tick()
    })
    return () => {
      update = undefined
      unsubscribe?.()
      unsubscribe = undefined
    }
  })
  const view = () => {
    sync()
    subscribe()
    return TokenView.fromState(live && watcher !== undefined ? watcher.getSnapshot() : initial)
  }

  return {
    get token() {
      return view().token
    },
    get status() {
      return view().status
    },
    get error() {
      return view().error
    },
    get expiresAt() {
      return view().expiresAt
    },
    refresh: async () => {
      sync()
      const current = watcher
      if (onServer || current === undefined) return
      await current.refresh()
      if (current === watcher) update?.()
    },
    whenReady: () => {
      sync()
      return onServer || watcher === undefined
        ? Promise.resolve(null)
        : TokenView.whenReady(watcher)
    },
  }
}
