/**
 * `@tok/vue` — tok for Vue: `createTok(client)` and `useToken(options?)`.
 * Re-exports `@tok/core`, so an app installs one package.
 *
 * @example
 * ```ts
 * import { createApp } from "vue"
 * import { clerkFrontendApi, createTok, createTokenClient } from "@tok/vue"
 *
 * const tok = createTokenClient({ source: clerkFrontendApi({ baseUrl }), session: "sess_123" })
 * createApp(App).use(createTok(tok)).mount("#app")
 * // in a component: const { token, status, error, expiresAt, refresh, whenReady } = useToken({ template: "supabase" })
 * ```
 * @packageDocumentation
 */
export * from "@tok/core"
export {
  createTok,
  tokClientKey,
  type TokPlugin,
  useTokClient,
  useToken,
  type UseTokenConfig,
  type UseTokenOptions,
  type UseTokenReturn,
} from "./useToken.ts"
