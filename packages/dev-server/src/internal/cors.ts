/**
 * Which browser origins may call the server, and the CORS headers it answers
 * them with.
 * @internal
 */
import type { IncomingMessage } from "node:http"
import { holdsToken } from "./redact.ts"

/** Which browser origins may call the server. */
export type CorsPolicy =
  | { readonly kind: "local" }
  | { readonly kind: "any" }
  | { readonly kind: "list"; readonly origins: ReadonlySet<string> }

const localHosts = new Set(["127.0.0.1", "localhost", "[::1]"])

/** `value` if it is an http(s) origin in the canonical form browsers send, else `undefined` (e.g. `null`). */
export const canonicalOrigin = (value: string): string | undefined => {
  if (value.length > 2048) return undefined
  try {
    const url = new URL(value)
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined
    return url.origin === value ? value : undefined
  } catch {
    return undefined
  }
}

/** Whether `origin` (already canonical) may call the server under `policy`. */
export const originAllowed = (policy: CorsPolicy, origin: string): boolean => {
  switch (policy.kind) {
    case "any":
      return true
    case "list":
      return policy.origins.has(origin)
    case "local":
      return localHosts.has(new URL(origin).hostname)
  }
}

/** Headers that let an allowed origin read the answer. */
export const corsHeaders = (origin: string): Record<string, string> => ({
  "Access-Control-Allow-Origin": origin,
  "Access-Control-Allow-Credentials": "true",
  "Access-Control-Expose-Headers": "Retry-After",
})

const headerList = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/

/** Headers for an allowed preflight. */
export const preflightHeaders = (origin: string, req: IncomingMessage): Record<string, string> => {
  const requested = req.headers["access-control-request-headers"]
  const headers: Record<string, string> = {
    ...corsHeaders(origin),
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers":
      requested !== undefined &&
      requested.length <= 1024 &&
      headerList.test(requested) &&
      // Header names, never a JWT or key: a token sent here is not echoed.
      !holdsToken(requested)
        ? requested
        : "authorization, content-type",
    "Access-Control-Max-Age": "600",
  }
  if (req.headers["access-control-request-private-network"] === "true") {
    headers["Access-Control-Allow-Private-Network"] = "true"
  }
  return headers
}
