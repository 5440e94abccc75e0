/**
 * `@tok/core` against the real dev server standing in for a Clerk development
 * instance: `clerkFrontendApi({ publishableKey })` with and without the
 * dev-browser token, through the Promise face and the Effect API.
 */
import { inspect } from "node:util"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { afterEach, describe, expect, it } from "vitest"
import {
  clerkFrontendApi,
  createTokenClient,
  parsePublishableKey,
  type TokClient,
  TokenClient,
  TokenRequestError,
  TokenSource,
} from "@tok/core"
import { generateSigningKey, startDevServer, type DevServer } from "@tok/dev-server"
import { failure, must, stats, verify } from "./support.ts"

const key = generateSigningKey()
const servers = new Set<DevServer>()
const clients = new Set<TokClient>()
afterEach(async () => {
  await Promise.all([...clients].map((client) => client.dispose()))
  clients.clear()
  await Promise.all([...servers].map((server) => server.stop()))
  servers.clear()
})

/** A dev server as a development instance, with one signed-in session. */
const setup = async () => {
  const server = await startDevServer({ instance: "development", signingKey: await key })
  servers.add(server)
  const { id } = server.signIn("user_dev")
  return { server, sessionId: id }
}

/** `POST /v1/dev_browser`, as clerk-js (or tok's demo page) does. */
const devBrowser = async (server: DevServer): Promise<string> => {
  const response = await fetch(`${server.url}/v1/dev_browser`, {
    method: "POST",
    signal: AbortSignal.timeout(5_000),
  })
  expect(response.status).toBe(200)
  return ((await response.json()) as { id: string }).id
}

const client = (source: Layer.Layer<TokenSource.TokenSource>, sessionId: string): TokClient => {
  const tok = createTokenClient({
    source,
    session: sessionId,
    retry: { attempts: 3, baseDelay: 20, maxDelay: 200 },
    requestTimeout: 5_000,
  })
  clients.add(tok)
  return tok
}

const tokenRequests = async (server: DevServer) => (await stats(server)).tokenRequests

describe("clerkFrontendApi against a development instance", () => {
  it("the server's publishable key names it: development, over http on loopback", async () => {
    const { server } = await setup()
    expect(parsePublishableKey(server.publishableKey)).toEqual({
      instanceType: "development",
      frontendApi: new URL(server.url).host,
      frontendApiUrl: server.url,
    })
  })

  it("with the dev-browser token, tokens verify against the JWKS, templates too", async () => {
    const { server, sessionId } = await setup()
    const dvb = await devBrowser(server)
    const tok = client(
      clerkFrontendApi({ publishableKey: server.publishableKey, devBrowserToken: () => dvb }),
      sessionId,
    )
    const token = must(await tok.getToken())
    expect((await verify(server, token.jwt)).payload).toMatchObject({ sid: sessionId })
    const supabase = must(await tok.getToken({ template: "supabase" }))
    expect((await verify(server, supabase.jwt, { audience: "authenticated" })).payload.sid).toBe(
      sessionId,
    )
    expect(await tokenRequests(server)).toBe(2)
  })

  it("without it the server answers as Clerk would: a TokenRequestError, nobody signed out, no retry", async () => {
    const { server, sessionId } = await setup()
    // A client that does not know it is talking to a development instance.
    const tok = client(clerkFrontendApi({ baseUrl: server.url }), sessionId)
    const error = await failure(tok.getToken())
    expect(error).toBeInstanceOf(TokenRequestError)
    expect(error).toMatchObject({ status: 401, code: "dev_browser_unauthenticated" })
    expect(tok.session).toBe(sessionId)
    expect(server.session(sessionId)?.status).toBe("active")
    expect(await tokenRequests(server)).toBe(1)
  })

  it("with the key but no dev-browser token, it fails the same way and sends nothing", async () => {
    const { server, sessionId } = await setup()
    const tok = client(clerkFrontendApi({ publishableKey: server.publishableKey }), sessionId)
    const error = await failure(tok.getToken())
    expect(error).toMatchObject({ _tag: "TokenRequestError", code: "dev_browser_unauthenticated" })
    expect(tok.session).toBe(sessionId)
    expect(await tokenRequests(server)).toBe(0)
  })

  it("a stale dev-browser token is a clear error; a fresh one works at once after it", async () => {
    const { server, sessionId } = await setup()
    let dvb = "dvb_from_an_earlier_run"
    const tok = client(
      clerkFrontendApi({ publishableKey: server.publishableKey, devBrowserToken: () => dvb }),
      sessionId,
    )
    const error = await failure(tok.getToken())
    expect(error).toBeInstanceOf(TokenRequestError)
    expect(error).toMatchObject({ status: 401, code: "dev_browser_unauthenticated" })
    expect(String(error)).toMatch(
      /dev-browser token \(__clerk_db_jwt\).*missing, unknown or expired/,
    )
    for (const text of [String(error), inspect(error, { depth: 10 }), JSON.stringify(error)]) {
      expect(text).not.toContain(dvb)
    }
    expect(tok.session).toBe(sessionId)
    // What clerk-js does on dev_browser_unauthenticated: set the dev browser up again.
    dvb = await devBrowser(server)
    expect(must(await tok.getToken()).sessionId).toBe(sessionId)
    for (const text of [String(error), inspect(error, { depth: 10 })]) {
      expect(text).not.toContain(dvb)
    }
  })

  it("the Effect API gets tokens and the same typed failure", async () => {
    const { server, sessionId } = await setup()
    const dvb = await devBrowser(server)
    const runtime = (devBrowserToken: string | undefined) =>
      ManagedRuntime.make(
        TokenClient.layer({ retry: { attempts: 2, baseDelay: 10, maxDelay: 50 } }).pipe(
          Layer.provide(
            TokenSource.clerkFrontendApi({
              publishableKey: server.publishableKey,
              ...(devBrowserToken === undefined ? {} : { devBrowserToken }),
            }),
          ),
        ),
      )
    const get = Effect.gen(function* () {
      const tok = yield* TokenClient.TokenClient
      return yield* tok.getToken({ sessionId })
    })
    const good = runtime(dvb)
    const bad = runtime(undefined)
    try {
      expect((await good.runPromise(get)).sessionId).toBe(sessionId)
      const code = await bad.runPromise(
        get.pipe(
          Effect.map(() => "a token"),
          Effect.catchTag("TokenRequestError", (error) => Effect.succeed(error.code)),
        ),
      )
      expect(code).toBe("dev_browser_unauthenticated")
    } finally {
      await good.dispose()
      await bad.dispose()
    }
  })
})
