import { describe, expect, it } from "vitest"
import * as core from "@tok/core"
import * as vue from "@tok/vue"

describe("@tok/vue", () => {
  it("re-exports the core's public API so an app installs one package", () => {
    for (const name of Object.keys(core)) {
      expect(vue).toHaveProperty(name, (core as Record<string, unknown>)[name])
    }
  })
})
