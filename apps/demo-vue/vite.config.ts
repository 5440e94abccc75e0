import vue from "@vitejs/plugin-vue"
import { defaultClientConditions } from "vite"
import { defineConfig } from "vitest/config"

export default defineConfig({
  // Relative asset URLs: the build is served under /vue/ by ./tools/run demo.
  base: "./",
  plugins: [vue()],
  // Workspace packages are built from their sources; Vite's own conditions stay.
  resolve: { conditions: ["@tok/source", ...defaultClientConditions] },
  build: { target: "es2022", sourcemap: true },
  test: { include: ["test/**/*.test.ts"], environment: "happy-dom" },
})
