/**
 * `@tok/svelte` — tok for Svelte 5: `createToken(() => options)`, runes for
 * one key built on `createSubscriber`; `setTokClient`/`getTokClient`, one
 * client per component tree (per request in SvelteKit); and `tokenStore`, a
 * readable store of a key's `TokenState`. Safe in server rendering: no
 * request, no token in the HTML. Re-exports `@tok/core`, so an app installs
 * one package.
 *
 * @example
 * ```svelte
 * <script lang="ts">
 *   import { createToken } from "@tok/svelte"
 *   const tok = createToken(() => ({ template: "supabase" })) // after setTokClient(client) in a parent
 * </script>
 * <p>{tok.status}</p>
 * ```
 * @packageDocumentation
 */
export * from "@tok/core"
export {
  createToken,
  type CreateTokenConfig,
  type CreateTokenOptions,
  type CreateTokenResult,
  getTokClient,
  setTokClient,
} from "./createToken.ts"
export { type TokenStore, tokenStore } from "./tokenStore.ts"
