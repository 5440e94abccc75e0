/**
 * The harness of the integration suite: `@tok/core`'s HTTP sources against a
 * real dev server on 127.0.0.1 and an OS-assigned port.
 *
 * A {@link Face} is one way of calling the core (the Promise face on either
 * source, or the Effect API on the backend source); the fault matrix in
 * `matrix.ts` runs the same cases through each. The harness also keeps every
 * JWT that crossed the wire and every error a caller saw, so each file can
 * check at its end that no error ever shows a JWT or a secret key.
 */
import { inspect } from "node:util"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { createRemoteJWKSet, jwtVerify, type JWTVerifyResult } from "jose"
import { afterEach, expect } from "vitest"
import {
  clerkBackendApi,
  clerkFrontendApi,
  createTokenClient,
  type Token,
  TokenClient,
  TokenSource,
} from "@tok/core"
import {
  generateSigningKey,
  startDevServer,
  type DevServer,
  type DevServerStats,
  type SigningKey,
} from "@tok/dev-server"

/** Small, real-time retry settings: three attempts, delays of at most 200 ms. */
export const retry = { attempts: 3, baseDelay: 20, maxDelay: 200 } as const

/** The client config of most cases; the latency and Retry-After cases override parts. */
export interface ClientConfig {
  readonly retry?: {
    readonly attempts: number
    readonly baseDelay: number
    readonly maxDelay: number
  }
  readonly requestTimeout?: number
}

/** What a case asks of `getToken`; the Effect face adds its `sessionId`. */
export interface Ask {
  readonly template?: string
  readonly organizationId?: string
  readonly skipCache?: boolean
}

/** A client made by a face, bound to one session. */
export interface Client {
  /** Promise faces: `null` when signed out. The Effect face rejects with `NotSignedInError` instead. */
  getToken(ask?: Ask): Promise<Token.Token | null>
  /** The client's current session (Promise faces); `undefined` where the face has none (Effect, explicit `sessionId`). */
  session(): string | null | undefined
  dispose(): Promise<void>
}

/** One way of calling the core. */
export interface Face {
  readonly name: string
  /** `"promise"`: signed out resolves `null`; `"effect"`: fails with `NotSignedInError`. */
  readonly kind: "promise" | "effect"
  /** The stats key of the session-token route this face calls. */
  readonly route: string
  /** The stats key of the template route this face calls. */
  readonly templateRoute: string
  /** A client for `sessionId`; `secretKey` overrides the server's (backend sources). */
  open(
    server: DevServer,
    sessionId: string,
    config?: ClientConfig,
    options?: { readonly secretKey?: string },
  ): Client
}

// ---------------------------------------------------------------------------
// What crossed the wire, and what callers saw.

/** Every JWT-shaped string in any token answer the clients received. */
export const seenJwts = new Set<string>()
/** Every error a caller saw. */
export const seenErrors: unknown[] = []
/** Secrets that must never show in an error (the server's key, wrong keys tried). */
export const seenSecrets = new Set<string>()

const JWT_SHAPE = /eyJ[\w-]*\.eyJ[\w-]*\.[\w-]+/g

/**
 * The global `fetch`, plus a copy of every answer's body scanned for JWTs. It
 * is handed to the sources through `TokenSource.Fetch`, the core's own seam.
 */
const recordingFetch: TokenSource.FetchFn = async (input, init) => {
  const response = await fetch(input, init)
  response
    .clone()
    .text()
    .then(
      (text) => {
        for (const jwt of text.match(JWT_SHAPE) ?? []) seenJwts.add(jwt)
      },
      () => undefined, // aborted or dropped: no body, nothing to record
    )
  return response
}

const recorded = <E>(source: Layer.Layer<TokenSource.TokenSource, E>) =>
  source.pipe(Layer.provide(Layer.succeed(TokenSource.Fetch, recordingFetch)))

const record = <A>(promise: Promise<A>): Promise<A> =>
  promise.then(
    (value) => {
      if (value !== null && typeof value === "object" && "jwt" in value) {
        seenJwts.add((value as { jwt: string }).jwt)
      }
      return value
    },
    (error: unknown) => {
      seenErrors.push(error)
      throw error
    },
  )

/** Everything a person or a log could see of an error. */
export const renderings = (error: unknown): string[] => {
  const out = [String(error), inspect(error, { depth: 10 })]
  if (error instanceof Error) out.push(error.message, error.stack ?? "")
  try {
    out.push(JSON.stringify(error) ?? "")
  } catch (cause) {
    out.push(`JSON.stringify threw: ${String(cause)}`)
  }
  return out
}

/** Fails the test if any error seen so far shows a JWT (or its signature) or a secret. */
export const expectNoSecretInErrors = (): void => {
  expect(seenErrors.length).toBeGreaterThan(0)
  expect(seenJwts.size).toBeGreaterThan(0)
  const needles = [...seenSecrets]
  for (const jwt of seenJwts) needles.push(jwt, jwt.split(".")[2]!)
  for (const error of seenErrors) {
    for (const text of renderings(error)) {
      for (const needle of needles) {
        if (text.includes(needle)) {
          expect.fail(`${(error as { _tag?: string })._tag ?? "error"} shows a JWT or a secret`)
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Servers and clients, each stopped or disposed after its test.

let key: Promise<SigningKey> | undefined
const servers = new Set<DevServer>()
const clients = new Set<Client>()

afterEach(async () => {
  await Promise.all([...clients].map((client) => client.dispose()))
  clients.clear()
  await Promise.all([...servers].map((server) => server.stop()))
  servers.clear()
})

/** A dev server on 127.0.0.1, port 0, with one RSA key for the whole file; stopped after the test. */
export const startServer = async (): Promise<DevServer> => {
  const server = await startDevServer({ port: 0, signingKey: await (key ??= generateSigningKey()) })
  servers.add(server)
  seenSecrets.add(server.secretKey)
  return server
}

const track = (client: Client): Client => {
  clients.add(client)
  return client
}

/** The Promise face (`createTokenClient`) on a given source. */
const promiseFace = (
  name: string,
  prefix: string,
  source: (server: DevServer, secretKey: string) => Layer.Layer<TokenSource.TokenSource>,
): Face => ({
  name,
  kind: "promise",
  route: `POST ${prefix}/:sid/tokens`,
  templateRoute: `POST ${prefix}/:sid/tokens/:template`,
  open: (server, sessionId, config = {}, options = {}) => {
    const tok = createTokenClient({
      source: recorded(source(server, options.secretKey ?? server.secretKey)),
      session: sessionId,
      retry: config.retry ?? retry,
      requestTimeout: config.requestTimeout ?? 5_000,
    })
    return track({
      getToken: (ask) => record(tok.getToken(ask)),
      session: () => tok.session,
      dispose: () => tok.dispose(),
    })
  },
})

/** `createTokenClient` with `clerkFrontendApi`, as a browser app uses it. */
export const frontendPromise: Face = promiseFace(
  "Promise face, clerkFrontendApi",
  "/v1/client/sessions",
  (server) => clerkFrontendApi({ baseUrl: server.url }),
)

/** `createTokenClient` with `clerkBackendApi`, as a script without Effect uses it. */
export const backendPromise: Face = promiseFace(
  "Promise face, clerkBackendApi",
  "/v1/sessions",
  (server, secretKey) => clerkBackendApi({ baseUrl: server.url, secretKey }),
)

/**
 * A runtime holding one `TokenClient.layer` on `clerkBackendApi`: the Effect
 * API as a backend builds it. Dispose it (faces do) to end its fibers.
 */
export const effectRuntime = (
  server: DevServer,
  config: ClientConfig = {},
  options: { readonly secretKey?: string } = {},
) =>
  ManagedRuntime.make(
    TokenClient.layer({
      retry: config.retry ?? retry,
      requestTimeout: config.requestTimeout ?? 5_000,
    }).pipe(
      Layer.provide(
        recorded(
          TokenSource.clerkBackendApi({
            baseUrl: server.url,
            secretKey: options.secretKey ?? server.secretKey,
          }),
        ),
      ),
    ),
  )

/**
 * The Effect API on `clerkBackendApi`, as a backend uses it: one
 * `TokenClient.layer`, `getToken({ sessionId, … })`. A failure rejects with
 * the typed error itself.
 */
export const backendEffect: Face = {
  name: "Effect API, clerkBackendApi",
  kind: "effect",
  route: "POST /v1/sessions/:sid/tokens",
  templateRoute: "POST /v1/sessions/:sid/tokens/:template",
  open: (server, sessionId, config = {}, options = {}) => {
    const runtime = effectRuntime(server, config, options)
    const getToken = async (ask: Ask = {}): Promise<Token.Token> => {
      const exit = await runtime.runPromiseExit(
        Effect.gen(function* () {
          const tok = yield* TokenClient.TokenClient
          return yield* tok.getToken({ ...ask, sessionId })
        }),
      )
      if (Exit.isSuccess(exit)) return exit.value
      const error = Cause.findErrorOption(exit.cause)
      throw error._tag === "Some" ? error.value : Cause.squash(exit.cause)
    }
    return track({
      getToken: (ask) => record(getToken(ask)),
      session: () => undefined,
      dispose: () => runtime.dispose(),
    })
  },
}

// ---------------------------------------------------------------------------
// Reading the server from outside, as a user's test would.

/** `GET /__tok/stats`, over HTTP, with the secret key (so with per-session counts). */
export const stats = async (server: DevServer): Promise<DevServerStats> => {
  const response = await fetch(`${server.url}/__tok/stats`, {
    headers: { authorization: `Bearer ${server.secretKey}` },
    signal: AbortSignal.timeout(5_000),
  })
  expect(response.status).toBe(200)
  return (await response.json()) as DevServerStats
}

/** How many token requests reached the server, read from `/__tok/stats`. */
export const tokenRequests = async (server: DevServer): Promise<number> =>
  (await stats(server)).tokenRequests

/** Resolves once `/__tok/stats` counts `count` token requests; fails after `ms`. */
export const untilTokenRequests = async (
  server: DevServer,
  count: number,
  ms = 5_000,
): Promise<void> => {
  const deadline = Date.now() + ms
  while ((await tokenRequests(server)) < count) {
    if (Date.now() > deadline) throw new Error(`fewer than ${count} token requests after ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

const keySets = new WeakMap<DevServer, ReturnType<typeof createRemoteJWKSet>>()

/**
 * Verifies a JWT with `jose` against the server's JWKS, fetched over HTTP, and
 * its issuer. `at` (epoch s) is the verification time, for a skewed server clock.
 */
export const verify = (
  server: DevServer,
  jwt: string,
  options: { readonly audience?: string; readonly at?: number } = {},
): Promise<JWTVerifyResult> => {
  let keys = keySets.get(server)
  if (keys === undefined) {
    keys = createRemoteJWKSet(new URL(server.jwksUrl))
    keySets.set(server, keys)
  }
  return jwtVerify(jwt, keys, {
    issuer: server.url,
    ...(options.audience === undefined ? {} : { audience: options.audience }),
    ...(options.at === undefined ? {} : { currentDate: new Date(options.at * 1000) }),
  })
}

/** The error a promise rejects with; fails the test if it resolves. */
export const failure = async (promise: Promise<unknown>): Promise<unknown> => {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  )
  if (outcome.ok)
    expect.fail(`expected a failure, got ${outcome.value === null ? "null" : "a token"}`)
  return outcome.error
}

/** A token, not `null`; fails the test otherwise. */
export const must = (token: Token.Token | null): Token.Token => {
  if (token === null) return expect.fail("expected a token, got null")
  return token
}
