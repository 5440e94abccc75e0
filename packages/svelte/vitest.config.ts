import { svelte } from "@sveltejs/vite-plugin-svelte"
import { defineConfig } from "vitest/config"
import { fromSource } from "../../vitest.shared.ts"

export default defineConfig({
  plugins: [svelte({ configFile: false })],
  test: {
    projects: [
      {
        // Components mounted and hydrated in a DOM. Setting `conditions`
        // replaces Vite's defaults: keep `browser` so Svelte is its client build.
        extends: true,
        ...fromSource(["browser", "module", "development|production"]),
        test: {
          name: "browser",
          include: ["test/**/*.test.ts"],
          exclude: ["test/**/*.server.test.ts"],
          environment: "happy-dom",
        },
      },
      {
        // Server rendering with `svelte/server`, in Node, with Svelte's server build.
        extends: true,
        ...fromSource(["node", "module", "development|production"]),
        test: { name: "server", include: ["test/**/*.server.test.ts"], environment: "node" },
      },
    ],
  },
})
