/**
 * `@tok/core` — short-lived session JWTs for the code that needs them.
 * @packageDocumentation
 */
export * as Token from "./Token.ts"
