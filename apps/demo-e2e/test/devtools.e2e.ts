/**
 * `<tok-devtools>` on a demo page, in a real Chromium against the real demo
 * stack: a bar for the current token, a tick per token request the server
 * saw, and after a fault window red marks, then a recovery. The element is
 * the same on every page (mounted once by `@tok/demo-shared`), so one app
 * is enough: `E2E_DEVTOOLS_APP` picks it (default vue).
 */
import { copyFile, mkdir } from "node:fs/promises"
import { join } from "node:path"
import type { Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Browser } from "../src/browser.ts"
import { probe, until, useStack } from "../src/harness.ts"
import { repoRoot, type Demo } from "../src/stack.ts"

const app = process.env.E2E_DEVTOOLS_APP ?? "vue"
const artifacts = join(repoRoot, ".e2e-artifacts")

const stack = useStack()
let demo: Demo
let browser: Browser
let page: Page

beforeAll(async () => {
  ;({ demo, browser } = stack)
  await mkdir(artifacts, { recursive: true })
  await demo.reset()
  await demo.setTokenLifetime(8)
  page = await browser.context.newPage()
  await page.goto(`${demo.url}/${app}/`)
})

afterAll(async () => {
  await page?.close()
})

/** Elements in the timeline's shadow root (Playwright's CSS pierces open shadow roots). */
const marks = (kind: string) => page.locator(`tok-devtools [data-kind="${kind}"]`)

describe(`<tok-devtools> on the ${app} demo`, () => {
  let sessionId = ""

  it("shows a bar for the current token and a tick per token request", async () => {
    // The page mounts it once its config and source are loaded.
    await until(
      "the element",
      async () => (await page.locator("tok-devtools").count()) === 1,
      10_000,
    )
    // 8 s tokens: the last 40 s show a few lives side by side.
    await page.locator("tok-devtools").evaluate((element) => element.setAttribute("window", "40"))
    await page.getByTestId("user-id").fill("user_e2e_devtools")
    await page.getByTestId("sign-in").click()
    await until(
      "ready",
      async () => (await page.getByTestId("status").getAttribute("data-status", probe)) === "ready",
      10_000,
    )
    sessionId = (await page.getByTestId("session-id").textContent(probe))!.trim()
    await until(
      "the current token's bar",
      async () => (await marks("token-bar").count()) >= 1,
      5_000,
    )
    expect(await page.locator('tok-devtools [data-kind="token-bar"][data-current]').count()).toBe(1)
    // Every request the server saw for this session is a tick (requests and refreshes).
    // With a refresh every 1–2 s, three separate reads could straddle one: the
    // ticks are counted in one go, between two server reads that must agree.
    const ticks = () =>
      page.evaluate(
        () =>
          document
            .querySelector("tok-devtools")
            ?.shadowRoot?.querySelectorAll('[data-kind="tick-request"], [data-kind="tick-refresh"]')
            .length ?? -1,
      )
    const requests = async () => (await demo.sessionStats(sessionId)).tokenRequests ?? -1
    await until(
      "a tick per request",
      async () => {
        const before = await requests()
        const shown = await ticks()
        const after = await requests()
        return before >= 1 && before === after && shown === before
      },
      10_000,
    )
    expect(await page.locator("tok-devtools .instances").first().textContent(probe)).toMatch(/^by /)
  })

  it("shows red marks in a fault window, then the recovery", async () => {
    await demo.setFaults({ failFor: { ms: 8_000, status: 503 } })
    await until(
      "red marks",
      async () => (await marks("tick-retry").count()) + (await marks("tick-failure").count()) > 0,
      12_000,
    )
    await until("a recovery", async () => (await marks("tick-recovery").count()) >= 1, 25_000)
    // The fault window itself is shaded, from the first failed attempt to the token that ended it.
    expect(await marks("outage").count()).toBeGreaterThanOrEqual(1)
    await until(
      "the current token's bar",
      async () => (await marks("token-bar").count()) >= 2,
      5_000,
    )
    expect(await page.locator('tok-devtools [data-kind="token-bar"][data-current]').count()).toBe(1)
    const shot = join(artifacts, `devtools-${app}.png`)
    await page.locator("tok-devtools").screenshot({ path: shot })
    // The README's picture, refreshed by a run with E2E_DEVTOOLS_SCREENSHOT=1.
    if (process.env.E2E_DEVTOOLS_SCREENSHOT) {
      await copyFile(shot, join(repoRoot, "packages/devtools/docs/timeline.png"))
    }
  })
})
