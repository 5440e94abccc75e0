/**
 * `@tok/svelte` — tok for Svelte: `tokenStore(client, options?)`.
 * Re-exports `@tok/core`, so an app installs one package.
 * @packageDocumentation
 */
export * from "@tok/core"
