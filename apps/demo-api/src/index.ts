/**
 * `@tok/demo-api` — tok on a server: a backend that verifies browsers' session
 * tokens and calls a downstream service with a template token it gets through
 * tok's Effect API (`TokenClient` on `TokenSource.clerkBackendApi`).
 * @example
 * import { startDemoApi } from "@tok/demo-api"
 *
 * const api = await startDemoApi({
 *   tokenServerUrl: "http://127.0.0.1:43123",
 *   allowedOrigins: ["http://127.0.0.1:4700"],
 * })
 * // GET `${api.url}/api/profile` with Authorization: Bearer <session token>
 * await api.stop()
 * @packageDocumentation
 */
export { ApiError } from "./ApiError.ts"
export { bearerToken } from "./bearer.ts"
export { DEV_SECRET_KEY, type DemoApiOptions } from "./options.ts"
export { startDemoApi, type DemoApi } from "./server.ts"
export * as Verifier from "./Verifier.ts"
