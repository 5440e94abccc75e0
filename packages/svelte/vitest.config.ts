import { svelte } from "@sveltejs/vite-plugin-svelte"
import { defineConfig, mergeConfig } from "vitest/config"
import { fromSource } from "../../vitest.shared.ts"

export default mergeConfig(
  // Setting `conditions` replaces Vite's defaults: keep `browser` so `mount` is Svelte's client build.
  fromSource(["browser", "module", "development|production"]),
  defineConfig({
    plugins: [svelte({ configFile: false })],
    test: { include: ["test/**/*.test.ts"], environment: "happy-dom" },
  }),
)
