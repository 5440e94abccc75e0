/**
 * JWT templates: named token shapes (lifetime, audience, extra claims) that
 * `POST …/tokens/:template` signs, like Clerk's dashboard templates.
 * @module
 */

/** A JSON value, as claims are written in a template. */
export type JsonValue =
  string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue }

/**
 * One JWT template. String values in `claims` may hold the shortcodes
 * `{{user.id}}`, `{{session.id}}` and `{{org.id}}`; a claim (or array element)
 * that is exactly one shortcode with no value (no organization) is left out,
 * inside a longer string it becomes `""`.
 */
export interface TokenTemplate {
  /** Lifetime in seconds; default: the server's current token lifetime. */
  readonly lifetime?: number
  /** The `aud` claim. */
  readonly audience?: string | readonly string[]
  /**
   * Extra claims; `iss`, `iat`, `nbf`, `exp`, `jti` and the identity claims `sub`, `sid`,
   * `azp` and `org_id` are the server's and cannot be set, and `__proto__`, `constructor`
   * and `prototype` are refused as keys at any depth.
   */
  readonly claims?: { readonly [claim: string]: JsonValue }
}

/** Templates by name. */
export type TokenTemplates = { readonly [name: string]: TokenTemplate }

/**
 * The templates every server has unless replaced by one of the same name. None sets
 * a lifetime, so all follow the server's token lifetime (60 s unless configured).
 *
 * - `supabase`: `aud: "authenticated"`, `role: "authenticated"` (Supabase's RLS roles).
 * - `hasura`: `https://hasura.io/jwt/claims` with `x-hasura-user-id`, the default and
 *   allowed roles, and `x-hasura-org-id` when the token is for an organization.
 * - `firebase`: `uid` (the user id) and Firebase's identity-toolkit audience.
 */
export const defaultTemplates: TokenTemplates = {
  supabase: {
    audience: "authenticated",
    claims: { role: "authenticated" },
  },
  hasura: {
    claims: {
      "https://hasura.io/jwt/claims": {
        "x-hasura-user-id": "{{user.id}}",
        "x-hasura-default-role": "user",
        "x-hasura-allowed-roles": ["user"],
        "x-hasura-org-id": "{{org.id}}",
      },
    },
  },
  firebase: {
    audience:
      "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit",
    claims: { uid: "{{user.id}}" },
  },
}

/**
 * Claims the server sets itself; a template may not: the registered ones, and the
 * identity claims (who and which session, party and organization the token is for),
 * or a template could make a token for another user.
 */
const reservedClaims = new Set(["iss", "iat", "nbf", "exp", "jti", "sub", "sid", "azp", "org_id"])
const shortcodes = new Set(["user.id", "session.id", "org.id"])
const shortcodePattern = /\{\{\s*([A-Za-z_.]+)\s*\}\}/g
const wholeShortcode = /^\{\{\s*([A-Za-z_.]+)\s*\}\}$/
/** A template name: safe in a URL path segment, never `.` or `..`. */
export const templateNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
/** The longest template lifetime accepted, in seconds (one day). */
export const maxLifetimeSeconds = 86_400

/** Whether `seconds` is a usable token lifetime: a whole number in [1, 86400]. */
export const isLifetime = (seconds: unknown): seconds is number =>
  typeof seconds === "number" &&
  Number.isInteger(seconds) &&
  seconds >= 1 &&
  seconds <= maxLifetimeSeconds

/**
 * Keys refused anywhere in a template's claims: a consumer that copies a token's
 * payload into a plain object (`Object.assign`, a spread, a deep merge) would
 * otherwise set its prototype (`{"__proto__":{"org_id":"org_admin"}}` slips past
 * the reserved claims) or shadow its constructor.
 */
const prototypeKeys = new Set(["__proto__", "constructor", "prototype"])

/** A template refused for a prototype key in its claims (HTTP 400, not 422). */
export class PrototypeKeyError extends Error {
  constructor(where: string, key: string) {
    super(`${where}: the key "${key}" is not allowed in claims`)
    this.name = "PrototypeKeyError"
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const checkJson = (value: unknown, where: string, depth: number): void => {
  if (depth > 16) throw new Error(`${where}: claims are nested too deeply`)
  if (typeof value === "string") {
    for (const match of value.matchAll(shortcodePattern)) {
      if (!shortcodes.has(match[1] ?? "")) {
        throw new Error(
          `${where}: unknown shortcode ${match[0]} (known: {{user.id}}, {{session.id}}, {{org.id}})`,
        )
      }
    }
    return
  }
  if (value === null || typeof value === "boolean") return
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`${where}: numbers must be finite`)
    return
  }
  if (Array.isArray(value)) {
    value.forEach((item, index) => checkJson(item, `${where}[${index}]`, depth + 1))
    return
  }
  if (isRecord(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (prototypeKeys.has(key)) throw new PrototypeKeyError(where, key)
      checkJson(item, `${where}.${key}`, depth + 1)
    }
    return
  }
  throw new Error(`${where}: not a JSON value`)
}

/**
 * Checks templates from options or a file (an object of templates by name) and
 * returns them; throws an `Error` naming the first problem.
 */
export const parseTemplates = (
  input: unknown,
  source = "templates",
): Record<string, TokenTemplate> => {
  if (!isRecord(input)) throw new Error(`${source}: expected an object of templates by name`)
  const out: Record<string, TokenTemplate> = {}
  for (const [name, raw] of Object.entries(input)) {
    const where = `${source}: template "${name}"`
    if (!templateNamePattern.test(name)) {
      throw new Error(
        `${where}: a name is 1-64 letters, digits, "_", "-" or "." and starts alphanumeric`,
      )
    }
    if (!isRecord(raw)) throw new Error(`${where}: expected an object`)
    for (const key of Object.keys(raw)) {
      if (key !== "lifetime" && key !== "audience" && key !== "claims") {
        throw new Error(`${where}: unknown field "${key}" (known: lifetime, audience, claims)`)
      }
    }
    const { lifetime, audience, claims } = raw
    if (lifetime !== undefined && !isLifetime(lifetime)) {
      throw new Error(
        `${where}: lifetime must be a whole number of seconds in [1, ${maxLifetimeSeconds}]`,
      )
    }
    const audienceOk =
      audience === undefined ||
      (typeof audience === "string" && audience !== "") ||
      (Array.isArray(audience) &&
        audience.length > 0 &&
        audience.every((item) => typeof item === "string" && item !== ""))
    if (!audienceOk) throw new Error(`${where}: audience must be a string or a list of strings`)
    if (claims !== undefined) {
      if (!isRecord(claims)) throw new Error(`${where}: claims must be an object`)
      for (const key of Object.keys(claims)) {
        if (reservedClaims.has(key))
          throw new Error(`${where}: the claim "${key}" is set by the server`)
      }
      if (audience !== undefined && "aud" in claims) {
        throw new Error(`${where}: set the audience either with "audience" or with an "aud" claim`)
      }
      checkJson(claims, `${where} claims`, 0)
    }
    out[name] = {
      ...(lifetime === undefined ? {} : { lifetime }),
      ...(audience === undefined ? {} : { audience: audience as string | string[] }),
      ...(claims === undefined ? {} : { claims: claims as Record<string, JsonValue> }),
    }
  }
  return out
}

/** The values shortcodes are filled with. */
export interface ClaimContext {
  readonly userId: string
  readonly sessionId: string
  readonly organizationId: string | undefined
}

const lookup = (code: string, context: ClaimContext): string | undefined =>
  code === "user.id"
    ? context.userId
    : code === "session.id"
      ? context.sessionId
      : code === "org.id"
        ? context.organizationId
        : undefined

/** An object for claims: no prototype, so every name (even `__proto__`) is a plain key. */
export const claimObject = (): Record<string, unknown> =>
  Object.create(null) as Record<string, unknown>

/** Sets a claim as an own, enumerable property, whatever its name. */
export const setClaim = (claims: Record<string, unknown>, name: string, value: unknown): void => {
  Object.defineProperty(claims, name, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  })
}

/** Marks a value to leave out of its object or array. */
const omit = Symbol("omit")

const fill = (value: JsonValue, context: ClaimContext): unknown => {
  if (typeof value === "string") {
    const whole = wholeShortcode.exec(value)
    if (whole) return lookup(whole[1] ?? "", context) ?? omit
    return value.replace(shortcodePattern, (_, code: string) => lookup(code, context) ?? "")
  }
  if (Array.isArray(value)) {
    return value.map((item: JsonValue) => fill(item, context)).filter((item) => item !== omit)
  }
  if (value !== null && typeof value === "object") {
    const out = claimObject()
    for (const [key, item] of Object.entries(value)) {
      const filled = fill(item, context)
      if (filled !== omit) setClaim(out, key, filled)
    }
    return out
  }
  return value
}

/** Fills a template's claims with the request's user, session and organization. */
export const renderClaims = (
  claims: { readonly [claim: string]: JsonValue } | undefined,
  context: ClaimContext,
): Record<string, unknown> =>
  claims ? (fill(claims, context) as Record<string, unknown>) : claimObject()
