import {
  type TokClient,
  type TokenError,
  type TokenState,
  TokenView,
  type TokenWatcher,
  type WatchOptions,
} from "@tok/core"
import { isPlatformBrowser } from "@angular/common"
import {
  afterNextRender,
  computed,
  DestroyRef,
  effect,
  inject,
  PLATFORM_ID,
  type Signal,
  signal,
  untracked,
} from "@angular/core"
import { injectTokConfig } from "./provide-tok.ts"

/** One key's token as signals, with `refresh` and `whenReady`. */
export interface TokenSignals {
  /** The JWT, in every status where there is one; `null` otherwise. */
  readonly token: Signal<string | null>
  /** `"signed-out"`, `"loading"`, `"ready"` or `"error"`. */
  readonly status: Signal<TokenState["status"]>
  /** The `TokenError` when the status is `"error"`, `null` otherwise. */
  readonly error: Signal<TokenError | null>
  /** When the token expires, local epoch ms; `null` without a token. */
  readonly expiresAt: Signal<number | null>
  /** A `skipCache` fetch of the key; resolves once its result is in the signals. Never rejects. */
  refresh(): Promise<void>
  /**
   * The JWT once the key is no longer loading, `null` when signed out; rejects
   * with the `TokenError`. Resolves `null` at once on the server and while disabled.
   */
  whenReady(): Promise<string | null>
}

/** The options of `injectToken`: a key, and whether to watch it at all (`enabled`). */
export type InjectTokenOptions = TokenView.Options

/** What `injectToken` is set up with once. */
export interface InjectTokenConfig {
  /**
   * What the server renders, and what the browser shows until its first
   * render is done (so hydration matches). Default `TokenView.initialState` (`loading`).
   */
  readonly initialState?: TokenState | undefined
}

type Key = WatchOptions | null

/**
 * The watcher behind `injectToken` and `TokenService`: in the browser it
 * subscribes at once (the fetch starts early) but shows `initial` until the
 * first render is done, so hydration sees what the server rendered; on the
 * server it never subscribes. Cleaned up with the injector's `DestroyRef`.
 * Call in an injection context. @internal
 */
export const connectToken = (
  client: TokClient,
  initialKey: Key,
  initial: TokenState,
  onState?: (state: TokenState) => void,
) => {
  const browser = isPlatformBrowser(inject(PLATFORM_ID))
  const state = signal<TokenState>(initial)
  const rendered = signal(false)
  let watcher: TokenWatcher | undefined
  let unsubscribe: (() => void) | undefined
  let key: Key | undefined
  let destroyed = false

  const set = (next: TokenState) => {
    state.set(next)
    onState?.(next)
  }
  const follow = (next: Key) => {
    if (key !== undefined && TokenView.sameKey(key, next)) return
    key = next
    const current = (watcher = next === null ? undefined : client.watch(next))
    if (!browser || destroyed) return
    // The new key first, then the old one: a shared key keeps its refresher.
    const previous = unsubscribe
    unsubscribe = current?.subscribe((value) => {
      if (watcher === current) set(value)
    })
    set(current?.getSnapshot() ?? initial)
    previous?.()
  }
  follow(initialKey)
  if (browser) {
    try {
      afterNextRender(() => rendered.set(true))
    } catch {
      // No application renders in this injector (a bare environment injector):
      // there is nothing to hydrate, so the live state shows at once.
      rendered.set(true)
    }
  }
  inject(DestroyRef).onDestroy(() => {
    destroyed = true
    unsubscribe?.()
    unsubscribe = undefined
  })

  const view = computed(() => TokenView.fromState(rendered() ? state() : initial))
  const signals: TokenSignals = {
    token: computed(() => view().token),
    status: computed(() => view().status),
    error: computed(() => view().error),
    expiresAt: computed(() => view().expiresAt),
    refresh: async () => {
      const current = watcher
      if (!browser || current === undefined) return
      await current.refresh()
      if (watcher === current && !destroyed) set(current.getSnapshot())
    },
    whenReady: () =>
      !browser || watcher === undefined ? Promise.resolve(null) : TokenView.whenReady(watcher),
  }
  return { signals, follow, watcher: () => watcher }
}

/**
 * Watches one key and keeps its token fresh while the calling component,
 * directive or service lives (`DestroyRef`): signals for `token`, `status`,
 * `error`, `expiresAt`, plus `refresh()` and `whenReady()`. `options` is a
 * function, read reactively: when the key it returns changes, the new key is
 * watched and the old one let go; `null` or `enabled: false` switch the
 * watcher off. A component can watch as many keys as it needs. On the server
 * it makes no request and shows `initialState`; so does the browser until its
 * first render is done. Call it in an injection context.
 *
 * @example
 * ```ts
 * @Component({ template: `@if (db.status() === "ready") { <code>{{ db.token() }}</code> }` })
 * export class Profile {
 *   readonly org = input<string>()
 *   protected readonly db = injectToken(() => ({ template: "supabase", organizationId: this.org() }))
 * }
 * ```
 */
export const injectToken = (
  options: () => InjectTokenOptions | null | undefined = () => undefined,
  config: InjectTokenConfig = {},
): TokenSignals => {
  const client = injectTokConfig().client
  const initial = config.initialState ?? TokenView.initialState
  const { signals, follow } = connectToken(client, TokenView.keyOf(untracked(options)), initial)
  effect(() => {
    const next = TokenView.keyOf(options())
    untracked(() => follow(next))
  })
  return signals
}
