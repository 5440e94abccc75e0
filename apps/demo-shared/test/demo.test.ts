import { describe, expect, it } from "vitest"
import { NotSignedInError, TemplateNotFoundError, TokenUnavailableError } from "@tok/core"
import {
  callApi,
  claimRows,
  countdown,
  describeApiAnswer,
  describeCounts,
  describeRequests,
  describeError,
  parseConfig,
  shortJwt,
  signIn,
  tokenRequests,
} from "../src/demo.ts"

const base64url = (value: unknown) =>
  btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "")
const jwtWith = (claims: Record<string, unknown>) =>
  `${base64url({ alg: "RS256", typ: "JWT" })}.${base64url(claims)}.c2lnbmF0dXJl`

const config = parseConfig({
  tokenServer: "http://127.0.0.1:1000/",
  api: "http://127.0.0.1:2000",
  templates: ["supabase", "hasura", 3],
})

const answer = (status: number, body: unknown): Promise<Response> =>
  Promise.resolve(new Response(JSON.stringify(body), { status }))

describe("the demo page's helpers", () => {
  it("a config is checked, trimmed and given a default user", () => {
    expect(config).toEqual({
      tokenServer: "http://127.0.0.1:1000",
      api: "http://127.0.0.1:2000",
      templates: ["supabase", "hasura"],
      userId: "user_alice",
    })
    expect(() => parseConfig({ tokenServer: "javascript:alert(1)", api: "x" })).toThrow(
      /tokenServer/,
    )
  })

  it("the countdown counts seconds, then minutes, and says when the token has expired", () => {
    expect(countdown(null, 0)).toBe("—")
    expect(countdown(42_000, 0)).toBe("42 s")
    expect(countdown(41_001, 0)).toBe("42 s")
    expect(countdown(65_000, 0)).toBe("1 min 05 s")
    expect(countdown(1_000, 1_000)).toBe("expired")
  })

  it("the JWT is shortened to its start and end", () => {
    const jwt = jwtWith({ sub: "user_alice", iat: 1, exp: 61 })
    expect(shortJwt(jwt)).toBe(`${jwt.slice(0, 18)}…${jwt.slice(-10)}`)
    expect(shortJwt("a.b.c")).toBe("a.b.c")
  })

  it("claims are listed standard ones first, times with their clock time", () => {
    const rows = claimRows(
      jwtWith({ role: "authenticated", exp: 1_700_000_060, sub: "user_alice", iat: 1_700_000_000 }),
    )
    expect(rows.map((row) => row.name)).toEqual(["sub", "iat", "exp", "role"])
    expect(rows[1]!.value).toMatch(/^1700000000 \(\d\d:\d\d:\d\d\)$/)
    expect(rows[3]!.value).toBe("authenticated")
    expect(claimRows(null)).toEqual([])
    expect(claimRows("not-a-jwt")[0]!.name).toBe("(undecodable)")
  })

  it("errors read the way people read them", () => {
    expect(
      describeError(new TokenUnavailableError({ reason: "server", status: 503, attempts: 4 })),
    ).toBe("Token server unavailable — retrying (HTTP 503, 4 attempts)")
    expect(
      describeError(
        new TokenUnavailableError({ reason: "rate-limited", retryAfterMs: 2500, attempts: 1 }),
      ),
    ).toBe("The token server is rate-limiting us — retrying in 3 s")
    expect(describeError(new NotSignedInError())).toBe("The session has ended — sign in again")
    expect(describeError(new TemplateNotFoundError({ template: "nope" }))).toContain('"nope"')
  })

  it("signing in posts the user id and answers the session id; a refusal says why", async () => {
    const seen: Array<[string, RequestInit | undefined]> = []
    const id = await signIn(config, "user_bob", (url, init) => {
      seen.push([url, init])
      return answer(200, { id: "sess_1" })
    })
    expect(id).toBe("sess_1")
    expect(seen[0]![0]).toBe("http://127.0.0.1:1000/v1/client/sessions")
    expect(seen[0]![1]?.body).toBe("user_id=user_bob")
    await expect(
      signIn(config, "", () =>
        answer(422, { errors: [{ code: "form_param_missing", message: "user_id is required." }] }),
      ),
    ).rejects.toThrow("Sign-in failed: user_id is required.")
  })

  it("the request counters are read for the session and in all", async () => {
    const urls: string[] = []
    const stats = (url: string) => {
      urls.push(url)
      return url.endsWith("?session=sess_1")
        ? answer(200, { session: "sess_1", tokenRequests: 3, tokensIssued: 3 })
        : answer(200, { tokenRequests: 5 })
    }
    const counts = await tokenRequests(config, "sess_1", stats)
    expect(urls.map((url) => url.slice(config.tokenServer.length)).sort()).toEqual([
      "/__tok/stats",
      "/__tok/stats?session=sess_1",
    ])
    expect(describeCounts(counts)).toBe("3 for this session · 5 in all")
    expect(describeCounts({ ...counts, tabs: 4, tokenSource: "peer" })).toBe(
      "3 for this session · 5 in all · 4 tabs sharing · token from another tab",
    )
    expect(describeCounts(await tokenRequests(config, null, stats))).toBe("5 in all")
  })

  it("the API is called with the bearer token, and its answers are summed up", async () => {
    let authorization: string | undefined
    const ok = await callApi(config, "a.b.c", (_, init) => {
      authorization = (init?.headers as Record<string, string>).Authorization
      return answer(200, {
        user: "user_alice",
        downstream: { template: "supabase", tokenFrom: "cache" },
      })
    })
    expect(authorization).toBe("Bearer a.b.c")
    expect(describeApiAnswer(ok)).toEqual({
      text: "✓ 200 OK — user_alice's notes. Sent the session token shown above; demo-api read the notes with a supabase token it had cached.",
      tone: "ok",
    })
    // The card names the template shown, and never says "(tok: …)".
    expect(describeApiAnswer(ok, "hasura").text).toContain(
      "Sent the session token (not the hasura token shown above",
    )
    expect(describeApiAnswer(ok, "hasura").text).not.toContain("tok:")
    const refused = await callApi(config, null, () =>
      answer(401, { error: { code: "missing_token", message: "Sign in first." } }),
    )
    expect(describeApiAnswer(refused)).toEqual({
      text: "✕ 401 Refused — Sign in first.",
      tone: "bad",
    })
    const down = await callApi(config, null, () => Promise.reject(new TypeError("fetch failed")))
    expect(describeApiAnswer(down).text).toBe("✕ No answer — demo-api could not be reached")
  })

  it("a token that failed before demo-api was called says so, not 'unreachable'", () => {
    const view = describeApiAnswer({
      status: 0,
      body: { error: { message: "Token server unavailable" } },
      noToken: true,
    })
    expect(view).toEqual({
      text: "✕ Could not get a token — demo-api was not called: Token server unavailable",
      tone: "bad",
    })
  })

  it("a fleet's answer names the instance and where its token came from", () => {
    const text = describeApiAnswer({
      status: 200,
      body: {
        user: "user_alice",
        instance: "api-2",
        tokenSource: "peer",
        downstream: { template: "supabase", tokenFrom: "peer" },
      },
    }).text
    expect(text).toContain("Answered by instance api-2 (its token: peer).")
  })

  it("the countdown never shows more than the token's lifetime", () => {
    // The page's clock read 300 ms before the 15 s token arrived.
    expect(countdown(15_300, 0)).toBe("16 s")
    expect(countdown(15_300, 0, 15_000)).toBe("15 s")
  })

  it("this page's requests are counted with their retries, then the tabs sharing", () => {
    expect(describeRequests(1, 0, null)).toBe("This page: 1 token request")
    expect(describeRequests(5, 3, { session: 2, total: 9, tabs: 4, tokenSource: "peer" })).toBe(
      "This page: 5 token requests (3 retries) · 4 tabs sharing · token from another tab",
    )
  })
})
