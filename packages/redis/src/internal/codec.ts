/**
 * What a token looks like in Redis: its keys (one hash slot per session),
 * the value (the JWT and the key it was fetched for, JSON, sealed with
 * AES-GCM when a key is configured) and the checks a value read back must
 * pass before it is used.
 * @internal
 */
import type { TokenRequest } from "@tok/core"

/** The Redis keys of one token request, all in the hash slot of its session. */
export interface Keys {
  /** The token itself; expires with the token. */
  readonly token: string
  /** The fetch lock of this request. */
  readonly lock: string
  /** Set when the session ended: no token of the session is written after it. */
  readonly ended: string
}

/** A UTF-16 surrogate that is half of no pair: `encodeURIComponent` throws on it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/**
 * An id as it goes into a key: `encodeURIComponent`, and a lone surrogate
 * (which it throws on) as `%u` and its code, which `encodeURIComponent`
 * never writes: every id, well formed or not, gets a key of its own.
 */
const encodeId = (value: string): string => {
  let out = ""
  let from = 0
  for (const match of value.matchAll(LONE_SURROGATE)) {
    out += encodeURIComponent(value.slice(from, match.index))
    out += `%u${match[0].charCodeAt(0).toString(16).toUpperCase()}`
    from = match.index + 1
  }
  return out + encodeURIComponent(value.slice(from))
}

/** A template or organization as it goes into a key: `-` for none. */
export const keyPart = (value: string | undefined): string =>
  value === undefined ? "-" : `=${encodeId(value)}`

/**
 * The hash tag of a session: `{…}`, so a Redis Cluster keeps a session's keys
 * in one slot. The id is escaped (`encodeURIComponent`): no `{`, `}` or `:`.
 */
export const sessionTag = (prefix: string, sessionId: string): string =>
  `${prefix}{${encodeId(sessionId)}}`

/** The keys of `request` under `prefix`. */
export const keysOf = (prefix: string, request: TokenRequest): Keys => {
  const tag = sessionTag(prefix, request.sessionId)
  const rest = `${keyPart(request.template)}:${keyPart(request.organizationId)}`
  return { token: `${tag}:tok:${rest}`, lock: `${tag}:lock:${rest}`, ended: `${tag}:ended` }
}

/**
 * The key of the prefix's generation, a counter `invalidate()` without a
 * session bumps: a value written in an older generation is never read again
 * (and expires with its token). One key, so Redis Cluster is fine with it.
 */
export const generationKey = (prefix: string): string => `${prefix}gen`

/** The plaintext stored for a token. */
interface Payload {
  readonly v: 1
  readonly jwt: string
  /** The prefix's generation it was fetched in: `invalidate()` without a session starts a new one. */
  readonly g: number
  readonly sessionId: string
  readonly template?: string
  readonly organizationId?: string
}

/** The plaintext of a token: the JWT with the request it answers and its generation. */
export const encodePayload = (request: TokenRequest, jwt: string, generation: number): string => {
  const payload: Payload = {
    v: 1,
    jwt,
    g: generation,
    sessionId: request.sessionId,
    ...(request.template === undefined ? {} : { template: request.template }),
    ...(request.organizationId === undefined ? {} : { organizationId: request.organizationId }),
  }
  return JSON.stringify(payload)
}

/**
 * The JWT of a value read back from Redis, if the payload names the same
 * request and was written in `generation`. Whether the JWT itself is well
 * formed (decodes, `sid`, lifetime) is checked by the client, as for any
 * token a share hands over.
 */
export const decodePayload = (
  request: TokenRequest,
  plaintext: string,
  generation: number,
): string | undefined => {
  let payload: unknown
  try {
    payload = JSON.parse(plaintext)
  } catch {
    return undefined
  }
  if (typeof payload !== "object" || payload === null) return undefined
  const { v, jwt, g, sessionId, template, organizationId } = payload as Record<string, unknown>
  return v === 1 &&
    g === generation &&
    sessionId === request.sessionId &&
    template === request.template &&
    organizationId === request.organizationId &&
    typeof jwt === "string"
    ? jwt
    : undefined
}
