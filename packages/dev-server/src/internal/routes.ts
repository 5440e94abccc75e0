/**
 * The routes: Clerk's session, token and JWKS routes, and the `/__tok` admin API.
 * @internal
 */
import { createHash, timingSafeEqual } from "node:crypto"
import type { IncomingMessage } from "node:http"
import { setTimeout as delay } from "node:timers/promises"
import { checkLifetime, isIdentifier, TooManySessionsError, type Authority } from "../authority.ts"
import { parseFaultSettings, type FaultController, type FaultSettings } from "../faults.ts"
import { DEV_BROWSER_PARAM, publishableKeyFor, type DevBrowsers } from "../instance.ts"
import type { StatsRecorder } from "../stats.ts"
import { isLifetime, maxLifetimeSeconds, parseTemplates, PrototypeKeyError } from "../templates.ts"
import { HttpError, json, malformedReply, Router, type BodyFields, type Reply } from "./http.ts"
import { redact } from "./redact.ts"

/** The request as handlers see it. */
export interface Context {
  readonly req: IncomingMessage
  /** The canonical `Origin` of the request, if any (allowed by CORS or not). */
  readonly origin: string | undefined
  /** Reads and parses the body (bounded); the same promise on every call. */
  body(): Promise<BodyFields>
}

/** A fault applied to a request, for its log line. */
export type AppliedFault = "latency" | "fail" | "drop" | "malformed" | "no-exp"

/** What the routes work on. */
export interface RouteDeps {
  readonly authority: Authority
  readonly faults: FaultController
  readonly stats: StatsRecorder
  readonly secretKey: string
  /** Aborted when the server stops: cuts injected latency short. */
  readonly stopped: AbortSignal
  /** Notes the fault applied to a request. */
  readonly applied: (req: IncomingMessage, fault: AppliedFault) => void
  /** Clears faults and stats (and sessions when asked). */
  readonly reset: (options: { readonly sessions?: boolean }) => void
  /** A development instance's dev-browser tokens; `undefined` for a production instance. */
  readonly devBrowsers?: DevBrowsers | undefined
}

/** `Retry-After` of a sign-in refused at the session cap: a guess at when one may have ended. */
const sessionsRetryAfterSeconds = 30

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest()

/**
 * Turns a thrown validation `Error` into a 422 answer (400 for a prototype key).
 * Its message names the bad field as sent, so it is redacted: a JWT or key sent
 * as a field name is not echoed.
 */
const invalid = (error: unknown, secretKey: string): HttpError =>
  error instanceof PrototypeKeyError
    ? new HttpError(400, "malformed_request", redact(error.message, secretKey), {
        longMessage: "__proto__, constructor and prototype are refused as keys in claims.",
      })
    : new HttpError(
        422,
        "form_param_invalid",
        error instanceof Error ? redact(error.message, secretKey) : "Invalid input.",
      )

const sessionNotFound = () => new HttpError(404, "resource_not_found", "No session with this id.")

/** An optional id field: absent, `null` or `""` is `undefined`. */
const optionalId = (body: BodyFields, field: string): string | undefined => {
  const value = body[field]
  if (value === undefined || value === null || value === "") return undefined
  if (!isIdentifier(value)) {
    throw new HttpError(422, "form_param_invalid", `${field} must be a string of 1-256 characters.`)
  }
  return value
}

/** Clerk's backend `expires_in_seconds`, a number or a numeric form field. */
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

/** Builds the router of one server. */
export const routes = (deps: RouteDeps): Router<Context> => {
  const { authority, faults, stats, stopped, applied } = deps
  const secretDigest = sha256(deps.secretKey)

  /** Backend routes: `Authorization: Bearer <secret>`, compared in constant time. */
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

  /**
   * A development instance's Frontend API: the `__clerk_db_jwt` query
   * parameter must hold a dev-browser token it issued, or the answer is
   * Clerk's 401 `dev_browser_unauthenticated`.
   */
  const requireDevBrowser = (req: IncomingMessage, devBrowsers: DevBrowsers): void => {
    const query = new URLSearchParams((req.url ?? "").split("?")[1] ?? "")
    const problem = devBrowsers.check(query.get(DEV_BROWSER_PARAM))
    if (problem === undefined) return
    throw new HttpError(401, "dev_browser_unauthenticated", "Browser unauthenticated", {
      longMessage:
        problem === "missing"
          ? `This is a development instance: send the dev-browser token as the ${DEV_BROWSER_PARAM} query parameter (get one with POST /v1/dev_browser).`
          : "This development instance does not know the dev-browser token (stale, or from another instance or an earlier run): get a new one with POST /v1/dev_browser.",
    })
  }

  const activeSession = (sessionId: string) => {
    const session = authority.session(sessionId)
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

  const findTemplate = (name: string | undefined) => {
    if (name === undefined) return undefined
    const template = authority.template(name)
    if (!template) {
      throw new HttpError(404, "resource_not_found", "No JWT template with this name.", {
        longMessage: "The JWT template does not exist. See GET /__tok/config for the names.",
      })
    }
    return template
  }

  /**
   * The token routes, frontend and backend. Transport faults and latency come
   * first (they stand for the network), then the secret, body, session and
   * template, then content faults, then the signature.
   */
  const tokenRoute =
    (backend: boolean) =>
    async (context: Context, params: Readonly<Record<string, string>>): Promise<Reply> => {
      const sessionId = params.sid ?? ""
      // Per-session counts only for sessions this server has: any path segment is no key.
      stats.tokenRequest(sessionId, authority.session(sessionId) !== undefined)
      const fault = faults.takeTransportFault()
      // The body is read from the start, while latency runs: a client that goes
      // meanwhile ends the read at once. Its errors are answered in their turn.
      const bodyRead = context.body()
      bodyRead.catch(() => undefined)
      if (faults.latencyMs > 0) {
        stats.fault("delayed")
        applied(context.req, "latency")
        try {
          await delay(faults.latencyMs, undefined, { signal: stopped })
        } catch {
          return { kind: "drop" } // the server is stopping
        }
      }
      if (fault.kind === "drop") {
        stats.fault("dropped")
        applied(context.req, "drop")
        return { kind: "drop" }
      }
      if (fault.kind === "fail") {
        stats.fault("failed")
        applied(context.req, "fail")
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
      else if (deps.devBrowsers !== undefined) requireDevBrowser(context.req, deps.devBrowsers)
      const body = await bodyRead
      const organizationId = optionalId(body, "organization_id")
      const lifetime = optionalLifetime(body)
      const session = activeSession(sessionId)
      const template = findTemplate(params.template)
      const malformed = faults.takeMalformed()
      if (malformed !== undefined) {
        stats.fault("malformed")
        applied(context.req, "malformed")
        return malformedReply(malformed)
      }
      const noExp = faults.takeNoExp()
      if (noExp) {
        stats.fault("noExp")
        applied(context.req, "no-exp")
      }
      const jwt = await authority.sign(session, template, {
        organizationId,
        origin: context.origin,
        lifetime,
        noExp,
        clockSkewSeconds: faults.clockSkewSeconds,
      })
      stats.tokenIssued(sessionId)
      return json(200, { object: "token", jwt })
    }

  const config = () => ({
    issuer: authority.issuer,
    jwksUrl: `${authority.issuer}/.well-known/jwks.json`,
    tokenLifetime: authority.tokenLifetime,
    templates: authority.templates(),
    ...instanceConfig(),
  })

  /** The instance's kind and publishable key (known once the server listens). */
  const instanceConfig = () => {
    const instance = deps.devBrowsers === undefined ? "production" : "development"
    return { instance, publishableKey: publishableKeyFor(instance, authority.issuer) }
  }

  const router = new Router<Context>()

  // Discovery and keys.
  router
    .on("GET", "/", async () =>
      json(200, {
        object: "tok_dev_server",
        issuer: authority.issuer,
        jwks_uri: `${authority.issuer}/.well-known/jwks.json`,
        admin: `${authority.issuer}/__tok`,
      }),
    )
    .on("GET", "/.well-known/jwks.json", async () => json(200, authority.jwks()))
    .on("GET", "/.well-known/openid-configuration", async () =>
      json(200, {
        issuer: authority.issuer,
        jwks_uri: `${authority.issuer}/.well-known/jwks.json`,
        id_token_signing_alg_values_supported: ["RS256"],
        subject_types_supported: ["public"],
        response_types_supported: ["id_token"],
      }),
    )
    .on("GET", "/v1/jwks", async ({ req }) => {
      requireSecret(req)
      return json(200, authority.jwks())
    })

  // Frontend API of a development instance: a dev browser for each browser.
  const devBrowsers = deps.devBrowsers
  if (devBrowsers !== undefined) {
    router.on("POST", "/v1/dev_browser", async () =>
      json(200, { object: "dev_browser", id: devBrowsers.create() }),
    )
  }

  // Frontend API: sign in, read, sign out, tokens.
  router
    .on("POST", "/v1/client/sessions", async (context) => {
      const { user_id: userId } = await context.body()
      if (userId === undefined || userId === "") {
        throw new HttpError(422, "form_param_missing", "user_id is required.")
      }
      if (!isIdentifier(userId)) {
        throw new HttpError(
          422,
          "form_param_invalid",
          "user_id must be a string of 1-256 characters.",
        )
      }
      try {
        return json(200, authority.signIn(userId))
      } catch (error) {
        if (!(error instanceof TooManySessionsError)) throw error
        throw new HttpError(503, "too_many_sessions", "Too many active sessions.", {
          longMessage: error.message,
          headers: { "Retry-After": String(sessionsRetryAfterSeconds) },
        })
      }
    })
    .on("GET", "/v1/client/sessions/:sid", async (_, { sid = "" }) => {
      const session = authority.session(sid)
      if (!session) throw sessionNotFound()
      return json(200, session)
    })
    .on("DELETE", "/v1/client/sessions/:sid", async (_, { sid = "" }) => {
      const session = authority.signOut(sid)
      if (!session) throw sessionNotFound()
      return json(200, session)
    })
    .on("POST", "/v1/client/sessions/:sid/tokens", tokenRoute(false))
    .on("POST", "/v1/client/sessions/:sid/tokens/:template", tokenRoute(false))

  // Backend API: behind the secret key.
  router
    .on("GET", "/v1/sessions/:sid", async ({ req }, { sid = "" }) => {
      requireSecret(req)
      const session = authority.session(sid)
      if (!session) throw sessionNotFound()
      return json(200, session)
    })
    .on("POST", "/v1/sessions/:sid/revoke", async ({ req }, { sid = "" }) => {
      requireSecret(req)
      const session = authority.signOut(sid)
      if (!session) throw sessionNotFound()
      return json(200, session)
    })
    .on("POST", "/v1/sessions/:sid/tokens", tokenRoute(true))
    .on("POST", "/v1/sessions/:sid/tokens/:template", tokenRoute(true))

  // The admin API: not counted in the stats (`false`), never faulted.
  router
    .on("GET", "/__tok/faults", async () => json(200, faults.state()), false)
    .on(
      "POST",
      "/__tok/faults",
      async (context) => {
        let settings: FaultSettings
        try {
          settings = parseFaultSettings(await context.body())
        } catch (error) {
          if (error instanceof HttpError) throw error
          throw invalid(error, deps.secretKey)
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
    .on(
      "GET",
      "/__tok/stats",
      async ({ req }) => {
        const query = new URLSearchParams((req.url ?? "").split("?")[1] ?? "")
        const sessionId = query.get("session")
        if (sessionId === null) {
          // Session ids only for the secret key: with them, any local page could
          // mint tokens for every session through the frontend token route.
          const { sessions, ...totals } = stats.snapshot()
          if (req.headers.authorization === undefined) return json(200, totals)
          requireSecret(req)
          return json(200, { ...totals, sessions })
        }
        if (!isIdentifier(sessionId)) {
          throw new HttpError(422, "form_param_invalid", "session must be a session id.")
        }
        return json(200, { session: sessionId, ...stats.session(sessionId) })
      },
      false,
    )
    .on(
      "POST",
      "/__tok/reset",
      async (context) => {
        const { sessions } = await context.body()
        if (sessions !== undefined && typeof sessions !== "boolean") {
          throw new HttpError(422, "form_param_invalid", "sessions must be true or false.")
        }
        deps.reset({ sessions: sessions === true })
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
          // Check everything before changing anything.
          const lifetime =
            body.tokenLifetime === undefined
              ? undefined
              : checkLifetime(body.tokenLifetime, "tokenLifetime")
          const added = body.templates === undefined ? {} : parseTemplates(body.templates)
          if (lifetime !== undefined) authority.tokenLifetime = lifetime
          authority.setTemplates(added)
        } catch (error) {
          throw invalid(error, deps.secretKey)
        }
        return json(200, config())
      },
      false,
    )

  return router
}
