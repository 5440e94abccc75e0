/**
 * What every e2e file needs: the demo stack and a Chromium for the file's
 * tests, and a deadline-bounded poll for what the pages show.
 * @module
 */
import { afterAll, beforeAll } from "vitest"
import { launch, type Browser } from "./browser.ts"
import { startDemo, type Demo } from "./stack.ts"

/**
 * Playwright's bound on one probe (`getAttribute`, `textContent`, …): it waits
 * for a missing element up to its timeout (30 s by default), which would
 * overrun `until`'s deadline; with this, `until` decides.
 */
export const probe = { timeout: 1_000 }

/**
 * Polls `check` every `everyMs` until it returns a value other than
 * `undefined`/`false`; a check that throws (an element not there yet) counts
 * as "not yet". It returns or throws within `timeoutMs` plus one check (a
 * check of single probes bounded by {@link probe} takes about 1 s at most),
 * with the last failure as the cause.
 */
export const until = async <A>(
  what: string,
  check: () => Promise<A | undefined | false>,
  timeoutMs: number,
  everyMs = 100,
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
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** The running stack of a test file; reading it before `beforeAll` ran throws. */
export interface Stack {
  readonly demo: Demo
  readonly browser: Browser
}

/**
 * Starts the demo (`tools/demo.mjs` with `flags`) and Chromium before the
 * file's tests, side by side, and stops whichever of the two started after
 * them. Register it first: the file's own `beforeAll` hooks run after it and
 * its `afterAll` hooks before it. `enabled: false` starts nothing.
 */
export const useStack = (
  options: { readonly flags?: ReadonlyArray<string>; readonly enabled?: boolean } = {},
): Stack => {
  let demoP: Promise<Demo> | undefined
  let browserP: Promise<Browser> | undefined
  let started: Stack | undefined
  beforeAll(async () => {
    if (options.enabled === false) return
    demoP = startDemo(options.flags)
    browserP = launch()
    const [demo, browser] = await Promise.all([demoP, browserP])
    started = { demo, browser }
  })
  afterAll(async () => {
    // A start that failed has already failed beforeAll: nothing to stop there.
    await (await browserP?.catch(() => undefined))?.close()
    await (await demoP?.catch(() => undefined))?.stop()
  })
  const get = (): Stack => {
    if (started === undefined) throw new Error("the demo stack is not running")
    return started
  }
  return {
    get demo() {
      return get().demo
    },
    get browser() {
      return get().browser
    },
  }
}
