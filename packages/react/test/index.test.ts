import { describe, expect, it } from "vitest"
import * as core from "@tok/core"
import * as react from "@tok/react"

describe("@tok/react", () => {
  it("re-exports the core's public API so an app installs one package", () => {
    for (const name of Object.keys(core)) {
      expect(react).toHaveProperty(name, (core as Record<string, unknown>)[name])
    }
  })
})
