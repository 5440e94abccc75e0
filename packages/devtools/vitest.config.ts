import { defineConfig, mergeConfig } from "vitest/config"
import { fromSource } from "../../vitest.shared.ts"

export default mergeConfig(
  fromSource(),
  defineConfig({ test: { include: ["test/**/*.test.ts"], environment: "happy-dom" } }),
)
