import { defineConfig } from "vitest/config"

const conditions = ["@tok/source"]

export default defineConfig({
  // The SSR test runs in the node environment, which resolves with `ssr.resolve`.
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: { include: ["test/**/*.test.ts"], environment: "happy-dom" },
})
