/** Shared helpers of the dev server's tests: one signing key, a server per test, small HTTP calls. */
import { connect } from "node:net"
import { afterEach } from "vitest"
import {
  generateSigningKey,
  startDevServer,
  type DevServer,
  type DevServerOptions,
  type SigningKey,
} from "@tok/dev-server"

let key: Promise<SigningKey> | undefined
/** One RSA key for the whole file: making one per server would only slow the tests. */
export const sharedKey = () => (key ??= generateSigningKey())

const running = new Set<DevServer>()
afterEach(async () => {
  await Promise.all([...running].map((server) => server.stop()))
  running.clear()
})

/** Starts a server on 127.0.0.1, port 0, stopped after the test. */
export const start = async (options: DevServerOptions = {}): Promise<DevServer> => {
  const server = await startDevServer({ signingKey: await sharedKey(), ...options })
  running.add(server)
  return server
}

/** A `fetch` bounded in time. */
export const request = (url: string, init: RequestInit = {}): Promise<Response> =>
  fetch(url, { signal: AbortSignal.timeout(5_000), ...init })

/** POSTs JSON (or nothing) and returns the status, headers and parsed body. */
export const post = async (
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: unknown }> => {
  const res = await request(url, {
    method: "POST",
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed }
}

/** The `code` of a Clerk error answer. */
export const errorCode = (body: unknown): string | undefined =>
  (body as { errors?: { code?: string }[] }).errors?.[0]?.code

/** The JWT of a token answer; fails the test if there is none. */
export const jwtOf = (body: unknown): string => {
  const jwt = (body as { jwt?: unknown }).jwt
  if (typeof jwt !== "string") throw new Error(`no jwt in ${JSON.stringify(body)}`)
  return jwt
}

/**
 * Sends raw bytes over TCP and resolves with everything the server wrote back
 * before it closed the connection (or after `ms` of silence).
 */
export const raw = (server: DevServer, bytes: string | Buffer, ms = 2_000): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = connect(server.port, "127.0.0.1")
    const chunks: Buffer[] = []
    const done = () => {
      clearTimeout(timer)
      socket.destroy()
      resolve(Buffer.concat(chunks).toString("latin1"))
    }
    const timer = setTimeout(done, ms)
    socket.on("data", (chunk) => chunks.push(chunk))
    socket.on("close", done)
    socket.on("error", (error: NodeJS.ErrnoException) =>
      error.code === "ECONNRESET" || error.code === "EPIPE" ? done() : reject(error),
    )
    socket.write(bytes)
  })

/** The status code of a raw HTTP answer, or 0 if there was none. */
export const rawStatus = (answer: string): number =>
  Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)
