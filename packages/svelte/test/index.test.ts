import { describe, expect, it } from "vitest"
import * as core from "@tok/core"
import * as svelte from "@tok/svelte"

describe("@tok/svelte", () => {
  it("re-exports the core's public API so an app installs one package", () => {
    for (const name of Object.keys(core)) {
      expect(svelte).toHaveProperty(name, (core as Record<string, unknown>)[name])
    }
  })
})
