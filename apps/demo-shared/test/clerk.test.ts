import { describe, expect, it } from "vitest"
import {
  cookieSuffix,
  type CookieJar,
  demoSource,
  parseConfig,
  setupDevBrowser,
} from "../src/index.ts"

const key = (prefix: string, host: string) => `${prefix}${btoa(`${host}$`)}`
const DEV_KEY = key("pk_test_", "127.0.0.1:4010")

/** A cookie jar as `document.cookie` behaves: `set` adds or replaces one cookie, attributes dropped. */
const jar = (initial: Record<string, string> = {}) => {
  const cookies = new Map(Object.entries(initial))
  const set: string[] = []
  const cookieJar: CookieJar = {
    get: () => [...cookies].map(([name, value]) => `${name}=${value}`).join("; "),
    set: (cookie) => {
      set.push(cookie)
      const [pair = ""] = cookie.split(";")
      const eq = pair.indexOf("=")
      cookies.set(pair.slice(0, eq), pair.slice(eq + 1))
    },
  }
  return { cookieJar, cookies, set }
}

const devBrowserAnswer = (id: string) => {
  const calls: Array<{ url: string; init?: RequestInit }> = []
  const fetchFn = async (url: string, init?: RequestInit) => {
    calls.push({ url, ...(init === undefined ? {} : { init }) })
    return new Response(JSON.stringify({ object: "dev_browser", id }), { status: 200 })
  }
  return { calls, fetchFn }
}

describe("the demo as a Clerk app on a development instance", () => {
  it("derives clerk-js's cookie suffix from the key", async () => {
    // The value Clerk's own tests give for this key.
    expect(await cookieSuffix("pk_test_Y2xlcmsuY2xlcmsuZGV2JA")).toBe("QvfNY2dr")
  })

  it("gets a dev-browser token with POST /v1/dev_browser and keeps it in both cookies", async () => {
    const { cookieJar, cookies, set } = jar()
    const { calls, fetchFn } = devBrowserAnswer("dvb_new")
    expect(await setupDevBrowser(DEV_KEY, fetchFn, cookieJar)).toBe("dvb_new")
    expect(calls).toEqual([
      { url: "http://127.0.0.1:4010/v1/dev_browser", init: { method: "POST" } },
    ])
    const suffix = await cookieSuffix(DEV_KEY)
    expect(Object.fromEntries(cookies)).toEqual({
      [`__clerk_db_jwt_${suffix}`]: "dvb_new",
      __clerk_db_jwt: "dvb_new",
    })
    expect(set[0]).toMatch(/; Path=\/; Max-Age=31536000; SameSite=Lax$/)
  })

  it("reuses the key's own cookie, but not another instance's unsuffixed one", async () => {
    const suffix = await cookieSuffix(DEV_KEY)
    const kept = jar({ [`__clerk_db_jwt_${suffix}`]: "dvb_kept" })
    const none = devBrowserAnswer("dvb_unused")
    expect(await setupDevBrowser(DEV_KEY, none.fetchFn, kept.cookieJar)).toBe("dvb_kept")
    expect(none.calls).toEqual([])

    const other = jar({ __clerk_db_jwt: "dvb_of_another_instance" })
    const fresh = devBrowserAnswer("dvb_fresh")
    expect(await setupDevBrowser(DEV_KEY, fresh.fetchFn, other.cookieJar)).toBe("dvb_fresh")
    expect(other.cookies.get("__clerk_db_jwt")).toBe("dvb_fresh")
  })

  it("has nothing to set up for a production key", async () => {
    const { cookieJar, set } = jar()
    const { calls, fetchFn } = devBrowserAnswer("dvb_x")
    expect(await setupDevBrowser(key("pk_live_", "clerk.example.com"), fetchFn, cookieJar)).toBe(
      null,
    )
    expect(calls).toEqual([])
    expect(set).toEqual([])
  })

  it("says so when the dev browser cannot be set up", async () => {
    const { cookieJar } = jar()
    const refused = async () => new Response("{}", { status: 500 })
    await expect(setupDevBrowser(DEV_KEY, refused, cookieJar)).rejects.toThrow(/HTTP 500/)
    const down = async () => Promise.reject(new TypeError("fetch failed"))
    await expect(setupDevBrowser(DEV_KEY, down, cookieJar)).rejects.toThrow(/could not be reached/)
  })

  it("takes the publishable key from /config.json and builds the source on it", async () => {
    const config = parseConfig({
      tokenServer: "http://127.0.0.1:4010",
      api: "http://127.0.0.1:4020",
      publishableKey: DEV_KEY,
    })
    expect(config.publishableKey).toBe(DEV_KEY)
    expect(
      parseConfig({ ...config, publishableKey: "sk_test_nope" }).publishableKey,
    ).toBeUndefined()
    const { cookieJar, cookies } = jar()
    const { calls, fetchFn } = devBrowserAnswer("dvb_page")
    expect(await demoSource(config, fetchFn, cookieJar)).toBeDefined()
    expect(calls).toHaveLength(1)
    expect(cookies.get("__clerk_db_jwt")).toBe("dvb_page")
  })
})
