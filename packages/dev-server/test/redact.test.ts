/** `redact`: what it removes from log lines, and that it takes linear time. */
import { performance } from "node:perf_hooks"
import { describe, expect, it } from "vitest"
import { redact } from "@tok/dev-server"
import { start } from "./helpers.ts"

const jwt =
  "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJlX29mX3RoZV90b2tlbl9oZXJlX3BhZGRpbmc"

describe("redact", () => {
  it("replaces JWTs, secret keys, the server's secret and control characters", () => {
    expect(redact(`/api/${jwt}`, "")).toBe("/api/[jwt]")
    expect(redact(`GET /x?token=${jwt}&a=1`, "")).toBe("GET /x?token=[jwt]&a=1")
    expect(redact(`Bearer ${jwt} and ${jwt}`, "")).toBe("Bearer [jwt] and [jwt]")
    expect(redact(`x${jwt}`, "")).toBe("x[jwt]")
    // A JWT cut short (a header alone, or two segments) is still removed.
    expect(redact("eyJhbGciOiJSUzI1NiJ9.eyJzdWIi", "")).toBe("[jwt]")
    expect(redact("key sk_test_abc123 and pk_live_Zz-9", "")).toBe("key [key] and [key]")
    expect(redact("ask_test_abc", "")).toBe("ask_test_abc")
    expect(redact("my-secret-value here", "my-secret-value")).toBe("[secret] here")
    expect(redact("a\nb\u0000c\u007f", "")).toBe("a?b?c?")
    expect(redact("plain /v1/client/sessions/sess_1/tokens 200", "")).toBe(
      "plain /v1/client/sessions/sess_1/tokens 200",
    )
    expect(redact("x".repeat(400), "")).toBe(`${"x".repeat(300)}…`)
  })

  it("takes linear time on text made of repeated eyJ (no backtracking)", () => {
    // The old pattern needed about 50 ms for 16 KB and grew with the square:
    // 1 MB would take minutes. Linear, it takes milliseconds; the bound is loose.
    for (const text of ["eyJ".repeat(350_000), "eyJ-".repeat(250_000), "sk_test".repeat(150_000)]) {
      const started = performance.now()
      const out = redact(text, "")
      const ms = performance.now() - started
      expect(out.length).toBeLessThanOrEqual(301)
      expect(ms, `${text.slice(0, 8)}…: ${ms.toFixed(1)} ms`).toBeLessThan(1_000)
    }
    expect(redact("eyJ".repeat(350_000), "")).toBe("[jwt]")
  })
})

describe("the request log", () => {
  it("shows a path made of JWT-like text redacted, and the server keeps serving", async () => {
    const lines: string[] = []
    const server = await start({ log: (line) => lines.push(line) })
    const path = `/${"eyJ".repeat(4_000)}`
    const res = await fetch(`${server.url}${path}`, { signal: AbortSignal.timeout(5_000) })
    expect(res.status).toBe(404)
    const line = lines.find((l) => l.includes(" 404 "))
    expect(line).toMatch(/^\[tok\] GET \/\[jwt\] 404 /)
    expect(line).not.toContain("eyJ")
    expect((await fetch(server.jwksUrl)).status).toBe(200)
  })
})
