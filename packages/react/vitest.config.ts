import { defineConfig, mergeConfig } from "vitest/config"
import { fromSource } from "../../vitest.shared.ts"

export default mergeConfig(
  // The server-rendering tests run in the node environment, which resolves with `ssr.resolve`.
  fromSource(),
  defineConfig({
    test: { include: ["test/**/*.test.{ts,tsx}"], environment: "happy-dom" },
  }),
)
