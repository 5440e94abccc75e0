import angular from "@analogjs/vite-plugin-angular"
import { defineConfig, mergeConfig } from "vitest/config"
import { fromSource } from "../../vitest.shared.ts"

export default mergeConfig(
  fromSource(),
  defineConfig({
    // The Angular plugin compiles from a program that emits: tsconfig.json itself is noEmit.
    plugins: [angular({ tsconfig: "tsconfig.spec.json" })],
    test: {
      projects: [
        {
          extends: true,
          test: {
            name: "browser",
            include: ["test/**/*.test.ts"],
            exclude: ["test/**/*.server.test.ts"],
            environment: "happy-dom",
            // The page the app runs on: relative URLs resolve against it.
            environmentOptions: { happyDOM: { url: "https://app.example.com/dashboard/" } },
            setupFiles: ["test/setup.ts"],
          },
        },
        {
          // Server rendering with @angular/platform-server in Node: no TestBed, no DOM of the test's own.
          extends: true,
          test: { name: "server", include: ["test/**/*.server.test.ts"], environment: "node" },
        },
      ],
    },
  }),
)
