/**
 * `@tok/vue` — tok for Vue: `createTok(client)` and `useToken(options?)`.
 * Re-exports `@tok/core`, so an app installs one package.
 * @packageDocumentation
 */
export * from "@tok/core"
