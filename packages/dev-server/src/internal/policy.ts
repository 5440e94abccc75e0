/**
 * Who may talk to the dev server: host names and addresses in canonical form,
 * the `Host` policy that guards a loopback bind against DNS rebinding, and the
 * CORS policy from `corsOrigins`.
 * @module
 */
import type { CorsPolicy } from "./cors.ts"

/**
 * The canonical form of a host name or address, as a URL holds it: lower case,
 * IPv4 in dotted decimal (`127.1` → `127.0.0.1`), IPv6 compressed and in brackets
 * (`0:0:0:0:0:0:0:1` → `[::1]`). `undefined` for anything that is not one.
 */
const canonicalHost = (name: string): string | undefined => {
  // No user info, path, query or escapes: only what a URL's host may hold.
  if (name === "" || name.length > 255 || /[\s/@?#\\%]/.test(name)) return undefined
  const bracketed = name.includes(":") && !name.startsWith("[") ? `[${name}]` : name
  try {
    const url = new URL(`http://${bracketed}/`)
    return url.port === "" && url.hostname !== "" ? url.hostname : undefined
  } catch {
    return undefined
  }
}

/** The canonical name of a `Host` header (port dropped), or `undefined` if it is not `name[:port]`. */
export const hostHeaderName = (header: string): string | undefined => {
  const value = header.trim()
  if (value === "" || value.length > 300 || /[^A-Za-z0-9._:[\]-]/.test(value)) return undefined
  try {
    const url = new URL(`http://${value}/`)
    return url.hostname === "" ? undefined : url.hostname
  } catch {
    return undefined
  }
}

export const urlHost = (host: string): string => {
  const canonical = canonicalHost(host)
  return canonical === "0.0.0.0"
    ? "127.0.0.1"
    : canonical === "[::]"
      ? "[::1]"
      : (canonical ?? (host.includes(":") ? `[${host}]` : host))
}

export const corsPolicy = (origins: readonly string[] | undefined): CorsPolicy => {
  if (origins === undefined) return { kind: "local" }
  if (origins.includes("*")) return { kind: "any" }
  const set = new Set<string>()
  for (const origin of origins) {
    const problem = `corsOrigins: "${origin}" is not an origin like http://localhost:5173`
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      throw new Error(problem)
    }
    if (
      (url.protocol !== "http:" && url.protocol !== "https:") ||
      url.pathname !== "/" ||
      url.search
    ) {
      throw new Error(problem)
    }
    set.add(url.origin)
  }
  return { kind: "list", origins: set }
}

const loopbackNames = ["127.0.0.1", "localhost", "[::1]"]

/** Whether a canonical host is a loopback name or address (127/8, `::1`, or 127/8 mapped into IPv6). */
const isLoopback = (canonical: string | undefined): boolean =>
  canonical === "localhost" ||
  canonical === "[::1]" ||
  (canonical !== undefined &&
    (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(canonical) ||
      /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical)))

/**
 * The accepted `Host` names (canonical, see {@link canonicalHost}), or `undefined` for any.
 * Bound to loopback, the loopback names and the bound address itself.
 */
export const hostPolicy = (
  allowedHosts: readonly string[] | undefined,
  host: string,
): ReadonlySet<string> | undefined => {
  if (allowedHosts === undefined) {
    const bound = canonicalHost(host)
    return isLoopback(bound) ? new Set([...loopbackNames, bound ?? ""]) : undefined
  }
  if (allowedHosts.includes("*")) return undefined
  return new Set(
    allowedHosts.map((name) => {
      const canonical = canonicalHost(name)
      if (canonical === undefined) throw new Error(`allowedHosts: "${name}" is not a host name`)
      return canonical
    }),
  )
}
