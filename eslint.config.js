// Lint for the whole workspace. Besides the recommended rules it enforces the
// shape of STYLE.md: the core imports no adapter or app, an adapter imports
// no other adapter, and nothing outside a package reaches into its sources.
import js from "@eslint/js"
import tseslint from "typescript-eslint"

const adapters = ["@tok/vue", "@tok/svelte", "@tok/angular", "@tok/react"]
const deepImports = {
  group: ["@tok/*/src/*", "**/packages/*/src/*", "../../packages/*"],
  message: "Import a package by its name and public entry points, not its files.",
}
// esbuild (Angular CLI's bundler) keeps every module reached through Effect's
// barrel: `import * as Stream from "effect/Stream"`, never `from "effect"`.
const effectBarrel = {
  name: "effect",
  message:
    'Import Effect by module path (import * as Effect from "effect/Effect"): bundlers keep the whole barrel.',
}
const restrict = (names, message, extraPaths = []) => ({
  "no-restricted-imports": [
    "error",
    {
      paths: [...names.map((name) => ({ name, message })), ...extraPaths],
      patterns: [deepImports, ...names.map((name) => ({ group: [`${name}/*`], message }))],
    },
  ],
})

export default tseslint.config(
  {
    ignores: [
      "**/dist/**",
      "**/node_modules/**",
      "**/.nx/**",
      "**/.tools/**",
      "**/.angular/**",
      "**/coverage/**",
      "**/*.svelte",
      "**/*.vue",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: "module",
      globals: {
        console: "readonly",
        process: "readonly",
        URL: "readonly",
        AbortController: "readonly",
        AbortSignal: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        fetch: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-explicit-any": "error",
      // `declare namespace` only: types that share a name with a value (see @tok/core's `Token`).
      "@typescript-eslint/no-namespace": ["error", { allowDeclarations: true }],
    },
  },
  {
    // Every package (and demo-api, the backend users copy); the blocks below
    // restrict more and repeat this rule, since a later block replaces it.
    files: ["packages/*/src/**", "apps/demo-api/src/**"],
    rules: { "no-restricted-imports": ["error", { paths: [effectBarrel] }] },
  },
  {
    files: ["packages/core/**"],
    rules: restrict(
      [...adapters, "@tok/dev-server", "vue", "svelte", "@angular/core"],
      "@tok/core is framework-agnostic: it imports no adapter, framework or server.",
    ),
  },
  {
    files: ["packages/core/src/**"],
    rules: restrict(
      [...adapters, "@tok/dev-server", "vue", "svelte", "@angular/core"],
      "@tok/core is framework-agnostic: it imports no adapter, framework or server.",
      [effectBarrel],
    ),
  },
  ...adapters.map((self) => ({
    files: [`packages/${self.slice(5)}/**`],
    rules: restrict(
      [...adapters.filter((a) => a !== self), "@tok/dev-server", "effect"],
      "An adapter uses only @tok/core's Promise face: no other adapter, no Effect code.",
    ),
  })),
  {
    // The timeline is framework-free and Effect-free: it only reads core's event types.
    files: ["packages/devtools/**"],
    rules: restrict(
      [...adapters, "@tok/dev-server", "effect", "vue", "svelte", "@angular/core"],
      "@tok/devtools is framework-free: plain DOM and SVG on @tok/core's events.",
    ),
  },
  {
    files: ["packages/dev-server/**"],
    rules: restrict(adapters, "The dev server does not depend on adapters."),
  },
  {
    files: ["packages/dev-server/src/**"],
    rules: restrict(adapters, "The dev server does not depend on adapters.", [effectBarrel]),
  },
  {
    files: ["packages/redis/**"],
    rules: restrict(
      [...adapters, "@tok/dev-server", "vue", "svelte", "@angular/core"],
      "@tok/redis is a server package on @tok/core's Effect API: no adapter or framework (the dev server only in tests).",
      [effectBarrel],
    ),
  },
  {
    // The tests and the bench run the dev server, as users' own integration tests do.
    files: ["packages/redis/test/**", "packages/redis/bench/**"],
    rules: restrict(adapters, "@tok/redis's tests use no adapter.", [effectBarrel]),
  },
  {
    files: ["**/*.js", "**/*.mjs", "tools/**"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
)
