import type { TokClient, TokenError, TokenState, TokenWatcher, WatchOptions } from "@tok/core"
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

/** What `useToken` returns: readonly refs over the watched key's state, and `refresh`. */
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
}

const tokenOf = (state: TokenState) => (state.status === "signed-out" ? undefined : state.token)

const normalize = (options: WatchOptions | null | undefined): WatchOptions => ({
  template: options?.template,
  organizationId: options?.organizationId,
  expirationBuffer: options?.expirationBuffer,
  sessionId: options?.sessionId,
})

const sameKey = (a: WatchOptions, b: WatchOptions): boolean =>
  Object.is(a.template, b.template) &&
  Object.is(a.organizationId, b.organizationId) &&
  Object.is(a.expirationBuffer, b.expirationBuffer) &&
  Object.is(a.sessionId, b.sessionId)

/**
 * Watches one key (`template`, `organizationId`, …) and keeps its token fresh
 * while the calling component or `effectScope` lives. `options` may be a plain
 * object, a ref or a getter; when its value changes the old key is let go and
 * the new one watched. In a component the subscription starts when it is
 * mounted, so server-side rendering starts no timers and makes no requests.
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
  options?: MaybeRefOrGetter<WatchOptions | null | undefined>,
): UseTokenReturn => {
  const client = useTokClient()
  const state = shallowRef<TokenState>({ status: "signed-out" })
  let watcher: TokenWatcher | undefined
  let unsubscribe: (() => void) | undefined
  let disposed = false
  // Inside a component: live once mounted (never on the server). Elsewhere: live in a browser.
  const instance = getCurrentInstance()
  let live = instance === null && typeof window !== "undefined"

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
    }
    previous?.()
  }

  watch(
    () => normalize(toValue(options)),
    (next, previous) => {
      if (previous !== undefined && sameKey(next, previous)) return
      watcher = client.watch(next)
      state.value = watcher.getSnapshot()
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

  return {
    token: computed(() => tokenOf(state.value)?.jwt ?? null),
    status: computed(() => state.value.status),
    error: computed(() => (state.value.status === "error" ? state.value.error : null)),
    expiresAt: computed(() => tokenOf(state.value)?.expiresAt ?? null),
    refresh: async () => {
      const current = watcher
      if (current === undefined) return
      await current.refresh()
      if (watcher === current && !disposed) state.value = current.getSnapshot()
    },
  }
}
