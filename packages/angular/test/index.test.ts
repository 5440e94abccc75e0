import { describe, expect, it } from "vitest"
import * as core from "@tok/core"
import * as angular from "@tok/angular"

describe("@tok/angular", () => {
  it("re-exports the core's public API so an app installs one package", () => {
    for (const name of Object.keys(core)) {
      expect(angular).toHaveProperty(name, (core as Record<string, unknown>)[name])
    }
  })
})
