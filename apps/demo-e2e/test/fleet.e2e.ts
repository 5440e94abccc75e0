/**
 * `./tools/run demo --fleet` in a real Chromium: demo-api as two instances
 * sharing one redis-server (@tok/redis), behind one address that takes turns
 * between them. The API card names the instance that answered and where its
 * template token came from, and across the fleet a session's template token
 * is fetched from the token server once (DESIGN §7).
 *
 * Needs redis-server (CI installs it); elsewhere, without it, the test is
 * skipped with a note.
 */
import { existsSync } from "node:fs"
import { delimiter, join } from "node:path"
import type { Page } from "playwright-core"
import { beforeAll, expect, it } from "vitest"
import { probe, until, useStack } from "../src/harness.ts"

// Where tools/demo-fleet.mjs looks: $REDIS_SERVER, else PATH.
const hasRedis =
  (process.env.REDIS_SERVER !== undefined && existsSync(process.env.REDIS_SERVER)) ||
  (process.env.PATH ?? "")
    .split(delimiter)
    .some((dir) => dir !== "" && existsSync(join(dir, "redis-server")))
// CI must run it: a missing install step there is a failure, not a skip.
const run = hasRedis || process.env.CI === "true"
if (!run)
  console.warn("[fleet e2e] skipped: no redis-server on PATH (apt-get install redis-server)")

const stack = useStack({ flags: ["--fleet"], enabled: run })

beforeAll(async () => {
  if (!run) return
  await stack.demo.reset()
  // Long-lived page tokens: no background refresh mixes into the counts below.
  await stack.demo.setTokenLifetime(60)
})

interface Answer {
  readonly instance: string | undefined
  readonly tokenSource: string | undefined
  readonly text: string
}

/**
 * Clicks "Call API": the answer's body as it came over the network, once the
 * card shows it (two answers in a row can read the same, so the body is
 * taken from the response, not the card).
 */
const callApi = async (page: Page): Promise<Answer> => {
  const [response] = await Promise.all([
    page.waitForResponse(
      (res) => res.url().endsWith("/api/profile") && res.request().method() === "GET",
      { timeout: 10_000 },
    ),
    page.getByTestId("call-api").click(),
  ])
  expect(response.status()).toBe(200)
  const body = (await response.json()) as { instance?: string; tokenSource?: string }
  const sentence = `Answered by instance ${body.instance} (its token: ${body.tokenSource}).`
  const text = await until(
    "the card to show the answer",
    async () => {
      const shown = await page.getByTestId("api-status").textContent(probe)
      return shown?.includes(sentence) === true ? shown : undefined
    },
    5_000,
  )
  return { instance: body.instance, tokenSource: body.tokenSource, text }
}

it.runIf(run)(
  "two demo-api instances share one template token through Redis: one fetch, the card says who answered",
  async () => {
    const user = "user_fleet"
    const session = await stack.demo.signIn(user)
    const page = await stack.browser.context.newPage()
    await page.goto(`${stack.demo.url}/vue/?session=${encodeURIComponent(session)}`)
    await until(
      "ready",
      async () => (await page.getByTestId("status").getAttribute("data-status", probe)) === "ready",
      15_000,
    )
    const before = (await stack.demo.sessionStats(session)).tokenRequests

    const answers: Array<Answer> = []
    for (let call = 0; call < 4; call++) answers.push(await callApi(page))
    const after = (await stack.demo.sessionStats(session)).tokenRequests
    console.log("fleet e2e", JSON.stringify({ answers, templateRequests: after - before }))

    // Both instances answered, and the card names each one and its token's origin.
    expect(new Set(answers.map((answer) => answer.instance))).toEqual(new Set(["api-1", "api-2"]))
    for (const answer of answers) expect(answer.text).toContain(`✓ 200 OK — ${user}'s notes`)
    // One fetch for the fleet: the first answer fetched, the other instance's
    // first answer came through Redis, and the rest from each one's cache.
    const sources = answers.map((answer) => answer.tokenSource)
    expect(sources[0]).toBe("fetch")
    expect(sources.filter((source) => source === "fetch")).toHaveLength(1)
    const other = answers.find((answer) => answer.instance !== answers[0]!.instance)!
    expect(other.tokenSource).toBe("redis")
    expect(after - before).toBe(1)
    await page.close()
  },
)
