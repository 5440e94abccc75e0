/**
 * Session listeners on the Promise face: told once per change, in order,
 * never told a session that was already replaced, unsubscribed for good, and
 * a throwing listener goes to `reportError` — or, where there is none, to
 * `console.error`. Found by the mutation run (issue 21).
 */
import { afterEach, describe, expect, it, vi } from "vitest"
import { createTokenClient } from "@tok/core"
import { makeFakeSource } from "@tok/core/testing"

afterEach(() => vi.restoreAllMocks())

describe("session listeners", () => {
  it("are told every change in order, and no more once unsubscribed", async () => {
    const tok = createTokenClient({ source: makeFakeSource().layer })
    const seen: Array<string | null> = []
    const stop = tok.onSessionChange((id) => seen.push(id))
    tok.setSession("a")
    tok.setSession("b")
    tok.setSession(null)
    stop()
    tok.setSession("c")
    expect(seen).toEqual(["a", "b", null])
    await tok.dispose()
  })

  it("a listener that moves the session on: nobody later is told the replaced one", async () => {
    const tok = createTokenClient({ source: makeFakeSource().layer })
    const seen: Array<string | null> = []
    tok.onSessionChange((id) => {
      if (id === "b") tok.setSession("c")
    })
    tok.onSessionChange((id) => seen.push(id))
    tok.setSession("b")
    expect(seen).toEqual(["c"])
    await tok.dispose()
  })

  it("without reportError, a listener that throws goes to console.error and the others are told", async () => {
    const original = (globalThis as { reportError?: unknown }).reportError
    ;(globalThis as { reportError?: unknown }).reportError = undefined
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined)
    const tok = createTokenClient({ source: makeFakeSource().layer })
    try {
      const bug = new Error("listener bug")
      const seen: Array<string | null> = []
      tok.onSessionChange(() => {
        throw bug
      })
      tok.onSessionChange((id) => seen.push(id))
      tok.setSession("a")
      expect(seen).toEqual(["a"])
      expect(logged).toHaveBeenCalledWith("tok: a listener threw", bug)
    } finally {
      ;(globalThis as { reportError?: unknown }).reportError = original
      await tok.dispose()
    }
  })

  it("a bad session id is a typed error for callers until a good one is set", async () => {
    const tok = createTokenClient({ source: makeFakeSource().layer })
    tok.setSession("bad\nid")
    await expect(tok.getToken()).rejects.toMatchObject({
      _tag: "InvalidOptionsError",
      detail: "session id must not contain control characters",
    })
    tok.setSession("sess_1")
    await expect(tok.getToken()).resolves.toMatchObject({ sessionId: "sess_1" })
    tok.setSession(null)
    await expect(tok.getToken()).resolves.toBeNull()
    await tok.dispose()
  })
})
