/**
 * The dev token server: Clerk-compatible session and token routes, a JWKS, and
 * an admin API for fault injection, stats and run-time configuration.
 * @module
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { performance } from "node:perf_hooks"
import { setTimeout as delay } from "node:timers/promises"
import { SignJWT, type JWK } from "jose"
import {
  FaultController,
  parseFaultSettings,
  type FaultSettings,
  type FaultState,
} from "./faults.ts"
import {
  answerClientError,
  canonicalOrigin,
  ClientGone,
  corsHeaders,
  HttpError,
  json,
  malformedReply,
  originAllowed,
  parseBody,
  preflightHeaders,
  readBody,
  redact,
  Router,
  send,
  type BodyFields,
  type CorsPolicy,
  type Reply,
} from "./internal/http.ts"
import { generateSigningKey, type SigningKey } from "./keys.ts"
import { StatsRecorder, type DevServerStats } from "./stats.ts"
import {
  defaultTemplates,
  isLifetime,
  maxLifetimeSeconds,
  parseTemplates,
  renderClaims,
  type TokenTemplate,
  type TokenTemplates,
} from "./templates.ts"

/**
 * The secret key the server accepts unless given another. It is public on
 * purpose: the dev server guards nothing of value, and demos need a known key.
 */
export const DEFAULT_SECRET_KEY = "sk_test_tok_dev_server_not_a_secret"

/** Options of {@link startDevServer}; every one has a default. */
export interface DevServerOptions {
  /** TCP port; `0` (default) lets the OS choose one. */
  readonly port?: number
  /** Interface to bind; default `127.0.0.1`. */
  readonly host?: string
  /** Secret key the backend routes (`/v1/sessions/…`, `/v1/jwks`) require as a Bearer token; default {@link DEFAULT_SECRET_KEY}. */
  readonly secretKey?: string
  /** Session token lifetime in seconds, and the default for templates without their own; default 60. */
  readonly tokenLifetime?: number
  /** Templates added to {@link defaultTemplates} (a template of the same name replaces the default). */
  readonly templates?: TokenTemplates
  /** The signing key; default a fresh RS256 key made at start. */
  readonly signingKey?: SigningKey
  /**
   * Browser origins allowed by CORS, e.g. `["http://localhost:5173"]`; `["*"]` allows any.
   * Default: any `http(s)://localhost`, `127.0.0.1` or `[::1]` origin, on any port.
   */
  readonly corsOrigins?: readonly string[]
  /** Faults in force from the start. */
  readonly faults?: FaultSettings
  /** Largest request body accepted, in bytes; default 65536 (larger: 413). */
  readonly maxBodyBytes?: number
  /** Called with one line per request (method, path, status, time); no JWT or secret is ever in it. Default: no logging. */
  readonly log?: (line: string) => void
  /** The server's clock in epoch ms (for `iat`/`exp` and fault windows); default `Date.now`. */
  readonly now?: () => number
}

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

/** What {@link DevServer.issueToken} signs: the same token a token route would. */
export interface IssueTokenRequest {
  readonly sessionId: string
  /** A template name; none = the session token. */
  readonly template?: string
  /** Adds `org_id` and fills `{{org.id}}`. */
  readonly organizationId?: string
  /** Becomes `azp`. */
  readonly origin?: string
}

/** A running dev server, with helpers to drive it from tests without HTTP. */
export interface DevServer {
  /** Base URL, e.g. `http://127.0.0.1:43123`; also every token's `iss`. */
  readonly url: string
  /** The port bound. */
  readonly port: number
  /** The interface bound. */
  readonly host: string
  /** The `iss` claim of every token (equals `url`). */
  readonly issuer: string
  /** `${url}/.well-known/jwks.json`. */
  readonly jwksUrl: string
  /** The secret key the backend routes require. */
  readonly secretKey: string
  /** The public keys, as the JWKS routes serve them. */
  jwks(): { readonly keys: readonly JWK[] }
  /** Starts an active session for a user, as `POST /v1/client/sessions` does. */
  signIn(userId: string): DevSession
  /** Ends a session, as `DELETE /v1/client/sessions/:sid` does; `undefined` if unknown. */
  signOut(sessionId: string): DevSession | undefined
  /** A session by id, or `undefined`. */
  session(sessionId: string): DevSession | undefined
  /** Signs a token directly, without HTTP, faults or stats; rejects for an unknown or ended session or template. */
  issueToken(request: IssueTokenRequest): Promise<string>
  /** Merges fault settings (see {@link FaultSettings}) and returns the faults now in force; throws on bad settings. */
  setFaults(settings: FaultSettings): FaultState
  /** Clears every fault. */
  clearFaults(): void
  /** The faults in force. */
  faults(): FaultState
  /** Request counters since start or the last reset. */
  stats(): DevServerStats
  /** Clears faults and stats; with `{ sessions: true }` forgets every session too. Config is kept. */
  reset(options?: { readonly sessions?: boolean }): void
  /** The current token lifetime in seconds. */
  readonly tokenLifetime: number
  /** Sets the session token lifetime (and the default of templates without their own), in seconds. */
  setTokenLifetime(seconds: number): void
  /** The templates in force. */
  templates(): TokenTemplates
  /** Adds or replaces templates; throws on a bad template. */
  setTemplates(templates: TokenTemplates): void
  /** Stops listening and closes every connection; resolves when closed. Safe to call twice. */
  stop(): Promise<void>
  /** `await using server = await startDevServer()` stops it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void>
}

/** The request context handlers get. */
interface Context {
  readonly req: IncomingMessage
  /** The canonical `Origin` of the request, if any (allowed by CORS or not). */
  readonly origin: string | undefined
  /** Reads and parses the body (bounded). */
  body(): Promise<BodyFields>
}

/** One fault kind applied to a request, for the log line. */
type AppliedFault = "latency" | "fail" | "drop" | "malformed" | "no-exp"

/** An id or name from a request: 1–256 characters, no control characters. */
const isIdentifier = (value: unknown): value is string =>
  typeof value === "string" &&
  value.length > 0 &&
  value.length <= 256 &&
  // eslint-disable-next-line no-control-regex
  !/[\u0000-\u001f\u007f]/.test(value)

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest()

const urlHost = (host: string): string =>
  host === "0.0.0.0"
    ? "127.0.0.1"
    : host === "::"
      ? "[::1]"
      : host.includes(":")
        ? `[${host}]`
        : host

const corsPolicy = (origins: readonly string[] | undefined): CorsPolicy => {
  if (origins === undefined) return { kind: "local" }
  if (origins.includes("*")) return { kind: "any" }
  const set = new Set<string>()
  for (const origin of origins) {
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      throw new Error(`corsOrigins: "${origin}" is not an origin like http://localhost:5173`)
    }
    if (
      (url.protocol !== "http:" && url.protocol !== "https:") ||
      url.pathname !== "/" ||
      url.search
    ) {
      throw new Error(`corsOrigins: "${origin}" is not an origin like http://localhost:5173`)
    }
    set.add(url.origin)
  }
  return { kind: "list", origins: set }
}

const checkLifetime = (seconds: unknown, where: string): number => {
  if (!isLifetime(seconds)) {
    throw new Error(`${where} must be a whole number of seconds in [1, ${maxLifetimeSeconds}]`)
  }
  return seconds
}

/** Turns a thrown validation `Error` into a 422 answer. */
const invalid = (error: unknown): HttpError =>
  new HttpError(
    422,
    "form_param_invalid",
    error instanceof Error ? error.message : "Invalid input.",
  )

/**
 * Starts a dev token server and resolves once it listens.
 * @example
 * import { startDevServer } from "@tok/dev-server"
 *
 * const server = await startDevServer({ tokenLifetime: 8 })
 * const session = server.signIn("user_1")
 * const res = await fetch(`${server.url}/v1/client/sessions/${session.id}/tokens`, { method: "POST" })
 * const { jwt } = await res.json()
 * server.setFaults({ fail: { status: 503, count: 2 } })
 * await server.stop()
 */
export const startDevServer = async (options: DevServerOptions = {}): Promise<DevServer> => {
  const host = options.host ?? "127.0.0.1"
  const port = options.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error("port must be a whole number in [0, 65535]")
  }
  const secretKey = options.secretKey ?? DEFAULT_SECRET_KEY
  if (secretKey.length < 8) throw new Error("secretKey must be at least 8 characters")
  const secretDigest = sha256(secretKey)
  let tokenLifetime = checkLifetime(options.tokenLifetime ?? 60, "tokenLifetime")
  const maxBodyBytes = options.maxBodyBytes ?? 65_536
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) {
    throw new Error("maxBodyBytes must be a positive whole number")
  }
  const now = options.now ?? Date.now
  const log = options.log
  const policy = corsPolicy(options.corsOrigins)
  const templates = new Map<string, TokenTemplate>(
    Object.entries({ ...defaultTemplates, ...parseTemplates(options.templates ?? {}) }),
  )
  const faults = new FaultController(now)
  if (options.faults) faults.apply(options.faults)
  const stats = new StatsRecorder()
  const sessions = new Map<string, DevSession>()
  const key = options.signingKey ?? (await generateSigningKey())
  const jwks = { keys: [key.publicJwk] }
  const stopped = new AbortController()
  /** The fault applied to a request, for its log line. */
  const applied = new WeakMap<IncomingMessage, AppliedFault>()
  let issuer = ""

  // --- sessions and tokens -------------------------------------------------

  const signIn = (userId: string): DevSession => {
    if (!isIdentifier(userId))
      throw new Error("user_id must be 1-256 characters, no control characters")
    const at = now()
    const session: DevSession = {
      object: "session",
      id: `sess_${randomUUID().replaceAll("-", "")}`,
      user_id: userId,
      status: "active",
      created_at: at,
      updated_at: at,
    }
    sessions.set(session.id, session)
    return session
  }

  const signOut = (sessionId: string): DevSession | undefined => {
    const session = sessions.get(sessionId)
    if (!session || session.status === "ended") return session
    const ended: DevSession = { ...session, status: "ended", updated_at: now() }
    sessions.set(sessionId, ended)
    return ended
  }

  const activeSession = (sessionId: string): DevSession => {
    const session = sessions.get(sessionId)
    if (!session) {
      throw new HttpError(401, "session_not_found", "No session with this id.", {
        longMessage: "The session does not exist on this server. Sign in again.",
      })
    }
    if (session.status !== "active") {
      throw new HttpError(401, "signed_out", "The session has ended.", {
        longMessage: "The session was signed out or revoked. Sign in again.",
      })
    }
    return session
  }

  const findTemplate = (name: string | undefined): TokenTemplate | undefined => {
    if (name === undefined) return undefined
    const template = templates.get(name)
    if (!template) {
      throw new HttpError(404, "resource_not_found", "No JWT template with this name.", {
        longMessage: "The JWT template does not exist. See GET /__tok/config for the names.",
      })
    }
    return template
  }

  const sign = (
    session: DevSession,
    template: TokenTemplate | undefined,
    request: {
      organizationId: string | undefined
      origin: string | undefined
      lifetime: number | undefined
      noExp: boolean
    },
  ): Promise<string> => {
    const iat = Math.floor((now() + faults.clockSkewSeconds * 1000) / 1000)
    const lifetime = request.lifetime ?? template?.lifetime ?? tokenLifetime
    const claims: Record<string, unknown> = {
      sub: session.user_id,
      sid: session.id,
      ...(request.origin === undefined ? {} : { azp: request.origin }),
      ...(request.organizationId === undefined ? {} : { org_id: request.organizationId }),
      ...(template?.audience === undefined ? {} : { aud: template.audience }),
      ...renderClaims(template?.claims, {
        userId: session.user_id,
        sessionId: session.id,
        organizationId: request.organizationId,
      }),
      iss: issuer,
      iat,
      nbf: iat,
      ...(request.noExp ? {} : { exp: iat + lifetime }),
      jti: randomUUID().replaceAll("-", ""),
    }
    return new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "JWT" })
      .sign(key.privateKey)
  }

  // --- request helpers ------------------------------------------------------

  const requireSecret = (req: IncomingMessage): void => {
    const header = req.headers.authorization
    if (header === undefined || header === "") {
      throw new HttpError(401, "authorization_header_missing", "Missing secret key.", {
        longMessage: "Send the secret key as `Authorization: Bearer <secret key>`.",
      })
    }
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
    const given = sha256(match?.[1] ?? "")
    if (!match || !timingSafeEqual(given, secretDigest)) {
      throw new HttpError(401, "clerk_key_invalid", "The secret key is not valid.", {
        longMessage: "The Bearer token does not match the server's secret key.",
      })
    }
  }

  const optionalId = (body: BodyFields, field: string): string | undefined => {
    const value = body[field]
    if (value === undefined || value === null || value === "") return undefined
    if (!isIdentifier(value)) {
      throw new HttpError(
        422,
        "form_param_invalid",
        `${field} must be a string of 1-256 characters.`,
      )
    }
    return value
  }

  const optionalLifetime = (body: BodyFields): number | undefined => {
    const raw = body.expires_in_seconds
    if (raw === undefined || raw === null || raw === "") return undefined
    const value = typeof raw === "string" && /^\d{1,6}$/.test(raw) ? Number(raw) : raw
    if (!isLifetime(value)) {
      throw new HttpError(
        422,
        "form_param_invalid",
        `expires_in_seconds must be a whole number in [1, ${maxLifetimeSeconds}].`,
      )
    }
    return value
  }

  /** The token routes, frontend and backend: faults first, then the request itself. */
  const tokenRoute =
    (backend: boolean) =>
    async (context: Context, params: Readonly<Record<string, string>>): Promise<Reply> => {
      const sessionId = params.sid ?? ""
      stats.tokenRequest(sessionId)
      const fault = faults.takeTransportFault()
      const latency = faults.latencyMs
      if (latency > 0) {
        stats.fault("delayed")
        applied.set(context.req, "latency")
        try {
          await delay(latency, undefined, { signal: stopped.signal })
        } catch {
          return { kind: "drop" } // the server is stopping
        }
      }
      if (fault.kind === "drop") {
        stats.fault("dropped")
        applied.set(context.req, "drop")
        return { kind: "drop" }
      }
      if (fault.kind === "fail") {
        stats.fault("failed")
        applied.set(context.req, "fail")
        const headers: Record<string, string> =
          fault.retryAfterSeconds === undefined
            ? {}
            : { "Retry-After": String(fault.retryAfterSeconds) }
        throw fault.status === 429
          ? new HttpError(429, "too_many_requests", "Too many requests (injected fault).", {
              headers,
            })
          : new HttpError(fault.status, "injected_fault", `Injected failure (${fault.status}).`, {
              headers,
            })
      }
      if (backend) requireSecret(context.req)
      const body = await context.body()
      const organizationId = optionalId(body, "organization_id")
      const lifetime = optionalLifetime(body)
      const session = activeSession(sessionId)
      const template = findTemplate(params.template)
      const malformed = faults.takeMalformed()
      if (malformed !== undefined) {
        stats.fault("malformed")
        applied.set(context.req, "malformed")
        return malformedReply(malformed)
      }
      const noExp = faults.takeNoExp()
      if (noExp) {
        stats.fault("noExp")
        applied.set(context.req, "no-exp")
      }
      const jwt = await sign(session, template, {
        organizationId,
        origin: context.origin,
        lifetime,
        noExp,
      })
      stats.tokenIssued(sessionId)
      return json(200, { object: "token", jwt })
    }

  const config = () => ({
    issuer,
    jwksUrl: `${issuer}/.well-known/jwks.json`,
    tokenLifetime,
    templates: Object.fromEntries(templates),
  })

  const setTemplates = (input: TokenTemplates) => {
    for (const [name, template] of Object.entries(parseTemplates(input)))
      templates.set(name, template)
  }

  const reset = (resetOptions: { readonly sessions?: boolean } = {}) => {
    faults.clear()
    stats.reset()
    if (resetOptions.sessions === true) sessions.clear()
  }

  // --- routes ---------------------------------------------------------------

  const router = new Router<Context>()
    .on("GET", "/", async () =>
      json(200, {
        object: "tok_dev_server",
        issuer,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        admin: `${issuer}/__tok`,
      }),
    )
    .on("GET", "/.well-known/jwks.json", async () => json(200, jwks))
    .on("GET", "/.well-known/openid-configuration", async () =>
      json(200, {
        issuer,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        id_token_signing_alg_values_supported: ["RS256"],
        subject_types_supported: ["public"],
        response_types_supported: ["id_token"],
      }),
    )
    .on("GET", "/v1/jwks", async ({ req }) => {
      requireSecret(req)
      return json(200, jwks)
    })
    .on("POST", "/v1/client/sessions", async (context) => {
      const body = await context.body()
      if (body.user_id === undefined || body.user_id === "") {
        throw new HttpError(422, "form_param_missing", "user_id is required.")
      }
      if (!isIdentifier(body.user_id)) {
        throw new HttpError(
          422,
          "form_param_invalid",
          "user_id must be a string of 1-256 characters.",
        )
      }
      return json(200, signIn(body.user_id))
    })
    .on("GET", "/v1/client/sessions/:sid", async (_, { sid = "" }) => {
      const session = sessions.get(sid)
      if (!session) throw new HttpError(404, "resource_not_found", "No session with this id.")
      return json(200, session)
    })
    .on("DELETE", "/v1/client/sessions/:sid", async (_, { sid = "" }) => {
      const session = signOut(sid)
      if (!session) throw new HttpError(404, "resource_not_found", "No session with this id.")
      return json(200, session)
    })
    .on("POST", "/v1/client/sessions/:sid/tokens", tokenRoute(false))
    .on("POST", "/v1/client/sessions/:sid/tokens/:template", tokenRoute(false))
    .on("GET", "/v1/sessions/:sid", async ({ req }, { sid = "" }) => {
      requireSecret(req)
      const session = sessions.get(sid)
      if (!session) throw new HttpError(404, "resource_not_found", "No session with this id.")
      return json(200, session)
    })
    .on("POST", "/v1/sessions/:sid/revoke", async ({ req }, { sid = "" }) => {
      requireSecret(req)
      const session = signOut(sid)
      if (!session) throw new HttpError(404, "resource_not_found", "No session with this id.")
      return json(200, session)
    })
    .on("POST", "/v1/sessions/:sid/tokens", tokenRoute(true))
    .on("POST", "/v1/sessions/:sid/tokens/:template", tokenRoute(true))
    // The admin API: not counted in the stats, never faulted.
    .on("GET", "/__tok/faults", async () => json(200, faults.state()), false)
    .on(
      "POST",
      "/__tok/faults",
      async (context) => {
        const body = await context.body()
        let settings: FaultSettings
        try {
          settings = parseFaultSettings(body)
        } catch (error) {
          throw invalid(error)
        }
        faults.apply(settings)
        return json(200, faults.state())
      },
      false,
    )
    .on(
      "DELETE",
      "/__tok/faults",
      async () => {
        faults.clear()
        return json(200, faults.state())
      },
      false,
    )
    .on("GET", "/__tok/stats", async () => json(200, stats.snapshot()), false)
    .on(
      "POST",
      "/__tok/reset",
      async (context) => {
        const body = await context.body()
        const clearSessions = body.sessions
        if (clearSessions !== undefined && typeof clearSessions !== "boolean") {
          throw new HttpError(422, "form_param_invalid", "sessions must be true or false.")
        }
        reset({ sessions: clearSessions === true })
        return json(200, { ok: true })
      },
      false,
    )
    .on("GET", "/__tok/config", async () => json(200, config()), false)
    .on(
      "POST",
      "/__tok/config",
      async (context) => {
        const body = await context.body()
        try {
          for (const field of Object.keys(body)) {
            if (field !== "tokenLifetime" && field !== "templates") {
              throw new Error(`config: unknown field "${field}" (known: tokenLifetime, templates)`)
            }
          }
          const lifetime =
            body.tokenLifetime === undefined
              ? undefined
              : checkLifetime(body.tokenLifetime, "tokenLifetime")
          const added = body.templates === undefined ? {} : parseTemplates(body.templates)
          if (lifetime !== undefined) tokenLifetime = lifetime
          setTemplates(added)
        } catch (error) {
          throw invalid(error)
        }
        return json(200, config())
      },
      false,
    )

  // --- the server -------------------------------------------------------------

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now()
    const method = req.method ?? "GET"
    const rawUrl = req.url ?? "/"
    const path = rawUrl.split("?", 1)[0] ?? "/"
    const origin =
      req.headers.origin === undefined ? undefined : canonicalOrigin(req.headers.origin)
    const allowed = origin !== undefined && originAllowed(policy, origin)
    const headers: Record<string, string> = {
      Vary: "Origin",
      ...(allowed ? corsHeaders(origin) : {}),
    }
    let reply: Reply
    try {
      reply = await route(req, method, path, origin, allowed)
    } catch (error) {
      if (error instanceof ClientGone) reply = { kind: "drop" }
      else if (error instanceof HttpError) {
        reply = json(error.status, error.body(), {
          ...error.headers,
          ...(error.status === 413 ? { Connection: "close" } : {}),
        })
      } else {
        log?.(`[tok] internal error: ${redact(String(error), secretKey)}`)
        reply = json(500, { errors: [{ code: "internal_error", message: "Internal error." }] })
      }
    }
    send(req, res, reply, headers)
    if (log) {
      const status = reply.kind === "drop" ? "dropped" : String(reply.status)
      const fault = applied.get(req)
      const ms = (performance.now() - started).toFixed(1)
      log(
        `[tok] ${redact(method, secretKey)} ${redact(path, secretKey)} ${status} ${ms}ms` +
          (fault ? ` fault=${fault}` : ""),
      )
    }
  }

  const route = async (
    req: IncomingMessage,
    method: string,
    path: string,
    origin: string | undefined,
    allowed: boolean,
  ): Promise<Reply> => {
    if (method === "OPTIONS") {
      const preflight =
        origin !== undefined && req.headers["access-control-request-method"] !== undefined
      if (preflight) {
        if (!allowed) {
          throw new HttpError(403, "origin_not_allowed", "This origin may not call the server.", {
            longMessage: "Start the server with --cors-origin <origin> to allow it.",
          })
        }
        return { kind: "empty", status: 204, headers: preflightHeaders(origin, req) }
      }
      if (router.hasPath(path)) {
        return {
          kind: "empty",
          status: 204,
          headers: { Allow: "GET, HEAD, POST, DELETE, OPTIONS" },
        }
      }
    }
    const match = router.match(method, path)
    switch (match.kind) {
      case "bad-path":
        stats.request("unmatched")
        throw new HttpError(400, "malformed_request", "The request path is not valid.")
      case "not-found":
        stats.request("unmatched")
        throw new HttpError(404, "resource_not_found", "No such route.")
      case "method-not-allowed":
        stats.request("unmatched")
        throw new HttpError(405, "method_not_allowed", "This route does not take this method.", {
          headers: { Allow: match.allow.join(", ") },
        })
      case "found": {
        const { route: found, params } = match
        if (found.counted) stats.request(`${found.method} ${found.pattern}`)
        let body: Promise<BodyFields> | undefined
        const context: Context = {
          req,
          origin,
          body: () =>
            (body ??= readBody(req, maxBodyBytes).then((raw) =>
              parseBody(raw, req.headers["content-type"]),
            )),
        }
        return found.handler(context, params)
      }
    }
  }

  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    handle(req, res).catch(() => req.socket.destroy())
  })
  server.on("clientError", answerClientError)

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error & { code?: string }) => {
      server.off("listening", onListening)
      reject(
        error.code === "EADDRINUSE"
          ? new Error(`port ${port} is already in use on ${host}`, { cause: error })
          : error.code === "EADDRNOTAVAIL" || error.code === "ENOTFOUND"
            ? new Error(`cannot bind to host ${host}`, { cause: error })
            : error,
      )
    }
    const onListening = () => {
      server.off("error", onError)
      resolve()
    }
    server.once("error", onError)
    server.once("listening", onListening)
    server.listen({ port, host })
  })

  const bound = (server.address() as AddressInfo).port
  const url = `http://${urlHost(host)}:${bound}`
  issuer = url

  let stopping: Promise<void> | undefined
  const stop = () =>
    (stopping ??= new Promise<void>((resolve) => {
      stopped.abort()
      server.close(() => resolve())
      server.closeAllConnections()
    }))

  return {
    url,
    port: bound,
    host,
    issuer,
    jwksUrl: `${url}/.well-known/jwks.json`,
    secretKey,
    jwks: () => jwks,
    signIn,
    signOut,
    session: (sessionId) => sessions.get(sessionId),
    issueToken: async (request) => {
      const session = sessions.get(request.sessionId)
      if (!session || session.status !== "active") throw new Error("no active session with this id")
      const template = request.template === undefined ? undefined : templates.get(request.template)
      if (request.template !== undefined && !template)
        throw new Error("no JWT template with this name")
      return sign(session, template, {
        organizationId: request.organizationId === "" ? undefined : request.organizationId,
        origin: request.origin,
        lifetime: undefined,
        noExp: false,
      })
    },
    setFaults: (settings) => {
      faults.apply(settings)
      return faults.state()
    },
    clearFaults: () => faults.clear(),
    faults: () => faults.state(),
    stats: () => stats.snapshot(),
    reset,
    get tokenLifetime() {
      return tokenLifetime
    },
    setTokenLifetime: (seconds) => {
      tokenLifetime = checkLifetime(seconds, "tokenLifetime")
    },
    templates: () => Object.fromEntries(templates),
    setTemplates,
    stop,
    [Symbol.asyncDispose]: stop,
  }
}
