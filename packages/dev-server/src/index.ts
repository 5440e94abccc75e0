/**
 * `@tok/dev-server` — a real, Clerk-compatible token server for demos and tests.
 * @packageDocumentation
 */
export { generateSigningKey, type SigningKey } from "./keys.ts"
