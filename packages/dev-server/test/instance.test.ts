/** The dev server as a Clerk production or development instance: its publishable key, dev browsers. */
import { describe, expect, it } from "vitest"
import { errorCode, jwtOf, post, request, start } from "./helpers.ts"

/** The host a publishable key holds, decoded. */
const hostOf = (key: string) => {
  const decoded = Buffer.from(key.slice(8), "base64").toString("utf8")
  expect(decoded.endsWith("$")).toBe(true)
  return decoded.slice(0, -1)
}

const tokenUrl = (url: string, sessionId: string, query = "") =>
  `${url}/v1/client/sessions/${sessionId}/tokens${query}`

describe("a production instance (the default)", () => {
  it("has a pk_live_ key holding its host, no dev browsers, and tokens without one", async () => {
    const server = await start()
    expect(server.instance).toBe("production")
    expect(server.publishableKey).toMatch(/^pk_live_/)
    expect(hostOf(server.publishableKey)).toBe(new URL(server.url).host)
    expect((await post(`${server.url}/v1/dev_browser`)).status).toBe(404)
    expect(() => server.createDevBrowser()).toThrow(/production/)
    const { id } = server.signIn("user_1")
    const answer = await post(tokenUrl(server.url, id))
    expect(answer.status).toBe(200)
    jwtOf(answer.body)
  })
})

describe("a development instance", () => {
  const dev = () => start({ instance: "development" })

  it("has a pk_test_ key holding its host, and says so in /__tok/config", async () => {
    const server = await dev()
    expect(server.instance).toBe("development")
    expect(server.publishableKey).toMatch(/^pk_test_/)
    expect(hostOf(server.publishableKey)).toBe(`127.0.0.1:${server.port}`)
    const config = await (await request(`${server.url}/__tok/config`)).json()
    expect(config).toMatchObject({
      instance: "development",
      publishableKey: server.publishableKey,
    })
  })

  it("issues a dev-browser token with POST /v1/dev_browser, cross-origin too", async () => {
    const server = await dev()
    const res = await request(`${server.url}/v1/dev_browser`, {
      method: "POST",
      headers: { Origin: "http://localhost:5173" },
    })
    expect(res.status).toBe(200)
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:5173")
    const body = (await res.json()) as { object: string; id: string }
    expect(body).toMatchObject({ object: "dev_browser", id: expect.stringMatching(/^dvb_/) })
    const again = (await post(`${server.url}/v1/dev_browser`)).body as { id: string }
    expect(again.id).not.toBe(body.id)
  })

  it("answers a token request without the dev-browser token 401 dev_browser_unauthenticated, in Clerk's shape", async () => {
    const server = await dev()
    const { id } = server.signIn("user_1")
    const answer = await post(tokenUrl(server.url, id))
    expect(answer.status).toBe(401)
    expect(answer.body).toEqual({
      errors: [
        {
          code: "dev_browser_unauthenticated",
          message: "Browser unauthenticated",
          long_message: expect.stringContaining("__clerk_db_jwt"),
        },
      ],
    })
    expect(server.session(id)?.status).toBe("active")
    const empty = await post(tokenUrl(server.url, id, "?__clerk_db_jwt="))
    expect(errorCode(empty.body)).toBe("dev_browser_unauthenticated")
  })

  it("answers a stale or unknown dev-browser token with a message that says so", async () => {
    const server = await dev()
    const { id } = server.signIn("user_1")
    const answer = await post(tokenUrl(server.url, id, "?__clerk_db_jwt=dvb_not_issued_here"))
    expect(answer.status).toBe(401)
    expect(errorCode(answer.body)).toBe("dev_browser_unauthenticated")
    expect(JSON.stringify(answer.body)).toMatch(/does not know the dev-browser token/)
    expect(JSON.stringify(answer.body)).not.toContain("dvb_not_issued_here")
  })

  it("gives tokens, session and template, to a request with its dev-browser token", async () => {
    const server = await dev()
    const { id } = server.signIn("user_1")
    const { id: dvb } = (await post(`${server.url}/v1/dev_browser`)).body as { id: string }
    const query = `?__clerk_db_jwt=${encodeURIComponent(dvb)}`
    expect((await post(tokenUrl(server.url, id, query))).status).toBe(200)
    const template = await post(`${server.url}/v1/client/sessions/${id}/tokens/supabase${query}`)
    expect(template.status).toBe(200)
    expect(server.stats().tokensIssued).toBe(2)
  })

  it("leaves the Backend API alone: the secret key is its credential", async () => {
    const server = await dev()
    const { id } = server.signIn("user_1")
    const answer = await post(`${server.url}/v1/sessions/${id}/tokens`, undefined, {
      Authorization: `Bearer ${server.secretKey}`,
    })
    expect(answer.status).toBe(200)
  })

  it("forgets its dev browsers on a reset that forgets sessions, not on a plain one", async () => {
    const server = await dev()
    const dvb = server.createDevBrowser()
    const { id } = server.signIn("user_1")
    server.reset()
    expect((await post(tokenUrl(server.url, id, `?__clerk_db_jwt=${dvb}`))).status).toBe(200)
    server.reset({ sessions: true })
    const { id: again } = server.signIn("user_1")
    const stale = await post(tokenUrl(server.url, again, `?__clerk_db_jwt=${dvb}`))
    expect(errorCode(stale.body)).toBe("dev_browser_unauthenticated")
  })

  it("refuses an instance that is neither", async () => {
    await expect(start({ instance: "staging" as never })).rejects.toThrow(/instance must be/)
  })
})
