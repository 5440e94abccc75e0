/**
 * What every project's vitest config shares: workspace packages resolve to
 * their TypeScript sources (the `@tok/source` export condition), in the browser
 * and the node environment alike — `ssr.resolve` is what the node environment
 * (and server-side rendering) uses — so tests never run a stale or missing
 * `dist` of another package.
 */
import type { UserConfig } from "vite"

/** The export condition that points a workspace package at its sources. */
export const sourceCondition = "@tok/source"

/** `resolve` + `ssr.resolve` settings that run workspace packages from source. */
export const fromSource = (conditions: ReadonlyArray<string> = []): UserConfig => {
  const all = [sourceCondition, ...conditions]
  return {
    resolve: { conditions: all },
    ssr: { resolve: { conditions: all, externalConditions: all } },
  }
}
