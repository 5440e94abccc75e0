import { describe, expect, it } from "vitest"
import { describeFaults } from "../src/lab.ts"

describe("describeFaults", () => {
  it("says when a failure window ends as a time of day, so the line stays true while shown", () => {
    const now = new Date(2026, 11, 2, 14, 3, 0).getTime()
    expect(
      describeFaults({ failFor: { status: 503, remainingMs: 7_000 }, latencyMs: 1500 }, now),
    ).toBe("503 for 7.0 s, until 14:03:07 · 1500 ms latency")
  })

  it("lists each fault in force, or none", () => {
    expect(describeFaults({ failFor: null, latencyMs: 0, drop: 0, clockSkewSeconds: 0 })).toBe(
      "none",
    )
    expect(describeFaults({ drop: 3, clockSkewSeconds: 3600 })).toBe(
      "3 connections to drop · clock +3600 s",
    )
  })
})
