import {
  type TokClient,
  type TokenError,
  type TokenState,
  TokenView,
  type TokenWatcher,
} from "@tok/core"
import {
  computed,
  getCurrentInstance,
  inject,
  onMounted,
  onScopeDispose,
  shallowRef,
  toValue,
  watch,
  type App,
  type ComputedRef,
  type InjectionKey,
  type MaybeRefOrGetter,
} from "vue"

/** The injection key under which `createTok` provides the client. */
export const tokClientKey: InjectionKey<TokClient> = Symbol("@tok/vue client")

/** The Vue plugin `createTok` returns. */
export interface TokPlugin {
  /** Provides the client to the whole app (`app.provide`). */
  readonly install: (app: App) => void
  /** The client the plugin provides. */
  readonly client: TokClient
}

/**
 * The plugin that makes `client` available to `useToken` and `useTokClient`.
 *
 * @example
 * ```ts
 * const tok = createTokenClient({ source: clerkFrontendApi({ baseUrl }), session: "sess_123" })
 * createApp(App).use(createTok(tok)).mount("#app")
 * ```
 */
export const createTok = (client: TokClient): TokPlugin => ({
  install: (app) => void app.provide(tokClientKey, client),
  client,
})

/** The client provided by `createTok`; throws when there is none. Call it where `inject` works. */
export const useTokClient = (): TokClient => {
  const client = inject(tokClientKey, null)
  if (client === null) {
    throw new Error("@tok/vue: no tok client here; install it with app.use(createTok(client))")
  }
  return client
}

/** The options of `useToken`: a key, and whether to watch it at all (`enabled`). */
export type UseTokenOptions = TokenView.Options

/** What `useToken` is set up with once (not reactive). */
export interface UseTokenConfig {
  /**
   * The state shown during a server render and while the browser hydrates,
   * until the component is mounted. Default `TokenView.initialState`
   * (`loading`). Give the same value on both sides (e.g. from Nuxt's payload).
   */
  readonly initialState?: TokenState | undefined
}

/** What `useToken` returns: readonly refs over the watched key's state, `refresh` and `whenReady`. */
export interface UseTokenReturn {
  /** The JWT, in every status where there is one; `null` otherwise. */
  readonly token: ComputedRef<string | null>
  /** `"signed-out"`, `"loading"`, `"ready"` or `"error"`. */
  readonly status: ComputedRef<TokenState["status"]>
  /** The `TokenError` when the status is `"error"`, `null` otherwise. */
  readonly error: ComputedRef<TokenError | null>
  /** When the token expires, local epoch ms; `null` without a token. */
  readonly expiresAt: ComputedRef<number | null>
  /** A `skipCache` fetch of the key; resolves once its result is in the refs. Never rejects. */
  readonly refresh: () => Promise<void>
  /**
   * The JWT once the key is no longer loading, `null` when signed out; rejects
   * with the `TokenError`. Resolves `null` at once on the server and while disabled.
   */
  readonly whenReady: () => Promise<string | null>
}

/**
 * Watches one key (`template`, `organizationId`, …) and keeps its token fresh
 * while the calling component or `effectScope` lives. `options` may be a plain
 * object, a ref or a getter; when its value changes the old key is let go and
 * the new one watched; `null` or `enabled: false` switches the watcher off.
 * In a component the subscription starts when it is mounted: a server render
 * makes no request and shows `initialState`, and so does the hydrating
 * browser until it is mounted, so both render the same HTML.
 *
 * @example
 * ```vue
 * <script setup lang="ts">
 * import { useToken } from "@tok/vue"
 * const props = defineProps<{ template?: string }>()
 * const { token, status, refresh } = useToken(() => ({ template: props.template }))
 * </script>
 * <template>
 *   <p v-if="status === 'ready'">{{ token }}</p>
 *   <button @click="refresh()">refresh</button>
 * </template>
 * ```
 */
export const useToken = (
  options?: MaybeRefOrGetter<UseTokenOptions | null | undefined>,
  config?: UseTokenConfig,
): UseTokenReturn => {
  const client = useTokClient()
  const initial = config?.initialState ?? TokenView.initialState
  const state = shallowRef<TokenState>(initial)
  const onServer = typeof window === "undefined"
  let watcher: TokenWatcher | undefined
  let unsubscribe: (() => void) | undefined
  let disposed = false
  // Inside a component: live once mounted (never on the server). Elsewhere: live in a browser.
  const instance = getCurrentInstance()
  let live = instance === null && !onServer

  const subscribe = () => {
    // The new key first, then let go of the old one: when both are the same
    // shared watcher, it is never left without subscribers (no refetch).
    const previous = unsubscribe
    unsubscribe = undefined
    if (watcher !== undefined && live && !disposed) {
      const current = watcher
      unsubscribe = current.subscribe((next) => {
        if (watcher === current) state.value = next
      })
      state.value = current.getSnapshot()
    } else if (live) {
      state.value = initial
    }
    previous?.()
  }

  watch(
    () => TokenView.keyOf(toValue(options)),
    (next, previous) => {
      if (previous !== undefined && TokenView.sameKey(next, previous)) return
      watcher = next === null ? undefined : client.watch(next)
      subscribe()
    },
    { immediate: true },
  )
  if (instance !== null) {
    onMounted(() => {
      live = true
      subscribe()
    })
  }
  onScopeDispose(() => {
    disposed = true
    unsubscribe?.()
    unsubscribe = undefined
  })

  const view = computed(() => TokenView.fromState(state.value))
  return {
    token: computed(() => view.value.token),
    status: computed(() => view.value.status),
    error: computed(() => view.value.error),
    expiresAt: computed(() => view.value.expiresAt),
    refresh: async () => {
      const current = watcher
      if (current === undefined || !live) return
      await current.refresh()
      if (watcher === current && !disposed) state.value = current.getSnapshot()
    },
    whenReady: () =>
      onServer || watcher === undefined ? Promise.resolve(null) : TokenView.whenReady(watcher),
  }
}
