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
import type { Duplex } from "node:stream"
import { performance } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import { TokenClient } from "@tok/core"
import { redact } from "@tok/dev-server"
import { ApiError, errorBody, fromTokenError } from "./ApiError.ts"
import { bearerToken } from "./bearer.ts"
import { makeBounded } from "./bounded.ts"
import { DEV_SECRET_KEY, type DemoApiOptions } from "./options.ts"
import { makeRuntime, tokenSourceLabel } from "./runtime.ts"
import * as Verifier from "./Verifier.ts"

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

const notes = (user: string) => [
  { id: 1, text: `Notes of ${user}, read with a supabase template token minted for this call.` },
  { id: 2, text: "tok got that token through the Backend API with the secret key." },
  { id: 3, text: "Call again within the token's life and tok answers from its cache." },
]

const rawMessages: Record<string, string> = {
  headers_too_large: "The request headers are too large.",
  request_timeout: "The request took too long to arrive.",
  bad_request: "The request is not valid HTTP.",
  method_not_allowed: "This API does not take CONNECT.",
}

/** A whole HTTP answer with a JSON error, for a socket Node's HTTP server no longer writes to. */
const rawAnswer = (status: number, reason: string, code: string): string => {
  const body = JSON.stringify({ error: { code, message: rawMessages[code] ?? "Bad request." } })
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Cache-Control: no-store\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  )
}

/** Starts demo-api and resolves once it listens. */
export const startDemoApi = async (options: DemoApiOptions): Promise<DemoApi> => {
  const tokenServer = options.tokenServerUrl.replace(/\/+$/, "")
  const template = options.template ?? "supabase"
  const audience = options.audience ?? "authenticated"
  const allowedOrigins = new Set(options.allowedOrigins.map((origin) => new URL(origin).origin))
  const log = options.log
  const secretKey = options.secretKey ?? DEV_SECRET_KEY
  const instance = options.instance ?? "demo-api"

  // Outgoing calls are bounded (bounded.ts); bad bounds throw before anything starts.
  const bounded = makeBounded(options.downstreamConcurrency ?? 32, options.downstreamQueue ?? 256)
  const runtime = makeRuntime({
    tokenServer,
    secretKey,
    allowedOrigins: [...allowedOrigins],
    instance,
    sessionTokenLifetime: options.sessionTokenLifetime,
    otlpEndpoint: options.otlpEndpoint,
    redisUrl: options.redisUrl,
  })
  // With Redis, connect before listening: a Redis that is not there fails the start.
  if (options.redisUrl !== undefined) {
    await runtime.runPromise(Effect.void).catch(async (error: unknown) => {
      await runtime.dispose()
      throw error
    })
  }
  let selfUrl = ""

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
    // Node's own refusal (`requireHostHeader`) has an empty body: answer it here instead.
    if (req.headers.host === undefined && req.httpVersion === "1.1") {
      return reply(400, {
        error: { code: "bad_request", message: "An HTTP/1.1 request must have a Host header." },
      })
    }
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

  const server = createServer(
    { requestTimeout: 30_000, headersTimeout: 10_000, requireHostHeader: false },
    (req, res) => {
      handle(req, res).catch(() => res.destroy())
    },
  )
  // What Node would answer by itself (with an empty body, or not at all) gets a JSON error too.
  server.on("clientError", (error: Error & { code?: string }, socket: Duplex) => {
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy()
      return
    }
    socket.end(
      error.code === "HPE_HEADER_OVERFLOW"
        ? rawAnswer(431, "Request Header Fields Too Large", "headers_too_large")
        : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? rawAnswer(408, "Request Timeout", "request_timeout")
          : rawAnswer(400, "Bad Request", "bad_request"),
    )
  })
  server.on("connect", (_req: IncomingMessage, socket: Duplex) => {
    // No longer the HTTP server's socket: read what comes so the client's close is
    // seen, and never keep it past a few seconds.
    socket.on("error", () => socket.destroy())
    setTimeout(() => socket.destroy(), 5_000).unref()
    socket.resume()
    socket.end(rawAnswer(405, "Method Not Allowed", "method_not_allowed"))
  })
  server.on("checkExpectation", (_req: IncomingMessage, res: ServerResponse) => {
    const body = JSON.stringify({
      error: { code: "expectation_failed", message: "Only Expect: 100-continue is taken." },
    })
    res.writeHead(417, {
      "Content-Type": "application/json; charset=utf-8",
      "Cache-Control": "no-store",
      Connection: "close",
    })
    res.end(body)
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
