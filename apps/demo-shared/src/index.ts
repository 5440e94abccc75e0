/**
 * `@tok/demo-shared`: the demo page's helpers (`./demo.ts`) and its
 * framework-free controller (`./page.ts`), which the three demo apps map
 * onto Vue, Svelte and Angular.
 * @module
 */
export * from "./clerk.ts"
export * from "./demo.ts"
export * from "./devtools.ts"
export * from "./page.ts"
export * from "./status.ts"
export * from "./lab.ts"
export * from "./start.ts"
