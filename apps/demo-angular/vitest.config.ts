import angular from "@analogjs/vite-plugin-angular"
import { defineConfig } from "vitest/config"

export default defineConfig({
  plugins: [angular({ tsconfig: "tsconfig.json" })],
  resolve: { conditions: ["@tok/source"] },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "happy-dom",
    setupFiles: ["test/setup.ts"],
  },
})
