/**
 * The demo pages in a real Chromium, against the real demo stack: the dev
 * token server, demo-api and the page server, as `./tools/run demo` starts
 * them. Each app goes through the same story; the steps of one app build on
 * each other, so they run in order.
 */
import { mkdir } from "node:fs/promises"
import { join } from "node:path"
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from "jose"
import type { Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { launch, type Browser } from "../src/browser.ts"
import { repoRoot, startDemo, type Demo } from "../src/stack.ts"

const allApps = [
  { slug: "vue", name: "Vue" },
  { slug: "svelte", name: "Svelte" },
  { slug: "angular", name: "Angular" },
  { slug: "react", name: "React" },
]
/** `E2E_APPS=vue,svelte` runs only those. */
const only = process.env.E2E_APPS?.split(",").map((slug) => slug.trim())
const apps = only ? allApps.filter((app) => only.includes(app.slug)) : allApps
const artifacts = join(repoRoot, ".e2e-artifacts")

let demo: Demo
let browser: Browser
let keys: ReturnType<typeof createRemoteJWKSet>
// Kept apart so that afterAll stops whichever started, even if the other failed.
let demoP: Promise<Demo> | undefined
let browserP: Promise<Browser> | undefined

beforeAll(async () => {
  demoP = startDemo()
  browserP = launch()
  ;[demo, browser] = await Promise.all([demoP, browserP])
  keys = createRemoteJWKSet(new URL(`${demo.tokenServer}/.well-known/jwks.json`))
  await mkdir(artifacts, { recursive: true })
})

afterAll(async () => {
  // A start that failed has already failed beforeAll: nothing to stop there.
  await (await browserP?.catch(() => undefined))?.close()
  await (await demoP?.catch(() => undefined))?.stop()
})

/**
 * Playwright's bound on one probe (`getAttribute`, `textContent`, …): it waits
 * for a missing element up to its timeout (30 s by default), which would
 * overrun `until`'s deadline; with this, `until` decides.
 */
const probeMs = 1_000
const probe = { timeout: probeMs }

/**
 * Polls `check` every 100 ms until it returns a value other than
 * `undefined`/`false`; a check that throws (an element not there yet) counts
 * as "not yet". Each check is bounded by `probeMs`, so this returns or throws
 * within `timeoutMs` + `probeMs`.
 */
const until = async <A>(
  what: string,
  check: () => Promise<A | undefined | false>,
  timeoutMs: number,
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  let failure: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined && value !== false) return value
      failure = undefined
    } catch (error) {
      failure = error
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: failure })
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const statusOf = (page: Page) => page.getByTestId("status").getAttribute("data-status", probe)
const jwtOf = async (page: Page) =>
  (await page.getByTestId("jwt").getAttribute("data-jwt", probe)) ?? ""
const claimOf = (page: Page, name: string) =>
  page.locator(`[data-testid="claims"] tr[data-claim="${name}"] td`).textContent(probe)
const sessionCount = async (page: Page) =>
  Number((await page.getByTestId("requests").getAttribute("data-session-count", probe)) || "NaN")

const waitForStatus = (page: Page, status: string, timeoutMs = 10_000) =>
  until(`status "${status}"`, async () => (await statusOf(page)) === status, timeoutMs)

/** Waits for a JWT other than `previous` in a `ready` page, and returns it. */
const waitForNewJwt = (page: Page, previous: string, timeoutMs = 10_000) =>
  until(
    "a new JWT",
    async () => {
      const jwt = await jwtOf(page)
      return jwt !== "" && jwt !== previous && (await statusOf(page)) === "ready" ? jwt : undefined
    },
    timeoutMs,
  )

const verify = async (jwt: string, audience?: string): Promise<JWTPayload> =>
  (
    await jwtVerify(jwt, keys, {
      issuer: demo.tokenServer,
      algorithms: ["RS256"],
      ...(audience === undefined ? {} : { audience }),
    })
  ).payload

describe("the demo as a Clerk development instance", () => {
  it("its pages get a dev-browser token as clerk-js does, and the token server wants it", async () => {
    const config = (await (await fetch(`${demo.url}/config.json`)).json()) as {
      publishableKey?: string
    }
    expect(config.publishableKey).toMatch(/^pk_test_/)
    const page = await browser.context.newPage()
    try {
      await page.goto(`${demo.url}/${apps[0]!.slug}/`)
      await waitForStatus(page, "signed-out")
    } finally {
      await page.close()
    }
    // Kept where clerk-js keeps it: the key's suffixed cookie and the plain one.
    const cookies = await browser.context.cookies(demo.url)
    const kept = cookies.filter((cookie) => cookie.name.startsWith("__clerk_db_jwt"))
    expect(kept.map((cookie) => cookie.name.replace(/_[\w-]{8}$/, "_<suffix>")).sort()).toEqual([
      "__clerk_db_jwt",
      "__clerk_db_jwt_<suffix>",
    ])
    const dvb = kept[0]!.value
    expect(dvb).toMatch(/^dvb_/)
    // The token server, like a Clerk development instance, refuses token requests without it.
    const signIn = await fetch(`${demo.tokenServer}/v1/client/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user_id: "user_e2e_dev_browser" }),
    })
    const { id } = (await signIn.json()) as { id: string }
    const tokens = `${demo.tokenServer}/v1/client/sessions/${id}/tokens`
    const without = await fetch(tokens, { method: "POST" })
    expect(without.status).toBe(401)
    expect(await without.json()).toMatchObject({
      errors: [{ code: "dev_browser_unauthenticated" }],
    })
    const withIt = await fetch(`${tokens}?__clerk_db_jwt=${encodeURIComponent(dvb)}`, {
      method: "POST",
    })
    expect(withIt.status).toBe(200)
  })
})

describe.each(apps)("the $name demo", (app) => {
  let page: Page
  const pageErrors: string[] = []
  const user = `user_e2e_${app.slug}`
  let sessionId = ""

  beforeAll(async () => {
    await demo.reset()
    await demo.setTokenLifetime(8)
    page = await browser.context.newPage()
    page.on("pageerror", (error) => pageErrors.push(error.message))
    await page.goto(`${demo.url}/${app.slug}/`)
    await waitForStatus(page, "signed-out")
  })

  afterAll(async () => {
    await page?.close()
  })

  it("signs in and becomes ready with a JWT that verifies against the JWKS", async () => {
    await page.getByTestId("user-id").fill(user)
    await page.getByTestId("sign-in").click()
    await waitForStatus(page, "ready")
    sessionId = (await page.getByTestId("session-id").textContent(probe))!.trim()
    expect(sessionId).toMatch(/^sess_/)
    const claims = await verify(await jwtOf(page))
    expect(claims).toMatchObject({ sub: user, sid: sessionId, azp: demo.url })
    expect(claims.exp! - claims.iat!).toBe(8)
    expect(await claimOf(page, "sub")).toBe(user)
    expect(await page.getByTestId("countdown").textContent(probe)).toMatch(/^\d s$/)
    expect(await page.getByTestId("jwt").textContent(probe)).toContain("…")
  })

  it("refreshes the token in the background before it expires, staying ready", async () => {
    const first = await jwtOf(page)
    const { exp } = decodeJwt(first)
    const seen = new Set<string | null>()
    const next = await until(
      "a background refresh",
      async () => {
        seen.add(await statusOf(page))
        const jwt = await jwtOf(page)
        return jwt !== first ? jwt : undefined
      },
      12_000,
    )
    expect(Date.now() / 1000).toBeLessThan(exp!)
    expect([...seen]).toEqual(["ready"])
    const claims = await verify(next)
    expect(claims.sid).toBe(sessionId)
    expect(claims.iat!).toBeGreaterThan(decodeJwt(first).iat!)
    await until("the request counter", async () => (await sessionCount(page)) >= 2, 3_000)
  })

  it("shows the retrying state in a fault window and recovers by itself", async () => {
    // 8 s tokens are refreshed at half their life: the window (8 s) outlasts
    // the next refresh and its retries, and tok tries again 8 s later, after it.
    const fresh = await jwtOf(page)
    await demo.setFaults({ failFor: { ms: 8_000, status: 503 } })
    await waitForStatus(page, "error", 12_000)
    expect(await page.getByTestId("error").textContent(probe)).toMatch(
      /Token server unavailable — retrying/,
    )
    await page.screenshot({ path: join(artifacts, `demo-${app.slug}-retrying.png`) })
    const recovered = await waitForNewJwt(page, fresh, 20_000)
    expect((await verify(recovered)).sid).toBe(sessionId)
    expect(await page.getByTestId("error").count()).toBe(0)
    expect((await demo.stats()).faults.failed).toBeGreaterThanOrEqual(4)
  })

  it("switches template and back to the session token", async () => {
    await demo.setTokenLifetime(60)
    const before = await jwtOf(page)
    await page.getByTestId("template").selectOption("supabase")
    const supabase = await waitForNewJwt(page, before)
    expect(await verify(supabase, "authenticated")).toMatchObject({
      sub: user,
      role: "authenticated",
    })
    expect(await claimOf(page, "role")).toBe("authenticated")

    await page.getByTestId("template").selectOption("hasura")
    const hasura = await waitForNewJwt(page, supabase)
    const claims = await verify(hasura)
    expect(claims["https://hasura.io/jwt/claims"]).toMatchObject({ "x-hasura-user-id": user })

    await page.getByTestId("template").selectOption("")
    const session = await waitForNewJwt(page, hasura)
    const back = await verify(session)
    expect(back.aud).toBeUndefined()
    expect(back.sid).toBe(sessionId)
  })

  it('"refresh now" fetches a new token at once', async () => {
    // What the button guarantees: at least one more token request (a
    // background refresh may add its own), a new JWT shown, and a valid one.
    const before = await jwtOf(page)
    await until("the counters to settle", async () => (await sessionCount(page)) >= 1, 3_000)
    const requestsBefore = (await demo.sessionStats(sessionId)).tokenRequests
    await page.getByTestId("refresh").click()
    const after = await waitForNewJwt(page, before, 5_000)
    expect(decodeJwt(after).jti).not.toBe(decodeJwt(before).jti)
    expect((await verify(after)).sid).toBe(sessionId)
    expect((await demo.sessionStats(sessionId)).tokenRequests).toBeGreaterThanOrEqual(
      requestsBefore + 1,
    )
    await until(
      "the page's request counter",
      async () => (await sessionCount(page)) >= requestsBefore + 1,
      3_000,
    )
  })

  it("calls the API with the session token and shows its answer", async () => {
    await page.getByTestId("call-api").click()
    const status = page.getByTestId("api-status")
    await until(
      "the API's answer",
      async () => (await status.getAttribute("data-status", probe)) === "200",
      10_000,
    )
    expect(await status.textContent(probe)).toContain(`${user}'s notes`)
    const body = JSON.parse((await page.getByTestId("api-result").textContent(probe))!)
    expect(body).toMatchObject({
      user,
      session: sessionId,
      authorizedParty: demo.url,
      downstream: { template: "supabase", answer: { owner: user } },
    })
    await page.screenshot({ path: join(artifacts, `demo-${app.slug}.png`), fullPage: true })
  })

  it("signs out: no token, and the API refuses the call", async () => {
    await page.getByTestId("sign-out").click()
    await waitForStatus(page, "signed-out")
    expect(await jwtOf(page)).toBe("")
    expect(await page.getByTestId("claims").count()).toBe(0)
    await page.getByTestId("call-api").click()
    const status = page.getByTestId("api-status")
    await until(
      "the refusal",
      async () => (await status.getAttribute("data-status", probe)) === "401",
      10_000,
    )
    expect(await status.textContent(probe)).toContain("Refused")
    expect(pageErrors).toEqual([])
  })
})
