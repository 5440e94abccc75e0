/**
 * The dev token server: options, the handle, and the HTTP wiring (CORS, routing
 * errors, logging, listen and stop). The routes are in `internal/routes.ts`.
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { performance } from "node:perf_hooks"
import type { JWK } from "jose"
import { Authority, type DevSession, type IssueTokenRequest } from "./authority.ts"
import { FaultController, type FaultSettings, type FaultState } from "./faults.ts"
import { canonicalOrigin, corsHeaders, originAllowed, preflightHeaders } from "./internal/cors.ts"
import {
  answerClientError,
  answerConnect,
  ClientGone,
  HttpError,
  json,
  parseBody,
  readBody,
  send,
  type BodyFields,
  type Reply,
} from "./internal/http.ts"
import { DevBrowsers, publishableKeyFor, type InstanceType } from "./instance.ts"
import { corsPolicy, hostHeaderName, hostPolicy, urlHost } from "./internal/policy.ts"
import { redact } from "./internal/redact.ts"
import { routes, type AppliedFault, type Context } from "./internal/routes.ts"
import { generateSigningKey, type SigningKey } from "./keys.ts"
import { StatsRecorder, type DevServerStats } from "./stats.ts"
import { defaultTemplates, type TokenTemplates } from "./templates.ts"

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
  /**
   * Names accepted in the `Host` header (on any port), e.g. `["devbox.lan"]`; `["*"]` accepts any.
   * Default: bound to a loopback address (127/8, `localhost`, `::1`), only `127.0.0.1`,
   * `localhost`, `[::1]` and the bound address, so a page on a DNS-rebound name cannot reach
   * the server; bound elsewhere, any. Names and addresses are compared in canonical form
   * (`0:0:0:0:0:0:0:1` is `[::1]`). Others are answered 403 `host_not_allowed`.
   */
  readonly allowedHosts?: readonly string[]
  /** Faults in force from the start. */
  readonly faults?: FaultSettings
  /** Largest request body accepted, in bytes; default 65536 (larger: 413). */
  readonly maxBodyBytes?: number
  /** Called with one line per request (method, path, status, time); no JWT or secret is ever in it. Default: no logging. */
  readonly log?: (line: string) => void
  /** The server's clock in epoch ms (for `iat`/`exp` and fault windows); default `Date.now`. */
  readonly now?: () => number
  /**
   * The kind of Clerk instance to stand in for. `"development"`: a `pk_test_`
   * key, and the Frontend API's token routes require a dev-browser token
   * (`POST /v1/dev_browser`) as the `__clerk_db_jwt` query parameter.
   * Default `"production"`: a `pk_live_` key, no dev-browser token.
   */
  readonly instance?: InstanceType
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
  /** The kind of Clerk instance it stands in for. */
  readonly instance: InstanceType
  /** Its publishable key: `pk_test_`/`pk_live_` + base64 of `host:port$`, as Clerk's keys hold their Frontend API. */
  readonly publishableKey: string
  /** Issues a dev-browser token, as `POST /v1/dev_browser` does; throws on a production instance. */
  createDevBrowser(): string
  /** The public keys, as the JWKS routes serve them. */
  jwks(): { readonly keys: readonly JWK[] }
  /** Starts an active session for a user, as `POST /v1/client/sessions` does; throws when 10,000 are active. */
  signIn(userId: string): DevSession
  /** Ends a session, as `DELETE /v1/client/sessions/:sid` does; `undefined` if unknown. */
  signOut(sessionId: string): DevSession | undefined
  /** A session by id, or `undefined`. */
  session(sessionId: string): DevSession | undefined
  /** Signs a token directly, without HTTP, faults or stats (clock skew applies); rejects for an unknown or ended session or template. */
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

/** Methods a browser may send cross-origin without a preflight but that change nothing here. */
const safeMethods = new Set(["GET", "HEAD", "OPTIONS"])

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
  // Options are checked before anything is bound.
  const host = options.host ?? "127.0.0.1"
  const port = options.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error("port must be a whole number in [0, 65535]")
  }
  const secretKey = options.secretKey ?? DEFAULT_SECRET_KEY
  if (secretKey.length < 8) throw new Error("secretKey must be at least 8 characters")
  const maxBodyBytes = options.maxBodyBytes ?? 65_536
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) {
    throw new Error("maxBodyBytes must be a positive whole number")
  }
  const now = options.now ?? Date.now
  const instance = options.instance ?? "production"
  if (instance !== "development" && instance !== "production") {
    throw new Error('instance must be "development" or "production"')
  }
  const devBrowsers = instance === "development" ? new DevBrowsers() : undefined
  const log = options.log
  const policy = corsPolicy(options.corsOrigins)
  const hosts = hostPolicy(options.allowedHosts, host)
  const faults = new FaultController(now)
  if (options.faults) faults.apply(options.faults)
  const authority = new Authority({
    key: options.signingKey ?? (await generateSigningKey()),
    now,
    tokenLifetime: options.tokenLifetime ?? 60,
    templates: { ...defaultTemplates, ...options.templates },
  })
  const stats = new StatsRecorder()
  const stopped = new AbortController()
  const applied = new WeakMap<IncomingMessage, AppliedFault>()
  const reset = (resetOptions: { readonly sessions?: boolean } = {}) => {
    faults.clear()
    stats.reset()
    if (resetOptions.sessions === true) {
      authority.clearSessions()
      devBrowsers?.clear()
    }
  }
  const router = routes({
    authority,
    faults,
    stats,
    secretKey,
    stopped: stopped.signal,
    applied: (req, fault) => applied.set(req, fault),
    reset,
    devBrowsers,
  })

  /** Finds the route and runs it; CORS preflights and routing errors are answered here. */
  const dispatch = async (
    req: IncomingMessage,
    path: string,
    origin: string | undefined,
    allowed: boolean,
  ): Promise<Reply> => {
    const method = req.method ?? "GET"
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends `Host: evil.example`.
    const header = req.headers.host
    // Node's own refusal (`requireHostHeader`) has an empty body: answer it here instead.
    if (header === undefined && req.httpVersion === "1.1") {
      throw new HttpError(400, "malformed_request", "An HTTP/1.1 request must have a Host header.")
    }
    if (hosts !== undefined && header !== undefined && !hosts.has(hostHeaderName(header) ?? "")) {
      throw new HttpError(403, "host_not_allowed", "This Host may not call the server.", {
        longMessage: "Call it as 127.0.0.1, localhost or [::1], or start it with --allowed-host.",
      })
    }
    // A "simple" cross-origin request (form, text/plain) is sent without a preflight:
    // refuse it before it changes anything, as CORS would refuse its preflight.
    if (!safeMethods.has(method) && req.headers.origin !== undefined && !allowed) {
      throw new HttpError(403, "origin_not_allowed", "This origin may not call the server.", {
        longMessage: "Start the server with --cors-origin <origin> to allow it.",
      })
    }
    if (method === "OPTIONS") {
      if (origin !== undefined && req.headers["access-control-request-method"] !== undefined) {
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
    if (match.kind !== "found") stats.request("unmatched")
    switch (match.kind) {
      case "bad-path":
        throw new HttpError(400, "malformed_request", "The request path is not valid.")
      case "not-found":
        throw new HttpError(404, "resource_not_found", "No such route.")
      case "method-not-allowed":
        throw new HttpError(405, "method_not_allowed", "This route does not take this method.", {
          headers: { Allow: match.allow.join(", ") },
        })
      case "found": {
        const { route, params } = match
        if (route.counted) stats.request(`${route.method} ${route.pattern}`)
        let body: Promise<BodyFields> | undefined
        const context: Context = {
          req,
          origin,
          body: () =>
            (body ??= readBody(req, maxBodyBytes).then((raw) =>
              // The admin API takes JSON only: no form or text/plain "simple" request changes it.
              parseBody(raw, req.headers["content-type"], route.pattern.startsWith("/__tok/")),
            )),
        }
        return route.handler(context, params)
      }
    }
  }

  /** Answers one request; never throws, never answers 500 for bad input. */
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now()
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/"
    const origin =
      req.headers.origin === undefined ? undefined : canonicalOrigin(req.headers.origin)
    const allowed = origin !== undefined && originAllowed(policy, origin)
    let reply: Reply
    try {
      reply = await dispatch(req, path, origin, allowed)
    } catch (error) {
      if (error instanceof ClientGone) reply = { kind: "drop" }
      else if (error instanceof HttpError) {
        const close = error.status === 413 ? { Connection: "close" } : {}
        reply = json(error.status, error.body(), { ...error.headers, ...close })
      } else {
        log?.(`[tok] internal error: ${redact(String(error), secretKey)}`)
        reply = json(500, { errors: [{ code: "internal_error", message: "Internal error." }] })
      }
    }
    send(req, res, reply, { Vary: "Origin", ...(allowed ? corsHeaders(origin) : {}) })
    if (log) {
      const status = reply.kind === "drop" ? "dropped" : String(reply.status)
      const fault = applied.get(req)
      const ms = (performance.now() - started).toFixed(1)
      log(
        `[tok] ${redact(req.method ?? "", secretKey)} ${redact(path, secretKey)} ${status} ${ms}ms` +
          (fault ? ` fault=${fault}` : ""),
      )
    }
  }

  const server = createServer(
    { requestTimeout: 30_000, headersTimeout: 10_000, requireHostHeader: false },
    (req, res) => {
      handle(req, res).catch(() => req.socket.destroy())
    },
  )
  server.on("clientError", answerClientError)
  server.on("connect", answerConnect)
  // An `Expect` other than 100-continue: Node would answer 417 with no body.
  server.on("checkExpectation", (req, res) => {
    const error = new HttpError(417, "expectation_failed", "Only Expect: 100-continue is taken.")
    send(req, res, json(417, error.body(), { Connection: "close" }), { Vary: "Origin" })
  })
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
  // Errors after listening (e.g. accept failures) must not crash the process.
  server.on("error", (error) => log?.(`[tok] server error: ${redact(String(error), secretKey)}`))

  const bound = (server.address() as AddressInfo).port
  const url = `http://${urlHost(host)}:${bound}`
  authority.issuer = url

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
    issuer: url,
    jwksUrl: `${url}/.well-known/jwks.json`,
    secretKey,
    instance,
    publishableKey: publishableKeyFor(instance, url),
    createDevBrowser: () => {
      if (devBrowsers === undefined) throw new Error("a production instance has no dev browsers")
      return devBrowsers.create()
    },
    jwks: () => authority.jwks(),
    signIn: (userId) => authority.signIn(userId),
    signOut: (sessionId) => authority.signOut(sessionId),
    session: (sessionId) => authority.session(sessionId),
    issueToken: async (request) => {
      const session = authority.session(request.sessionId)
      if (!session || session.status !== "active") throw new Error("no active session with this id")
      const template =
        request.template === undefined ? undefined : authority.template(request.template)
      if (request.template !== undefined && !template)
        throw new Error("no JWT template with this name")
      return authority.sign(session, template, {
        organizationId: request.organizationId === "" ? undefined : request.organizationId,
        origin: request.origin,
        lifetime: undefined,
        noExp: false,
        clockSkewSeconds: faults.clockSkewSeconds,
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
      return authority.tokenLifetime
    },
    setTokenLifetime: (seconds) => {
      authority.tokenLifetime = seconds
    },
    templates: () => authority.templates(),
    setTemplates: (templates) => authority.setTemplates(templates),
    stop,
    [Symbol.asyncDispose]: stop,
  }
}
