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
import { checkA11y } from "../src/a11y.ts"
import type { Browser } from "../src/browser.ts"
import { probe, until, useStack } from "../src/harness.ts"
import { repoRoot, type Demo } from "../src/stack.ts"

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

const stack = useStack()
let demo: Demo
let browser: Browser
let keys: ReturnType<typeof createRemoteJWKSet>

beforeAll(async () => {
  ;({ demo, browser } = stack)
  keys = createRemoteJWKSet(new URL(`${demo.tokenServer}/.well-known/jwks.json`))
  await mkdir(artifacts, { recursive: true })
})

const statusOf = (page: Page) => page.getByTestId("status").getAttribute("data-status", probe)
const labelOf = async (page: Page) => (await page.getByTestId("status").textContent(probe))?.trim()
const detailOf = async (page: Page) =>
  (await page.getByTestId("status-detail").count()) === 0
    ? ""
    : ((await page.getByTestId("status-detail").textContent(probe))?.trim() ?? "")
const jwtOf = async (page: Page) =>
  (await page.getByTestId("jwt").getAttribute("data-jwt", probe)) ?? ""
const claimOf = (page: Page, name: string) =>
  page.locator(`[data-testid="claims"] tr[data-claim="${name}"] td`).textContent(probe)
const pageCount = async (page: Page) =>
  Number((await page.getByTestId("requests").getAttribute("data-page-count", probe)) || "NaN")
const apiStatusOf = async (page: Page) =>
  (await page.getByTestId("api-status").count()) === 0
    ? null
    : await page.getByTestId("api-status").getAttribute("data-status", probe)
const focused = (page: Page) =>
  page.evaluate(() => document.activeElement?.getAttribute("data-testid") ?? null)

/** The faults in force, as the token server reports them. */
const faultsNow = async () =>
  (await (await fetch(`${demo.tokenServer}/__tok/faults`)).json()) as Record<string, unknown>

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
    // 12 s tokens, 5 s buffer: a background refresh 5–6 s into a token's life.
    await demo.setTokenLifetime(12)
    page = await browser.context.newPage()
    page.on("pageerror", (error) => pageErrors.push(error.message))
    await page.goto(`${demo.url}/${app.slug}/`)
    await waitForStatus(page, "signed-out")
  })

  afterAll(async () => {
    await demo.reset()
    await page?.close()
  })

  it("signs in and becomes ready with a JWT that verifies against the JWKS; focus moves on", async () => {
    await page.getByTestId("user-id").fill(user)
    await page.getByTestId("sign-in").click()
    await waitForStatus(page, "ready")
    // This page's requests, at once: one for the session token. Read before the
    // checks below, which a loaded machine can stretch into the background
    // refresh 5–6 s on.
    expect(await pageCount(page)).toBe(1)
    sessionId = (await page.getByTestId("session-id").textContent(probe))!.trim()
    expect(sessionId).toMatch(/^sess_/)
    const claims = await verify(await jwtOf(page))
    expect(claims).toMatchObject({ sub: user, sid: sessionId, azp: demo.url })
    expect(claims.exp! - claims.iat!).toBe(12)
    expect(await claimOf(page, "sub")).toBe(user)
    expect(await labelOf(page)).toBe("Ready")
    // Never more than the lifetime (it showed 16 s for a 15 s token), and the
    // lifetime and the buffer beside it.
    const left = Number((await page.getByTestId("countdown").textContent(probe))!.split(" ")[0])
    expect(left).toBeGreaterThan(0)
    expect(left).toBeLessThanOrEqual(12)
    expect(await page.getByTestId("lifetime").textContent(probe)).toContain(
      "of a 12 s token · not handed out in its last 5 s",
    )
    expect(await page.getByTestId("jwt").textContent(probe)).toContain("…")
    // Focus is on Sign out, not dropped to <body> with the disabled Sign in.
    await until("focus on Sign out", async () => (await focused(page)) === "sign-out", 3_000)
  })

  it("<tok-devtools> is on the page, with the token's bar", async () => {
    expect(await page.locator("tok-devtools").count()).toBe(1)
    await until(
      "a token bar",
      async () => (await page.locator('tok-devtools [data-kind="token-bar"]').count()) > 0,
      5_000,
    )
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
    expect(await pageCount(page)).toBeGreaterThanOrEqual(2)
  })

  it('"Refresh now" in an outage says Retrying (not Error) and ends in a fresh token once the server is back', async () => {
    const before = await jwtOf(page)
    // The page's own button: 503 for 8 s. Timed from before the click, so no
    // later than the window opens: timed after the confirmation below, a slow
    // probe ate into the > 7 s.
    const faultAt = Date.now()
    await page.getByTestId("fault-outage").click()
    await until(
      "the fault in force",
      async () => /503 for/.test((await page.getByTestId("faults").textContent(probe)) ?? ""),
      3_000,
    )
    await page.getByTestId("refresh").click()
    // Retrying, with the attempt, while the cached token is still served.
    const detail = await until(
      "the retrying status",
      async () => {
        const text = await detailOf(page)
        return (await labelOf(page)) === "Retrying" && /attempt \d+ failed \(HTTP 503\)/.test(text)
          ? text
          : undefined
      },
      8_000,
    )
    expect(detail).toMatch(/next try|still serving the cached token, \d+ s left|trying again/)
    expect(await page.getByTestId("status").getAttribute("data-tone", probe)).toBe("warn")
    // "Refresh now" does not give up quietly: it says it will try again.
    await until(
      "the refresh note",
      async () =>
        /Trying again in \d+ s/.test(
          (await page.getByTestId("refresh-note").textContent(probe)) ?? "",
        ),
      8_000,
    )
    await page.screenshot({
      path: join(artifacts, `demo-${app.slug}-retrying.png`),
      fullPage: true,
    })
    const recovered = await waitForNewJwt(page, before, 25_000)
    expect(Date.now() - faultAt).toBeGreaterThan(7_000)
    expect((await verify(recovered)).sid).toBe(sessionId)
    expect(await detailOf(page)).toMatch(/^Recovered after \d+\.\d s$/)
    expect(await labelOf(page)).toBe("Ready")
    expect(await page.getByTestId("refresh-note").count()).toBe(0)
    expect((await demo.stats()).faults.failed).toBeGreaterThanOrEqual(2)
    await page
      .locator("tok-devtools")
      .screenshot({ path: join(artifacts, `demo-${app.slug}-timeline.png`) })
    // The failures are on the timeline.
    expect(
      await page
        .locator('tok-devtools [data-kind="tick-failure"], tok-devtools [data-kind="tick-retry"]')
        .count(),
    ).toBeGreaterThan(0)
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
  })

  it("calls the API with the session token, and the card names the template shown", async () => {
    await page.getByTestId("call-api").click()
    await until("the API's answer", async () => (await apiStatusOf(page)) === "200", 10_000)
    const status = page.getByTestId("api-status")
    const text = (await status.textContent(probe))!
    expect(text).toContain(`✓ 200 OK — ${user}'s notes`)
    expect(text).toContain("not the hasura token shown above")
    expect(text).not.toMatch(/\(tok: /)
    expect(await status.getAttribute("data-tone", probe)).toBe("ok")
    const body = JSON.parse((await page.getByTestId("api-result").textContent(probe))!)
    expect(body).toMatchObject({
      user,
      session: sessionId,
      authorizedParty: demo.url,
      downstream: { template: "supabase", answer: { owner: user } },
    })
    await page.getByTestId("template").selectOption("")
    await waitForNewJwt(page, "")
    await page.screenshot({ path: join(artifacts, `demo-${app.slug}.png`), fullPage: true })
  })

  it("1,000 callers make one token request", async () => {
    await page.getByTestId("callers").click()
    const result = page.getByTestId("callers-result")
    await until(
      "the callers' result",
      async () => (await result.getAttribute("data-requests", probe)) ?? undefined,
      10_000,
    )
    expect(await result.getAttribute("data-requests", probe)).toBe("1")
    // The measurement, for the record (the README quotes it).
    console.log(`[${app.slug}] ${await result.textContent(probe)}`)
    expect(await result.textContent(probe)).toMatch(
      /^1,000 concurrent callers → 1 token request, all answered in \d+ ms; 1,000 more from the cache: [\d.]+ µs a call$/,
    )
  })

  it("has no serious or critical accessibility violations, signed in", async () => {
    const violations = await checkA11y(page)
    expect(violations).toEqual([])
  })

  it("sign-out clears the API card, moves focus, and the API refuses a bare call", async () => {
    expect(await apiStatusOf(page)).toBe("200")
    await page.getByTestId("sign-out").click()
    await waitForStatus(page, "signed-out")
    expect(await jwtOf(page)).toBe("")
    expect(await page.getByTestId("claims").count()).toBe(0)
    await until("the API card cleared", async () => (await apiStatusOf(page)) === null, 3_000)
    expect(await page.getByTestId("api-result").count()).toBe(0)
    await until("focus on the user id", async () => (await focused(page)) === "user-id", 3_000)
    await page.getByTestId("call-api").click()
    await until("the refusal", async () => (await apiStatusOf(page)) === "401", 10_000)
    expect(await page.getByTestId("api-status").textContent(probe)).toContain("✕ 401 Refused")
    expect(await page.getByTestId("api-status").getAttribute("data-tone", probe)).toBe("bad")
  })

  it('Call API in an outage: pending, then "could not get a token", cleared once a token is back', async () => {
    // Signed in during an outage whose answers take 600 ms: no token yet. The
    // outage lasts until the test ends it below: a timed one could end while
    // Call API's own flight (when it came after the watcher's had failed) was
    // still retrying, and that flight would get a token.
    await demo.setFaults({ failFor: { ms: 60_000, status: 503 }, latencyMs: 600 })
    await page.getByTestId("sign-in").click()
    await until("a session", async () => (await statusOf(page)) !== "signed-out", 5_000)
    const pending = page.waitForSelector('[data-testid="api-pending"]', { timeout: 5_000 })
    await page.getByTestId("call-api").click()
    await pending
    await until("the answer", async () => (await apiStatusOf(page)) === "no-token", 15_000)
    const text = (await page.getByTestId("api-status").textContent(probe))!
    expect(text).toMatch(/^✕ Could not get a token — demo-api was not called: /)
    expect(text).not.toContain("Unreachable")
    await demo.setFaults({ failFor: null, latencyMs: 0 })
    await waitForStatus(page, "ready", 25_000)
    await until("the error cleared", async () => (await apiStatusOf(page)) === null, 3_000)
    expect(pageErrors).toEqual([])
  })

  it("works at 375 px: no sideways scrolling, Call API above the fold", async () => {
    await page.setViewportSize({ width: 375, height: 812 })
    try {
      await page.getByTestId("call-api").waitFor({ timeout: 2_000 })
      // What sticks out, if anything, by its tag, test id or class.
      const wide = await page.evaluate(() =>
        [...document.querySelectorAll("body *")]
          .filter((element) => element.getBoundingClientRect().right > 376)
          .map(
            (element) =>
              `${element.tagName.toLowerCase()}${
                element.getAttribute("data-testid")
                  ? `[${element.getAttribute("data-testid")}]`
                  : ""
              }.${element.className}`,
          )
          .slice(0, 5),
      )
      expect(wide).toEqual([])
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
        375,
      )
      const box = await page.getByTestId("call-api").boundingBox()
      expect(box!.y + box!.height).toBeLessThanOrEqual(812)
      await page.screenshot({ path: join(artifacts, `demo-${app.slug}-375.png`) })
      expect(await checkA11y(page)).toEqual([])
    } finally {
      await page.setViewportSize({ width: 900, height: 1100 })
    }
  })
})

describe("the fault buttons", () => {
  it("what the page shows for each: a 429 waits as told, dropped connections and a skewed clock end in a fresh token", async () => {
    const page = await browser.context.newPage()
    try {
      await demo.reset()
      // 50 s tokens: the countdown reads "n s" (a minute or more reads "1 min 00 s").
      await demo.setTokenLifetime(50)
      await page.goto(`${demo.url}/${apps[0]!.slug}/`)
      await waitForStatus(page, "signed-out")
      await page.getByTestId("user-id").fill("user_e2e_faults")
      await page.getByTestId("sign-in").click()
      await waitForStatus(page, "ready")

      // 429 for 6 s with Retry-After 3 s: Retrying with the status, then a fresh
      // token once the window is over — and no more 429s than the waits allow.
      let before = await jwtOf(page)
      // Timed from before the click, so no later than the window opens (as above).
      const limitedAt = Date.now()
      await page.getByTestId("fault-rate-limit").click()
      await until(
        "the 429 in force",
        async () => /429/.test((await page.getByTestId("faults").textContent(probe)) ?? ""),
        3_000,
      )
      await page.getByTestId("refresh").click()
      await until(
        "Retrying (HTTP 429)",
        async () =>
          (await labelOf(page)) === "Retrying" && /\(HTTP 429\)/.test(await detailOf(page)),
        8_000,
      )
      await waitForNewJwt(page, before, 25_000)
      expect(Date.now() - limitedAt).toBeGreaterThan(5_000)
      expect(await detailOf(page)).toMatch(/^Recovered after \d+\.\d s$/)
      // 6 s of 429s, each answer saying "wait 3 s": three at most.
      expect((await demo.stats()).faults.failed).toBeLessThanOrEqual(3)

      // Three dropped connections: retried as network failures, then a fresh token.
      before = await jwtOf(page)
      await page.getByTestId("fault-drop").click()
      await until(
        "the drops in force",
        async () => ((await faultsNow()).drop as number) === 3,
        3_000,
      )
      await page.getByTestId("refresh").click()
      await waitForNewJwt(page, before, 25_000)
      expect((await demo.stats()).faults.dropped).toBe(3)
      expect(await labelOf(page)).toBe("Ready")

      // The server's clock an hour ahead: tok measures a lifetime as exp − iat
      // on the page's own clock, so the token is fresh and its countdown honest.
      before = await jwtOf(page)
      await page.getByTestId("fault-skew").click()
      await until(
        "the skew in force",
        async () => (await faultsNow()).clockSkewSeconds === 3600,
        3_000,
      )
      await page.getByTestId("refresh").click()
      const skewed = await waitForNewJwt(page, before, 10_000)
      const { iat } = decodeJwt(skewed)
      expect(iat! * 1000 - Date.now()).toBeGreaterThan(3_500_000)
      const left = Number((await page.getByTestId("countdown").textContent(probe))!.split(" ")[0])
      expect(left).toBeGreaterThan(30)
      expect(left).toBeLessThanOrEqual(50)
      expect(await labelOf(page)).toBe("Ready")
    } finally {
      await demo.reset()
      await page.close()
    }
  })

  it("each sets its fault through the admin API, and Clear clears them", async () => {
    const page = await browser.context.newPage()
    try {
      await page.goto(`${demo.url}/${apps[0]!.slug}/`)
      await waitForStatus(page, "signed-out")
      const faults = async () =>
        (await (await fetch(`${demo.tokenServer}/__tok/faults`)).json()) as Record<string, unknown>
      const expected: Record<string, (f: Record<string, unknown>) => boolean> = {
        "fault-outage": (f) => (f.failFor as { status: number } | null)?.status === 503,
        "fault-latency": (f) => f.latencyMs === 1500,
        "fault-rate-limit": (f) =>
          (f.failFor as { status: number; retryAfterSeconds?: number } | null)?.status === 429 &&
          (f.failFor as { retryAfterSeconds?: number }).retryAfterSeconds === 3,
        "fault-drop": (f) => f.drop === 3,
        "fault-skew": (f) => f.clockSkewSeconds === 3600,
      }
      for (const [button, check] of Object.entries(expected)) {
        await page.getByTestId(button).click()
        await until(`${button}'s fault`, async () => check(await faults()), 3_000)
      }
      await page.getByTestId("fault-clear").click()
      await until(
        "no faults",
        async () => {
          const f = await faults()
          return f.failFor === null && f.latencyMs === 0 && f.drop === 0 && f.clockSkewSeconds === 0
        },
        3_000,
      )
    } finally {
      await demo.reset()
      await page.close()
    }
  })
})
