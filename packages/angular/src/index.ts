/**
 * `@tok/angular` — tok for Angular: `provideTok(config)`, `TokenService`, `tokInterceptor`.
 * Re-exports `@tok/core`, so an app installs one package.
 * @packageDocumentation
 */
export * from "@tok/core"
