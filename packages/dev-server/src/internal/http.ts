/**
 * The small HTTP toolkit the server is built from: Clerk-shaped errors, a path
 * router, bounded body reading and parsing, and answers written straight to a
 * socket. CORS is in `cors.ts`, redaction in `redact.ts`. Built on `node:http`
 * only (see the package README for why).
 * @internal
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import type { Socket } from "node:net"

/** One entry of a Clerk error answer. */
export interface ClerkError {
  readonly code: string
  readonly message: string
  readonly long_message?: string
}

/** An error that becomes an HTTP answer in Clerk's `{ errors: [...] }` shape. */
export class HttpError extends Error {
  readonly status: number
  readonly code: string
  readonly longMessage: string | undefined
  readonly headers: Readonly<Record<string, string>>

  constructor(
    status: number,
    code: string,
    message: string,
    options: { longMessage?: string; headers?: Record<string, string> } = {},
  ) {
    super(message)
    this.name = "HttpError"
    this.status = status
    this.code = code
    this.longMessage = options.longMessage
    this.headers = options.headers ?? {}
  }

  /** The JSON body. */
  body(): { errors: ClerkError[] } {
    return {
      errors: [
        {
          code: this.code,
          message: this.message,
          ...(this.longMessage === undefined ? {} : { long_message: this.longMessage }),
        },
      ],
    }
  }
}

/** The client went away while its request was read; nothing can be answered. */
export class ClientGone extends Error {
  constructor() {
    super("the client closed the connection")
    this.name = "ClientGone"
  }
}

/** What a handler answers. */
export type Reply =
  | {
      readonly kind: "json"
      readonly status: number
      readonly body: unknown
      readonly headers?: Record<string, string>
    }
  | {
      readonly kind: "text"
      readonly status: number
      readonly contentType: string
      readonly body: string
    }
  | { readonly kind: "empty"; readonly status: number; readonly headers?: Record<string, string> }
  /** Destroy the socket without an answer (a fault). */
  | { readonly kind: "drop" }

/** A JSON answer. */
export const json = (status: number, body: unknown, headers?: Record<string, string>): Reply =>
  headers ? { kind: "json", status, body, headers } : { kind: "json", status, body }

/** A route's handler: gets the request and its decoded path parameters. */
export type Handler<C> = (context: C, params: Readonly<Record<string, string>>) => Promise<Reply>

interface Route<C> {
  readonly method: string
  readonly pattern: string
  readonly segments: readonly string[]
  readonly handler: Handler<C>
  /** Counted in stats (the admin API is not). */
  readonly counted: boolean
}

/** What {@link Router.match} found. */
export type Match<C> =
  | {
      readonly kind: "found"
      readonly route: Route<C>
      readonly params: Readonly<Record<string, string>>
    }
  | { readonly kind: "method-not-allowed"; readonly allow: readonly string[] }
  | { readonly kind: "not-found" }
  | { readonly kind: "bad-path" }

/**
 * Matches `METHOD /literal/:param` patterns against request paths, segment by
 * segment. Parameters are percent-decoded and never empty; `HEAD` matches `GET`.
 */
export class Router<C> {
  readonly #routes: Route<C>[] = []

  /** Adds a route; `counted: false` keeps it out of the stats. */
  on(method: string, pattern: string, handler: Handler<C>, counted = true): this {
    this.#routes.push({ method, pattern, segments: pattern.split("/").slice(1), handler, counted })
    return this
  }

  /** Finds the route for a method and a raw path (no query string). */
  match(method: string, rawPath: string): Match<C> {
    const segments = splitPath(rawPath)
    if (!segments) return { kind: "bad-path" }
    const allow = new Set<string>()
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, segments)
      if (!params) continue
      if (route.method === method || (method === "HEAD" && route.method === "GET")) {
        return { kind: "found", route, params }
      }
      allow.add(route.method)
    }
    if (allow.size === 0) return { kind: "not-found" }
    if (allow.has("GET")) allow.add("HEAD")
    allow.add("OPTIONS")
    return { kind: "method-not-allowed", allow: [...allow] }
  }

  /** Whether any route has this path (for answering `OPTIONS`). */
  hasPath(rawPath: string): boolean {
    const segments = splitPath(rawPath)
    return segments !== undefined && this.#routes.some((r) => matchSegments(r.segments, segments))
  }
}

/** Splits a path into decoded segments; one trailing slash is ignored. `undefined` if undecodable. */
const splitPath = (rawPath: string): string[] | undefined => {
  const path = rawPath.length > 1 && rawPath.endsWith("/") ? rawPath.slice(0, -1) : rawPath
  if (!path.startsWith("/")) return undefined
  try {
    return path.split("/").slice(1).map(decodeURIComponent)
  } catch {
    return undefined
  }
}

const matchSegments = (
  pattern: readonly string[],
  path: readonly string[],
): Record<string, string> | undefined => {
  if (pattern.length !== path.length) return undefined
  const params: Record<string, string> = {}
  for (let i = 0; i < pattern.length; i++) {
    const want = pattern[i] ?? ""
    const got = path[i] ?? ""
    if (want.startsWith(":")) {
      if (got === "") return undefined
      params[want.slice(1)] = got
    } else if (want !== got) {
      return undefined
    }
  }
  return params
}

/**
 * Reads a request body of at most `limit` bytes. A larger declared or actual body
 * fails with 413 at once; the rest of it is not kept. Fails with {@link ClientGone}
 * at once if the client is already gone, and as soon as it goes: never hangs.
 */
export const readBody = (req: IncomingMessage, limit: number): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    // Listeners added after `aborted`/`error`/`close` fired would wait forever.
    if (req.destroyed || req.readableAborted) {
      reject(new ClientGone())
      return
    }
    const tooLarge = () =>
      new HttpError(
        413,
        "request_body_too_large",
        `The request body is larger than ${limit} bytes.`,
      )
    const declared = req.headers["content-length"]
    if (declared !== undefined && Number(declared) > limit) {
      req.resume()
      reject(tooLarge())
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    const finish = (error: Error | undefined) => {
      if (done) return
      done = true
      req.off("data", onData)
      req.off("end", onEnd)
      req.off("error", onError)
      req.off("aborted", onGone)
      req.off("close", onGone)
      if (error) {
        req.resume() // drain and discard whatever is still coming
        reject(error)
      } else {
        resolve(Buffer.concat(chunks, size))
      }
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) finish(tooLarge())
      else chunks.push(chunk)
    }
    const onEnd = () => finish(undefined)
    const onError = () => finish(new ClientGone())
    const onGone = () => finish(new ClientGone())
    req.on("data", onData)
    req.on("end", onEnd)
    req.on("error", onError)
    req.on("aborted", onGone)
    req.on("close", onGone)
  })

/** A parsed request body: JSON object fields or form fields. */
export type BodyFields = Readonly<Record<string, unknown>>

/**
 * Parses a body by its `Content-Type`: JSON (must be an object) or
 * `application/x-www-form-urlencoded` (unless `jsonOnly`); an empty body is `{}`
 * whatever its type.
 */
export const parseBody = (
  raw: Buffer,
  contentType: string | undefined,
  jsonOnly = false,
): BodyFields => {
  if (raw.length === 0) return {}
  const mediaType = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? ""
  if (jsonOnly && mediaType !== "application/json") {
    throw new HttpError(415, "unsupported_media_type", "Send the body as application/json.")
  }
  let text: string
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(raw)
  } catch {
    throw new HttpError(400, "malformed_request", "The request body is not valid UTF-8.")
  }
  if (mediaType === "application/json" || mediaType.endsWith("+json")) {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw new HttpError(400, "malformed_request", "The request body is not valid JSON.")
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new HttpError(422, "form_param_invalid", "The request body must be a JSON object.")
    }
    return value as BodyFields
  }
  if (mediaType === "application/x-www-form-urlencoded" || mediaType === "") {
    const fields: Record<string, string> = {}
    for (const [key, value] of new URLSearchParams(text)) fields[key] = value
    return fields
  }
  throw new HttpError(
    415,
    "unsupported_media_type",
    "Send the body as application/json or application/x-www-form-urlencoded.",
  )
}

const malformedBodies = {
  html: {
    contentType: "text/html; charset=utf-8",
    body: "<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>",
  },
  "empty-object": { contentType: "application/json", body: "{}" },
  "invalid-json": { contentType: "application/json", body: '{"object":"token","jwt":' },
  "not-a-jwt": { contentType: "application/json", body: '{"object":"token","jwt":"not-a-jwt"}' },
} as const

/** The 200 answer for a malformed-body fault. */
export const malformedReply = (kind: keyof typeof malformedBodies): Reply => ({
  kind: "text",
  status: 200,
  ...malformedBodies[kind],
})

/** Writes a reply; does nothing if the response can no longer be written. */
export const send = (
  req: IncomingMessage,
  res: ServerResponse,
  reply: Reply,
  extraHeaders: Record<string, string>,
): void => {
  if (reply.kind === "drop") {
    req.socket.destroy()
    return
  }
  if (res.headersSent || res.destroyed || res.writableEnded) return
  const headers: Record<string, string> = { ...extraHeaders, "Cache-Control": "no-store" }
  let body = ""
  if (reply.kind === "json") {
    Object.assign(headers, reply.headers)
    // Exactly `application/json`: @clerk/backend reads a body as JSON only then.
    headers["Content-Type"] = "application/json"
    body = JSON.stringify(reply.body)
  } else if (reply.kind === "text") {
    headers["Content-Type"] = reply.contentType
    body = reply.body
  } else {
    Object.assign(headers, reply.headers)
  }
  if (reply.status !== 204) headers["Content-Length"] = String(Buffer.byteLength(body))
  res.writeHead(reply.status, headers)
  res.end(reply.status === 204 ? undefined : body)
}

/**
 * Answers a request the HTTP parser rejected (bad method or request line,
 * headers too large, timeout) with a small JSON error, then closes the socket.
 */
export const answerClientError = (error: Error & { code?: string }, socket: Socket): void => {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy()
    return
  }
  const [status, reason, code] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? [431, "Request Header Fields Too Large", "request_headers_too_large"]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "Request Timeout", "request_timeout"]
        : [400, "Bad Request", "malformed_request"]
  const body = JSON.stringify({
    errors: [{ code, message: "The server could not read this HTTP request." }],
  })
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  )
}

/**
 * Answers a `CONNECT` request (Node hands it to the server's `connect` event, and
 * with no listener destroys the socket unanswered): 405 JSON, then closes.
 */
export const answerConnect = (_req: IncomingMessage, socket: Socket): void => {
  const body = JSON.stringify({
    errors: [{ code: "method_not_allowed", message: "This server does not take CONNECT." }],
  })
  // The socket is no longer the HTTP server's: read (and drop) what comes so the
  // client's close is seen, and never keep it past a few seconds.
  socket.on("error", () => socket.destroy())
  socket.setTimeout(5_000, () => socket.destroy())
  socket.resume()
  socket.end(
    `HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n` +
      `Allow: GET, HEAD, POST, DELETE, OPTIONS\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  )
}
