/**
 * What a server issues tokens from: its sessions, templates, token lifetime and
 * signing key. No HTTP here; the routes and the handle's helpers both use it.
 * @module
 */
import { randomUUID } from "node:crypto"
import { SignJWT, type JWK } from "jose"
import type { SigningKey } from "./keys.ts"
import {
  isLifetime,
  maxLifetimeSeconds,
  parseTemplates,
  renderClaims,
  setClaim,
  type TokenTemplate,
  type TokenTemplates,
} from "./templates.ts"

/** A session as the session routes answer it (Clerk's shape). */
export interface DevSession {
  readonly object: "session"
  readonly id: string
  readonly user_id: string
  /** `"ended"` after sign-out or revocation. */
  readonly status: "active" | "ended"
  /** Epoch ms. */
  readonly created_at: number
  /** Epoch ms. */
  readonly updated_at: number
}

/** What `server.issueToken` signs: the same token a token route would. */
export interface IssueTokenRequest {
  readonly sessionId: string
  /** A template name; none = the session token. */
  readonly template?: string
  /** Adds `org_id` and fills `{{org.id}}`; `""` = none. */
  readonly organizationId?: string
  /** Becomes `azp`. */
  readonly origin?: string
}

/** How one token is signed, beyond its session and template. */
export interface SignRequest {
  readonly organizationId: string | undefined
  readonly origin: string | undefined
  /** Overrides the template's and the server's lifetime (seconds). */
  readonly lifetime: number | undefined
  /** Leave out `exp` (a fault). */
  readonly noExp: boolean
  /** Offset of the server's clock (a fault). */
  readonly clockSkewSeconds: number
}

/** An id or name from a request: 1–256 characters, no control characters. */
export const isIdentifier = (value: unknown): value is string =>
  typeof value === "string" &&
  value.length > 0 &&
  value.length <= 256 &&
  // eslint-disable-next-line no-control-regex
  !/[\u0000-\u001f\u007f]/.test(value)

/** Checks a token lifetime; throws an `Error` naming `where`. */
export const checkLifetime = (seconds: unknown, where: string): number => {
  if (!isLifetime(seconds)) {
    throw new Error(`${where} must be a whole number of seconds in [1, ${maxLifetimeSeconds}]`)
  }
  return seconds
}

/**
 * At most this many sessions are kept. Signing in beyond forgets the session that
 * ended first; with none ended, the sign-in is refused ({@link TooManySessionsError}):
 * an active session is never forgotten, so a flood of sign-ins signs nobody out.
 */
export const maxSessions = 10_000

/** A sign-in refused because {@link maxSessions} sessions are active. */
export class TooManySessionsError extends Error {
  constructor() {
    super(`${maxSessions} sessions are active: sign one out, or reset the server's sessions`)
    this.name = "TooManySessionsError"
  }
}
/** At most this many templates; adding more is refused. */
export const maxTemplates = 1_000

/** Sessions, templates and the signing of tokens for one server. */
export class Authority {
  /** The `iss` of every token: the server's URL, known once it listens. */
  issuer = ""
  readonly #key: SigningKey
  readonly #now: () => number
  /** In the order they started: the first is the oldest. */
  readonly #sessions = new Map<string, DevSession>()
  /** Ids of the ended sessions kept, in the order they ended. */
  readonly #ended = new Set<string>()
  readonly #templates: Map<string, TokenTemplate>
  #tokenLifetime: number

  constructor(options: {
    key: SigningKey
    now: () => number
    tokenLifetime: number
    templates: TokenTemplates
  }) {
    this.#key = options.key
    this.#now = options.now
    this.#tokenLifetime = checkLifetime(options.tokenLifetime, "tokenLifetime")
    this.#templates = new Map()
    this.setTemplates(options.templates)
  }

  /** The public keys. */
  jwks(): { readonly keys: readonly JWK[] } {
    return { keys: [this.#key.publicJwk] }
  }

  /** Starts an active session; throws for a bad user id, and {@link TooManySessionsError} at the cap. */
  signIn(userId: string): DevSession {
    if (!isIdentifier(userId)) {
      throw new Error("user_id must be 1-256 characters, no control characters")
    }
    const at = this.#now()
    const session: DevSession = {
      object: "session",
      id: `sess_${randomUUID().replaceAll("-", "")}`,
      user_id: userId,
      status: "active",
      created_at: at,
      updated_at: at,
    }
    if (this.#sessions.size >= maxSessions) {
      const evicted = this.#ended.values().next().value
      if (evicted === undefined) throw new TooManySessionsError()
      this.#sessions.delete(evicted)
      this.#ended.delete(evicted)
    }
    this.#sessions.set(session.id, session)
    return session
  }

  /** Ends a session (again is fine); `undefined` if unknown. */
  signOut(sessionId: string): DevSession | undefined {
    const session = this.#sessions.get(sessionId)
    if (!session || session.status === "ended") return session
    const ended: DevSession = { ...session, status: "ended", updated_at: this.#now() }
    this.#sessions.set(sessionId, ended)
    this.#ended.add(sessionId)
    return ended
  }

  /** A session by id. */
  session(sessionId: string): DevSession | undefined {
    return this.#sessions.get(sessionId)
  }

  /** Forgets every session. */
  clearSessions(): void {
    this.#sessions.clear()
    this.#ended.clear()
  }

  /** A template by name. */
  template(name: string): TokenTemplate | undefined {
    return this.#templates.get(name)
  }

  /** The templates in force, by name. */
  templates(): Record<string, TokenTemplate> {
    return Object.fromEntries(this.#templates)
  }

  /** Adds or replaces templates by name; throws on a bad one or too many, changing nothing. */
  setTemplates(input: TokenTemplates): void {
    const parsed = Object.entries(parseTemplates(input))
    const added = parsed.filter(([name]) => !this.#templates.has(name)).length
    if (this.#templates.size + added > maxTemplates) {
      throw new Error(
        `templates: at most ${maxTemplates} templates (there are ${this.#templates.size})`,
      )
    }
    for (const [name, template] of parsed) this.#templates.set(name, template)
  }

  /** The session token lifetime (s), and the default of templates without their own. */
  get tokenLifetime(): number {
    return this.#tokenLifetime
  }

  set tokenLifetime(seconds: number) {
    this.#tokenLifetime = checkLifetime(seconds, "tokenLifetime")
  }

  /**
   * Signs a token for a session. Claims: `sub`, `sid`, `azp`?, `org_id`?, `aud`?,
   * the template's claims, then the server's own `iss`, `iat`, `nbf`, `exp`, `jti`.
   */
  sign(session: DevSession, template: TokenTemplate | undefined, request: SignRequest) {
    const iat = Math.floor((this.#now() + request.clockSkewSeconds * 1000) / 1000)
    const lifetime = request.lifetime ?? template?.lifetime ?? this.#tokenLifetime
    // The template's claims first; the server's own (identity and registered) then
    // win, though templates cannot name those (see `parseTemplates`).
    const claims = renderClaims(template?.claims, {
      userId: session.user_id,
      sessionId: session.id,
      organizationId: request.organizationId,
    })
    const own: [string, unknown][] = [
      ["sub", session.user_id],
      ["sid", session.id],
      ...(request.origin === undefined ? [] : [["azp", request.origin] as [string, unknown]]),
      ...(request.organizationId === undefined
        ? []
        : [["org_id", request.organizationId] as [string, unknown]]),
      ...(template?.audience === undefined
        ? []
        : [["aud", template.audience] as [string, unknown]]),
      ["iss", this.issuer],
      ["iat", iat],
      ["nbf", iat],
      ...(request.noExp ? [] : [["exp", iat + lifetime] as [string, unknown]]),
      ["jti", randomUUID().replaceAll("-", "")],
    ]
    for (const [name, value] of own) setClaim(claims, name, value)
    return new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: this.#key.kid, typ: "JWT" })
      .sign(this.#key.privateKey)
  }
}
