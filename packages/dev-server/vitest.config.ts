import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: { conditions: ["@tok/source"] },
  test: { include: ["test/**/*.test.ts"] },
})
