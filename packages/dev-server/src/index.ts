/**
 * `@tok/dev-server` — a real, Clerk-compatible token server for demos and tests:
 * RS256 JWTs signed with `jose`, a JWKS, JWT templates, and fault injection.
 * @example
 * import { startDevServer } from "@tok/dev-server"
 *
 * const server = await startDevServer()
 * const { id } = server.signIn("user_1")
 * // POST `${server.url}/v1/client/sessions/${id}/tokens` → { object: "token", jwt }
 * await server.stop()
 * @packageDocumentation
 */
export {
  DEFAULT_SECRET_KEY,
  startDevServer,
  type DevServer,
  type DevServerOptions,
} from "./server.ts"
export type { DevSession, IssueTokenRequest } from "./authority.ts"
export { generateSigningKey, loadSigningKey, parseSigningKey, type SigningKey } from "./keys.ts"
export {
  defaultTemplates,
  type JsonValue,
  type TokenTemplate,
  type TokenTemplates,
} from "./templates.ts"
export {
  malformedBodies,
  type FaultSettings,
  type FaultState,
  type MalformedBody,
} from "./faults.ts"
export type { DevServerStats } from "./stats.ts"
export { DEV_BROWSER_PARAM, publishableKeyFor, type InstanceType } from "./instance.ts"
export { redact } from "./internal/redact.ts"
