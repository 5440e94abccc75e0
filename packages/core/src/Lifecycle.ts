/**
 * `Lifecycle` — whether the app is in a state where background refresh makes
 * sense, and when it comes back to one.
 *
 * In browsers: active while the page is visible and online; `visibilitychange`
 * to visible, `online` and `focus` are resume events (a watched key near or
 * past expiry is refreshed then). In Node and other hosts without `document`:
 * always active, no events. Tests use `layerTest` and drive it by hand.
 * @module
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"

/** What resumed the app. */
export type ResumeEvent = "visible" | "online" | "focus"

/** The shape of the lifecycle service. */
export interface Service {
  /** Whether background work should run now (visible and online). */
  readonly isActive: () => boolean
  /** Calls `listener` on every resume event; returns the unsubscribe function. */
  readonly onResume: (listener: (event: ResumeEvent) => void) => () => void
}

/** The lifecycle service. */
export class Lifecycle extends Context.Service<Lifecycle, Service>()("@tok/core/Lifecycle") {}

/** Always active, never resumes: Node, workers, server-side rendering. */
export const layerNone: Layer.Layer<Lifecycle> = /*#__PURE__*/ Layer.succeed(Lifecycle, {
  isActive: () => true,
  onResume: () => () => undefined,
})

interface BrowserGlobals {
  readonly document: {
    readonly visibilityState: string
    addEventListener(type: string, listener: () => void): void
    removeEventListener(type: string, listener: () => void): void
  }
  readonly navigator?: { readonly onLine?: boolean }
  addEventListener(type: string, listener: () => void): void
  removeEventListener(type: string, listener: () => void): void
}

const browserGlobals = (): BrowserGlobals | undefined => {
  const g = globalThis as unknown as Partial<BrowserGlobals>
  return typeof g.document === "object" &&
    g.document !== null &&
    typeof g.addEventListener === "function"
    ? (g as BrowserGlobals)
    : undefined
}

/** The browser lifecycle over `document` and `window` events. */
export const makeBrowser = (g: BrowserGlobals): Service => ({
  isActive: () => g.document.visibilityState !== "hidden" && g.navigator?.onLine !== false,
  onResume: (listener) => {
    const visible = () => {
      if (g.document.visibilityState === "visible") listener("visible")
    }
    const online = () => listener("online")
    const focus = () => listener("focus")
    g.document.addEventListener("visibilitychange", visible)
    g.addEventListener("online", online)
    g.addEventListener("focus", focus)
    return () => {
      g.document.removeEventListener("visibilitychange", visible)
      g.removeEventListener("online", online)
      g.removeEventListener("focus", focus)
    }
  },
})

/** The browser lifecycle where there is a `document`, otherwise `layerNone`. */
export const layer: Layer.Layer<Lifecycle> = Layer.sync(Lifecycle, () => {
  const g = browserGlobals()
  return g === undefined
    ? { isActive: () => true, onResume: () => () => undefined }
    : makeBrowser(g)
})

/** A lifecycle driven by hand, for tests. */
export interface TestLifecycle extends Service {
  /** Hides or shows the page; showing it fires a `"visible"` resume. */
  readonly setVisible: (visible: boolean) => void
  /** Goes offline or online; online fires an `"online"` resume. */
  readonly setOnline: (online: boolean) => void
  /** Fires a `"focus"` resume. */
  readonly focus: () => void
}

/** Makes a hand-driven lifecycle (visible and online at first). */
export const makeTest = (): TestLifecycle => {
  let visible = true
  let online = true
  const listeners = new Set<(event: ResumeEvent) => void>()
  const fire = (event: ResumeEvent) => {
    for (const listener of [...listeners]) listener(event)
  }
  return {
    isActive: () => visible && online,
    onResume: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    setVisible: (next) => {
      const was = visible
      visible = next
      if (next && !was) fire("visible")
    },
    setOnline: (next) => {
      const was = online
      online = next
      if (next && !was) fire("online")
    },
    focus: () => fire("focus"),
  }
}

/** A layer of the given test lifecycle. */
export const layerTest = (lifecycle: TestLifecycle): Layer.Layer<Lifecycle> =>
  Layer.succeed(Lifecycle, lifecycle)
