/**
 * demo-api: a small backend that shows tok on a server.
 *
 * `GET /api/profile` takes a browser's session token (`Authorization: Bearer`),
 * verifies it (`Verifier`), then asks tok's Effect API — one `TokenClient` for
 * every session, on `TokenSource.clerkBackendApi` with the secret key — for a
 * `supabase` template token of that session, and calls a downstream service
 * with it: `GET /downstream/notes`, a route of this same server standing in for
 * a database that accepts only that template's tokens.
 *
 * Outgoing calls are bounded with Effect `Semaphore`s: at most
 * `downstreamConcurrency` requests (32) fetch their template token and call
 * downstream at once, `downstreamQueue` more (256) wait, and the rest are answered
 * 503 `busy` with `Retry-After` before any call, so a burst of requests never opens
 * a socket each until descriptors and memory run out.
 *
 * With `redisUrl`, several demo-apis share tok's tokens through one Redis
 * (`@tok/redis`): each answer names the instance that served it
 * (`instance`, and the `X-Tok-Instance` header) and where the template token
 * came from (`tokenSource`: `"cache"` — this instance's own cache, `"redis"` —
 * a token another instance fetched, `"fetch"` — a request to the token server).
 *
 * Every failure is a JSON answer (`{ "error": { "code", "message" } }`), never a
 * crash; nothing logged or answered ever holds a JWT or the secret key.
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { performance } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Semaphore from "effect/Semaphore"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import { TokenClient, TokenMetrics, TokenSource, type Token } from "@tok/core"
import { DEFAULT_SECRET_KEY, redact } from "@tok/dev-server"
import { RedisTokenShare } from "@tok/redis"
import { ApiError, errorBody, fromTokenError } from "./ApiError.ts"
import * as Verifier from "./Verifier.ts"

/** The dev token server's public secret key: `@tok/dev-server`'s `DEFAULT_SECRET_KEY`. */
export const DEV_SECRET_KEY: string = DEFAULT_SECRET_KEY

/** Options of {@link startDemoApi}. */
export interface DemoApiOptions {
  /** The token server's base URL: issuer of the tokens, JWKS, and the Backend API tok calls. */
  readonly tokenServerUrl: string
  /** Browser origins that may call the API (CORS) and whose tokens are accepted (`azp`). */
  readonly allowedOrigins: readonly string[]
  /** The token server's secret key; default {@link DEV_SECRET_KEY}. */
  readonly secretKey?: string
  /** The token server's session token lifetime in seconds: longer-lived tokens are refused; default 60. */
  readonly sessionTokenLifetime?: number
  /** The JWT template used downstream; default `"supabase"` (audience `authenticated`). */
  readonly template?: string
  /** The audience the downstream service requires; default `"authenticated"`. */
  readonly audience?: string
  /**
   * At most this many requests at once do their outgoing HTTP calls (the template
   * token from the token server, then the downstream service); default 32.
   */
  readonly downstreamConcurrency?: number
  /**
   * At most this many more wait for their turn; beyond, a request is answered 503
   * `busy` with `Retry-After` at once, before any outgoing call. Default 256.
   */
  readonly downstreamQueue?: number
  /** TCP port; default 0 (chosen by the OS). */
  readonly port?: number
  /** Interface to bind; default 127.0.0.1. */
  readonly host?: string
  /** One line per request: method, path, status, time. Default: none. */
  readonly log?: (line: string) => void
  /**
   * An OTLP/HTTP collector's base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`): tok's
   * spans are exported to `{endpoint}/v1/traces` as JSON. Default: no export.
   */
  readonly otlpEndpoint?: string | undefined
  /**
   * A Redis URL: tok shares tokens, fetch locks and session ends with the
   * other demo-apis on it (`@tok/redis`). Default: none (this process alone).
   */
  readonly redisUrl?: string | undefined
  /** This instance's name, in every answer (`instance`); default `"demo-api"`. */
  readonly instance?: string | undefined
}

/** Where an answer's template token came from (the `tokenSource` field). */
export type TokenSourceLabel = "cache" | "redis" | "fetch"

/** `Token.source` as the demo shows it: a peer's token came through Redis. */
export const tokenSourceLabel = (source: Token["source"]): TokenSourceLabel =>
  source === "cache" ? "cache" : source === "peer" ? "redis" : "fetch"

/** A running demo-api. */
export interface DemoApi {
  /** Base URL, e.g. `http://127.0.0.1:43210`. */
  readonly url: string
  /** Stops listening, closes connections and releases tok's fibers; safe to call twice. */
  stop(): Promise<void>
}

interface Reply {
  readonly status: number
  readonly body: unknown
  readonly headers?: Record<string, string>
}

const reply = (status: number, body: unknown, headers?: Record<string, string>): Reply => ({
  status,
  body,
  ...(headers === undefined ? {} : { headers }),
})

/** Largest bearer token accepted, in characters. */
const MAX_TOKEN_LENGTH = 16 * 1024

/** The bearer token of a request, or why there is none. */
export const bearerToken = (header: string | undefined): Effect.Effect<string, ApiError> => {
  if (header === undefined || header.trim() === "") {
    return Effect.fail(
      new ApiError({
        status: 401,
        code: "missing_token",
        message: "Sign in first: send the session token as Authorization: Bearer <token>.",
      }),
    )
  }
  const match = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header)
  if (match === null) {
    return Effect.fail(
      new ApiError({
        status: 400,
        code: "bad_authorization_header",
        message: "The Authorization header must be: Bearer <token>.",
      }),
    )
  }
  const token = match[1]!
  if (token.length > MAX_TOKEN_LENGTH) {
    return Effect.fail(
      new ApiError({ status: 400, code: "token_too_large", message: "The token is too large." }),
    )
  }
  return Effect.succeed(token)
}

const notes = (user: string) => [
  { id: 1, text: `Notes of ${user}, read with a supabase template token minted for this call.` },
  { id: 2, text: "tok got that token through the Backend API with the secret key." },
  { id: 3, text: "Call again within the token's life and tok answers from its cache." },
]

/** Starts demo-api and resolves once it listens. */
export const startDemoApi = async (options: DemoApiOptions): Promise<DemoApi> => {
  const tokenServer = options.tokenServerUrl.replace(/\/+$/, "")
  const template = options.template ?? "supabase"
  const audience = options.audience ?? "authenticated"
  const allowedOrigins = new Set(options.allowedOrigins.map((origin) => new URL(origin).origin))
  const log = options.log
  const secretKey = options.secretKey ?? DEV_SECRET_KEY
  const instance = options.instance ?? "demo-api"

  // What tok is seen through: its metrics in this server's own registry (served
  // at /metrics), its spans exported over OTLP when a collector is configured.
  const traces =
    options.otlpEndpoint === undefined
      ? Layer.empty
      : OtlpTracer.layer({
          url: `${options.otlpEndpoint.replace(/\/+$/, "")}/v1/traces`,
          resource: { serviceName: "tok-demo-api" },
          exportInterval: "2 seconds",
        }).pipe(Layer.provide([FetchHttpClient.layer, OtlpSerialization.layerJson]))
  const observability = Layer.mergeAll(
    Layer.succeed(Metric.MetricRegistry, new Map()),
    TokenMetrics.layerAll,
    traces,
  )
  // A fleet: tokens, fetch locks and session ends shared through Redis.
  const share =
    options.redisUrl === undefined
      ? Layer.empty
      : RedisTokenShare.layerNode({ redis: { url: options.redisUrl }, instanceId: instance })
  // tok on a server: one client for every session, each call naming its session.
  const layer = Layer.mergeAll(
    TokenClient.layer().pipe(
      Layer.provide(
        TokenSource.clerkBackendApi({
          baseUrl: tokenServer,
          secretKey,
        }),
      ),
      Layer.provide(share),
    ),
    Verifier.layer({
      issuer: tokenServer,
      allowedOrigins: [...allowedOrigins],
      ...(options.sessionTokenLifetime === undefined
        ? {}
        : { sessionTokenLifetime: options.sessionTokenLifetime }),
    }),
  ).pipe(Layer.provideMerge(observability))
  const runtime = ManagedRuntime.make(layer)
  // With Redis, connect before listening: a Redis that is not there fails the start.
  if (options.redisUrl !== undefined) await runtime.runPromise(Effect.void)
  let selfUrl = ""

  // Outgoing calls are bounded: `slots` run at once, `admitted` may run or wait.
  // Unbounded, a burst of requests opens a socket each (to the token server and
  // downstream) until file descriptors and memory run out, and answers 502.
  const concurrency = options.downstreamConcurrency ?? 32
  const queue = options.downstreamQueue ?? 256
  if (!Number.isInteger(concurrency) || concurrency < 1 || !Number.isInteger(queue) || queue < 0) {
    throw new Error("downstreamConcurrency must be ≥ 1 and downstreamQueue ≥ 0 (whole numbers)")
  }
  const slots = Semaphore.makeUnsafe(concurrency)
  const admitted = Semaphore.makeUnsafe(concurrency + queue)
  const bounded = <A, E, R>(work: Effect.Effect<A, E, R>): Effect.Effect<A, E | ApiError, R> =>
    Semaphore.withPermitsIfAvailable(
      admitted,
      1,
    )(Semaphore.withPermits(slots, 1)(work)).pipe(
      Effect.flatMap(
        Option.match({
          onNone: () =>
            Effect.fail(
              new ApiError({
                status: 503,
                code: "busy",
                message: "Too many requests in progress: try again shortly.",
                retryAfterSeconds: 1,
              }),
            ),
          onSome: (value: A) => Effect.succeed(value),
        }),
      ),
    )

  /** `GET /downstream/notes` with a template token: its status and JSON body. */
  const callDownstream = (jwt: string) =>
    Effect.tryPromise({
      try: async (signal) => {
        const res = await fetch(`${selfUrl}/downstream/notes`, {
          headers: { Authorization: `Bearer ${jwt}` },
          signal,
        })
        return { status: res.status, body: (await res.json()) as unknown }
      },
      catch: () =>
        new ApiError({
          status: 502,
          code: "downstream_unreachable",
          message: "The downstream service could not be reached.",
        }),
    })

  /** `GET /api/profile`: the caller's profile, with notes read downstream. */
  const profile = (req: IncomingMessage) =>
    Effect.gen(function* () {
      const jwt = yield* bearerToken(req.headers.authorization)
      const verifier = yield* Verifier.Verifier
      const claims = yield* verifier.session(jwt)
      const tok = yield* TokenClient.TokenClient
      const { token, downstream } = yield* bounded(
        Effect.gen(function* () {
          const token = yield* tok
            .getToken({ sessionId: claims.sid, template })
            .pipe(Effect.mapError(fromTokenError))
          const downstream = yield* callDownstream(token.jwt)
          return { token, downstream }
        }),
      )
      if (downstream.status !== 200) {
        return yield* new ApiError({
          status: 502,
          code: "downstream_refused",
          message: `The downstream service refused the ${template} token (HTTP ${downstream.status}).`,
        })
      }
      return reply(200, {
        instance,
        tokenSource: tokenSourceLabel(token.source),
        user: claims.sub,
        session: claims.sid,
        authorizedParty: claims.azp,
        sessionTokenExpiresIn: Math.max(0, claims.exp - Math.floor(Date.now() / 1000)),
        downstream: {
          template,
          tokenFrom: token.source,
          answer: downstream.body,
        },
      })
    })

  /** `GET /downstream/notes`: the "database", which takes only the template's tokens. */
  const downstreamNotes = (req: IncomingMessage) =>
    Effect.gen(function* () {
      const jwt = yield* bearerToken(req.headers.authorization)
      const verifier = yield* Verifier.Verifier
      const claims = yield* verifier.template(jwt, audience)
      if (claims.role !== "authenticated") {
        return yield* new ApiError({
          status: 403,
          code: "role_required",
          message: 'The token lacks role "authenticated".',
        })
      }
      return reply(200, { owner: claims.sub, notes: notes(String(claims.sub)) })
    })

  const routes: Record<
    string,
    Record<
      string,
      (
        req: IncomingMessage,
      ) => Effect.Effect<Reply, ApiError, Verifier.Verifier | TokenClient.TokenClient>
    >
  > = {
    "/": {
      GET: () =>
        Effect.succeed(
          reply(200, {
            name: "tok demo-api",
            routes: {
              "GET /api/profile": "Authorization: Bearer <session token>",
              "GET /downstream/notes": `Authorization: Bearer <${template} template token>`,
              "GET /health": "liveness",
              "GET /metrics": "tok's metrics, Prometheus text",
            },
          }),
        ),
    },
    "/health": { GET: () => Effect.succeed(reply(200, { ok: true })) },
    "/metrics": {
      GET: () =>
        Effect.map(PrometheusMetrics.format(), (text) =>
          reply(200, text, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }),
        ),
    },
    "/api/profile": { GET: profile },
    "/downstream/notes": { GET: downstreamNotes },
  }

  const corsHeaders = (origin: string | undefined): Record<string, string> =>
    origin !== undefined && allowedOrigins.has(origin)
      ? { "Access-Control-Allow-Origin": origin, Vary: "Origin" }
      : { Vary: "Origin" }

  const route = async (req: IncomingMessage, path: string, gone: AbortSignal): Promise<Reply> => {
    const method = req.method ?? "GET"
    const origin = req.headers.origin
    if (method === "OPTIONS") {
      if (origin === undefined || !allowedOrigins.has(origin)) {
        return reply(403, {
          error: { code: "origin_not_allowed", message: "This origin may not call the API." },
        })
      }
      return reply(204, undefined, {
        "Access-Control-Allow-Methods": "GET, OPTIONS",
        "Access-Control-Allow-Headers": "authorization, content-type",
        "Access-Control-Max-Age": "600",
      })
    }
    const handlers = routes[path]
    if (handlers === undefined) {
      // The path is not echoed: it may hold anything, a JWT included.
      return reply(404, { error: { code: "not_found", message: "No such route." } })
    }
    const handler = handlers[method === "HEAD" ? "GET" : method]
    if (handler === undefined) {
      return reply(
        405,
        { error: { code: "method_not_allowed", message: `${path} takes GET.` } },
        { Allow: "GET, HEAD, OPTIONS" },
      )
    }
    return runtime.runPromise(
      handler(req).pipe(
        Effect.catchTag("ApiError", (error) =>
          Effect.succeed(
            reply(
              error.status,
              errorBody(error),
              error.status === 401
                ? { "WWW-Authenticate": `Bearer error="invalid_token"` }
                : error.status === 503
                  ? { "Retry-After": String(error.retryAfterSeconds ?? 1) }
                  : {},
            ),
          ),
        ),
      ),
      // A client that goes stops its request: its place in the bounded calls is freed.
      { signal: gone },
    )
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now()
    // Only the path is ever logged or echoed: a query string could hold anything.
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/"
    const gone = new AbortController()
    res.once("close", () => {
      if (!res.writableEnded) gone.abort()
    })
    let answer: Reply
    try {
      answer = await route(req, path, gone.signal)
    } catch {
      if (gone.signal.aborted) {
        log?.(
          `[demo-api] ${redact(req.method ?? "?", secretKey)} ${redact(path, secretKey)} client gone`,
        )
        return
      }
      answer = reply(500, { error: { code: "internal_error", message: "Internal error." } })
    }
    // Requests have no body here; drain whatever was sent so the socket stays usable.
    req.resume()
    const text = typeof answer.body === "string"
    const body =
      answer.body === undefined ? "" : text ? (answer.body as string) : JSON.stringify(answer.body)
    res.writeHead(answer.status, {
      ...corsHeaders(req.headers.origin),
      ...(body === "" || text ? {} : { "Content-Type": "application/json; charset=utf-8" }),
      "Cache-Control": "no-store",
      "X-Tok-Instance": instance,
      "Access-Control-Expose-Headers": "X-Tok-Instance",
      ...answer.headers,
    })
    res.end(req.method === "HEAD" ? undefined : body)
    log?.(
      `[demo-api] ${redact(req.method ?? "?", secretKey)} ${redact(path, secretKey)} ${answer.status} ${(performance.now() - started).toFixed(1)}ms`,
    )
  }

  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    handle(req, res).catch(() => res.destroy())
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen({ port: options.port ?? 0, host: options.host ?? "127.0.0.1" }, () => {
      server.off("error", reject)
      resolve()
    })
  })
  const { port, address } = server.address() as AddressInfo
  selfUrl = `http://${address.includes(":") ? `[${address}]` : address}:${port}`

  let stopping: Promise<void> | undefined
  return {
    url: selfUrl,
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }).then(() => runtime.dispose())),
  }
}
