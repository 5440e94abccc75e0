/**
 * `@tok/svelte` — tok for Svelte: `tokenStore(client, options?)`, a readable
 * store of a key's `TokenState` that keeps the token fresh while subscribed.
 * Re-exports `@tok/core`, so an app installs one package.
 *
 * @example
 * ```ts
 * import { clerkFrontendApi, createTokenClient, tokenStore } from "@tok/svelte"
 *
 * export const tok = createTokenClient({ source: clerkFrontendApi({ baseUrl }), session: "sess_123" })
 * export const sessionToken = tokenStore(tok) // `$sessionToken.status` in a component
 * ```
 * @packageDocumentation
 */
export * from "@tok/core"
export { type TokenStore, tokenStore } from "./tokenStore.ts"
