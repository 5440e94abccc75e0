import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Lifecycle } from "@tok/core"

/** Browser globals small enough to drive by hand. */
const fakeBrowser = () => {
  const listeners = new Map<string, Set<() => void>>()
  const target = {
    addEventListener: (type: string, listener: () => void) => {
      if (!listeners.has(type)) listeners.set(type, new Set())
      listeners.get(type)!.add(listener)
    },
    removeEventListener: (type: string, listener: () => void) => {
      listeners.get(type)?.delete(listener)
    },
  }
  const g = {
    ...target,
    document: { visibilityState: "visible", ...target },
    navigator: { onLine: true },
  }
  const fire = (type: string) => listeners.get(type)?.forEach((listener) => listener())
  const count = () => [...listeners.values()].reduce((n, set) => n + set.size, 0)
  return { g, fire, count }
}

describe("Lifecycle.makeBrowser", () => {
  it("is active while visible and online", () => {
    const { g } = fakeBrowser()
    const lifecycle = Lifecycle.makeBrowser(g)
    expect(lifecycle.isActive()).toBe(true)
    g.document.visibilityState = "hidden"
    expect(lifecycle.isActive()).toBe(false)
    g.document.visibilityState = "visible"
    g.navigator.onLine = false
    expect(lifecycle.isActive()).toBe(false)
  })

  it("resumes on visibilitychange to visible, online and focus; unsubscribes cleanly", () => {
    const { g, fire, count } = fakeBrowser()
    const events: Array<Lifecycle.ResumeEvent> = []
    const stop = Lifecycle.makeBrowser(g).onResume((event) => events.push(event))
    g.document.visibilityState = "hidden"
    fire("visibilitychange")
    g.document.visibilityState = "visible"
    fire("visibilitychange")
    fire("online")
    fire("focus")
    expect(events).toEqual(["visible", "online", "focus"])
    stop()
    expect(count()).toBe(0)
  })
})

describe("Lifecycle.layer", () => {
  it.effect("is always active and never resumes where there is no document (Node)", () =>
    Effect.gen(function* () {
      const lifecycle = yield* Lifecycle.Lifecycle
      expect(lifecycle.isActive()).toBe(true)
      lifecycle.onResume(() => undefined)()
    }).pipe(Effect.provide(Lifecycle.layer)),
  )

  it.effect("follows document and window events where there is a document", () => {
    const { g, fire } = fakeBrowser()
    const saved = Object.getOwnPropertyDescriptors(globalThis)
    Object.assign(globalThis, { document: g.document, addEventListener: g.addEventListener })
    return Effect.gen(function* () {
      const lifecycle = yield* Lifecycle.Lifecycle
      const events: Array<string> = []
      lifecycle.onResume((event) => events.push(event))
      fire("focus")
      expect(events).toEqual(["focus"])
      g.document.visibilityState = "hidden"
      expect(lifecycle.isActive()).toBe(false)
    }).pipe(
      Effect.provide(Lifecycle.layer),
      Effect.ensuring(
        Effect.sync(() => {
          delete (globalThis as { document?: unknown }).document
          if (saved.addEventListener)
            Object.defineProperty(globalThis, "addEventListener", saved.addEventListener)
          else delete (globalThis as { addEventListener?: unknown }).addEventListener
        }),
      ),
    )
  })
})

describe("Lifecycle.makeTest", () => {
  it("is driven by hand and fires resume events only on the way back", () => {
    const lifecycle = Lifecycle.makeTest()
    const events: Array<string> = []
    const stop = lifecycle.onResume((event) => events.push(event))
    expect(lifecycle.isActive()).toBe(true)
    lifecycle.setVisible(true)
    lifecycle.setVisible(false)
    expect(lifecycle.isActive()).toBe(false)
    lifecycle.setVisible(true)
    lifecycle.setOnline(false)
    expect(lifecycle.isActive()).toBe(false)
    lifecycle.setOnline(true)
    lifecycle.focus()
    stop()
    lifecycle.focus()
    expect(events).toEqual(["visible", "online", "focus"])
  })
})
