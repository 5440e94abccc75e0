import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.e2e.ts"],
    // One demo stack and one browser at a time: the apps share the token server's faults.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 90_000,
  },
})
