import { defineConfig, mergeConfig } from "vitest/config"
import { fromSource } from "../../vitest.shared.ts"

export default mergeConfig(
  // @tok/core runs from its sources, as in the apps that bundle this package.
  fromSource(),
  defineConfig({ test: { include: ["test/**/*.test.ts"] } }),
)
