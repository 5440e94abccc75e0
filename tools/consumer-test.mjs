// tools/consumer-test.mjs — the published packages, tried as a stranger gets them.
//
// 1. `pnpm pack` each published package (its `prepack` builds it), and check
//    the tarball: it holds `dist/`, no `@tok/source` condition or `workspace:`
//    range is left, `publint --strict` and `attw --profile esm-only` pass.
// 2. Into fresh projects under the OS temp dir (outside the workspace), plain
//    `npm install` the tarballs with `effect` and the frameworks from the registry:
//    - "app": core, vue, svelte, dev-server, with effect at the lowest version of
//      core's peer range, then again at the highest (when they differ);
//    - "angular-<major>": core and angular, for the lowest and highest Angular
//      majors of @tok/angular's peer range.
// 3. In each: `tsc --noEmit` over the consumer files (tools/consumer/*.ts), then
//    Node runs them against `npx tok-dev-server` on a free port (stopped after):
//    promise.ts (Promise face), effect.ts (Effect API), adapters.ts (Vue/Svelte
//    load, the Svelte store follows a session), angular.ts (provideTok,
//    TokenService, tokInterceptor in an environment injector).
//
// Prints one line per check and a summary; exits 1 if any check failed.
// `pnpm consumer` (part of `pnpm ci`). KEEP_CONSUMER_DIR=1 keeps the temp dir.
import { spawn } from "node:child_process"
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { createInterface } from "node:readline"

const root = resolve(import.meta.dirname, "..")
const fixtures = join(root, "tools", "consumer")
const PACKAGES = ["core", "vue", "svelte", "angular", "react", "devtools", "dev-server"]
// The lowest and highest Angular majors of @tok/angular's peer range, each with
// a TypeScript that major's compiler accepts.
const ANGULAR = [
  { major: 20, typescript: "5.9.3" },
  { major: 22, typescript: "6.0.3" },
]

const readJson = (file) => JSON.parse(readFileSync(file, "utf8"))
const manifest = (name) => readJson(join(root, "packages", name, "package.json"))
const devVersion = (name, dep) => manifest(name).devDependencies[dep]

const started = Date.now()
const work = mkdtempSync(join(tmpdir(), "tok-consumer-"))
const results = []
const seconds = (ms) => `${(ms / 1000).toFixed(1)}s`

/** Runs a command; resolves with its output, rejects with the output's tail. */
const run = (command, args, { cwd = root, env = {} } = {}) =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    })
    let output = ""
    child.stdout.on("data", (chunk) => (output += chunk))
    child.stderr.on("data", (chunk) => (output += chunk))
    child.on("error", reject)
    child.on("close", (code, signal) => {
      if (code === 0) resolvePromise(output)
      else {
        const tail = output.trim().split("\n").slice(-40).join("\n")
        reject(new Error(`${command} ${args.join(" ")} → ${signal ?? `exit ${code}`}\n${tail}`))
      }
    })
  })

/** Runs one named check, records pass/fail and time; never throws. */
const check = async (name, fn) => {
  const t0 = Date.now()
  try {
    const note = await fn()
    results.push({ name, ok: true, ms: Date.now() - t0 })
    console.log(`[consumer] ✓ ${name} (${seconds(Date.now() - t0)})${note ? ` — ${note}` : ""}`)
    return true
  } catch (error) {
    results.push({ name, ok: false, ms: Date.now() - t0 })
    console.log(`[consumer] ✗ ${name} (${seconds(Date.now() - t0)})`)
    console.log(String(error?.message ?? error).replace(/^/gm, "    "))
    return false
  }
}

// --- 1. pack and lint -------------------------------------------------------
const tarballs = {}
const tarDir = join(work, "tarballs")
mkdirSync(tarDir)
for (const name of PACKAGES) {
  await check(`pack @tok/${name}`, async () => {
    const dest = join(tarDir, name)
    mkdirSync(dest)
    await run("pnpm", ["pack", "--pack-destination", dest], { cwd: join(root, "packages", name) })
    const [file] = readdirSync(dest).filter((f) => f.endsWith(".tgz"))
    if (!file) throw new Error("no tarball written")
    tarballs[name] = join(dest, file)
    const list = await run("tar", ["tzf", tarballs[name]])
    for (const required of [
      "package/dist/index.js",
      "package/dist/index.d.ts",
      "package/LICENSE",
      "package/README.md",
    ]) {
      if (!list.split("\n").includes(required))
        throw new Error(`the tarball has no ${required.slice(8)}`)
    }
    const packed = JSON.parse(await run("tar", ["xzOf", tarballs[name], "package/package.json"]))
    if (JSON.stringify(packed.exports).includes("@tok/source")) {
      throw new Error("the published exports keep the @tok/source condition")
    }
    if (
      name !== "dev-server" &&
      (packed.dependencies?.effect || !packed.peerDependencies?.effect)
    ) {
      throw new Error("effect must be a peer dependency (the app's copy), not a dependency")
    }
    const ranges = { ...packed.dependencies, ...packed.peerDependencies }
    if (Object.values(ranges).some((range) => range.startsWith("workspace:"))) {
      throw new Error("a workspace: range is left in the published dependencies")
    }
    const { size } = statSync(tarballs[name])
    return `${(size / 1024).toFixed(1)} KiB, ${list.trim().split("\n").length} files`
  })
}
// publint and attw run while npm installs the projects below.
const lint = (async () => {
  for (const name of PACKAGES) {
    if (!tarballs[name]) continue
    await check(`publint --strict @tok/${name}`, async () => {
      const out = await run("pnpm", ["exec", "publint", "--strict", tarballs[name]])
      if (!/All good/.test(out)) throw new Error(out)
    })
    await check(`attw --profile esm-only @tok/${name}`, async () => {
      await run("pnpm", [
        "exec",
        "attw",
        "--profile",
        "esm-only",
        "--format",
        "ascii",
        tarballs[name],
      ])
    })
  }
})()

// --- 2. fresh projects ------------------------------------------------------
const npmInstall = (cwd, specs) =>
  run(
    "npm",
    ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", ...specs],
    { cwd },
  )

const project = (name, files, lib) => {
  const dir = join(work, name)
  mkdirSync(dir)
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: `tok-${name}`, private: true, type: "module" }, null, 2),
  )
  const tsconfig = readJson(join(fixtures, "tsconfig.json"))
  tsconfig.compilerOptions.lib = lib
  tsconfig.files = files
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2))
  for (const file of files) cpSync(join(fixtures, file), join(dir, file))
  return dir
}

/** The @tok packages installed are ours (from the tarballs), one copy each. */
const assertOurs = async (dir, names) => {
  const tree = JSON.parse(await run("npm", ["ls", "--all", "--json"], { cwd: dir }))
  const seen = {}
  const walk = (deps) => {
    for (const [dep, info] of Object.entries(deps ?? {})) {
      if (dep.startsWith("@tok/") || dep === "effect") (seen[dep] ??= new Set()).add(info.version)
      walk(info.dependencies)
    }
  }
  walk(tree.dependencies)
  for (const name of names) {
    const pkg = readJson(join(dir, "node_modules", "@tok", name, "package.json"))
    if (pkg.description !== manifest(name).description)
      throw new Error(`node_modules/@tok/${name} is not the packed one`)
  }
  for (const [dep, versions] of Object.entries(seen)) {
    if (versions.size > 1)
      throw new Error(`${dep} is installed more than once: ${[...versions].join(", ")}`)
  }
  return `effect ${[...(seen.effect ?? [])].join("")}`
}

const peerRange = manifest("core").peerDependencies.effect
const effectLow = peerRange.replace(/^\^/, "")
let effectHigh = effectLow
await check(`resolve effect ${peerRange}`, async () => {
  const out = JSON.parse(
    await run("npm", ["view", `effect@${peerRange}`, "version", "--json"], { cwd: work }),
  )
  effectHigh = Array.isArray(out) ? out.at(-1) : out
  return `lowest ${effectLow}, highest ${effectHigh}`
})

const appFiles = ["promise.ts", "effect.ts", "adapters.ts"]
const app = project("app", appFiles, ["ES2023"])
const angularDirs = ANGULAR.map(({ major }) =>
  project(`angular-${major}`, ["angular.ts"], ["ES2023", "DOM"]),
)

const installs = [
  check(`npm install app (effect ${effectLow})`, async () => {
    await npmInstall(app, [
      tarballs.core,
      tarballs.vue,
      tarballs.svelte,
      tarballs["dev-server"],
      `effect@${effectLow}`,
      `vue@${devVersion("vue", "vue")}`,
      `svelte@${devVersion("svelte", "svelte")}`,
      `typescript@${devVersion("core", "typescript")}`,
      `@types/node@${devVersion("core", "@types/node")}`,
    ])
    return assertOurs(app, ["core", "vue", "svelte", "dev-server"])
  }),
  ...ANGULAR.map(({ major, typescript }, i) =>
    check(`npm install angular-${major}`, async () => {
      await npmInstall(angularDirs[i], [
        tarballs.core,
        tarballs.angular,
        `effect@${effectLow}`,
        `@angular/core@^${major}.0.0`,
        `@angular/common@^${major}.0.0`,
        `@angular/compiler@^${major}.0.0`,
        `rxjs@${devVersion("angular", "rxjs")}`,
        `typescript@${typescript}`,
        `@types/node@${devVersion("core", "@types/node")}`,
      ])
      const version = readJson(
        join(angularDirs[i], "node_modules/@angular/core/package.json"),
      ).version
      return `@angular/core ${version}, ${await assertOurs(angularDirs[i], ["core", "angular"])}`
    }),
  ),
]
const [installed] = await Promise.all([Promise.all(installs), lint])

// --- 3. type-check and run against the dev server ---------------------------
const typecheck = (dir) => run(join(dir, "node_modules", ".bin", "tsc"), ["-p", "."], { cwd: dir })

/** `npx tok-dev-server` on a free port, in the app project; resolves with its URL and a stop function. */
const startServer = () =>
  new Promise((resolvePromise, reject) => {
    const child = spawn("npx", ["--no", "--", "tok-dev-server", "--port", "0"], {
      cwd: app,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    })
    let stderr = ""
    child.stderr.on("data", (chunk) => (stderr += chunk))
    const timer = setTimeout(() => {
      process.kill(-child.pid, "SIGKILL")
      reject(new Error(`no URL within 20 s\n${stderr}`))
    }, 20_000)
    child.on("exit", (code) => reject(new Error(`tok-dev-server exited ${code}\n${stderr}`)))
    createInterface({ input: child.stdout }).on("line", (line) => {
      const match = /listening on (http:\/\/\S+)/.exec(line)
      if (!match) return
      clearTimeout(timer)
      child.removeAllListeners("exit")
      // npx runs the bin in a child process and does not pass SIGTERM on: signal
      // the process group, then wait until every process of it is gone.
      const stop = async () => {
        process.kill(-child.pid, "SIGTERM")
        for (let waited = 0; waited <= 5_000; waited += 50) {
          try {
            process.kill(-child.pid, 0)
          } catch {
            return
          }
          await new Promise((done) => setTimeout(done, 50))
        }
        process.kill(-child.pid, "SIGKILL")
        throw new Error("tok-dev-server did not stop within 5 s of SIGTERM")
      }
      resolvePromise({ url: match[1], stop })
    })
  })

const runScripts = async (dir, files, label, url) => {
  for (const file of files) {
    await check(`node ${file} (${label})`, async () =>
      (await run("node", [file], { cwd: dir, env: { TOK_URL: url } })).trim(),
    )
  }
}

// The type-checks run side by side (tsc is single-threaded) while the server starts.
const appLabel = `effect ${effectLow}`
const angularLabel = (i) => `angular-${ANGULAR[i].major}`
let server
const [appTyped, ...angularTyped] = await Promise.all([
  installed[0] ? check(`tsc app (${appLabel})`, () => typecheck(app)) : false,
  ...angularDirs.map((dir, i) =>
    installed[i + 1] ? check(`tsc ${angularLabel(i)}`, () => typecheck(dir)) : false,
  ),
  installed[0] &&
    check("npx tok-dev-server", async () => {
      server = await startServer()
      return server.url
    }),
])
if (server) {
  if (appTyped) await runScripts(app, appFiles, appLabel, server.url)
  for (const [i, dir] of angularDirs.entries()) {
    if (angularTyped[i]) await runScripts(dir, ["angular.ts"], angularLabel(i), server.url)
  }
  if (effectHigh !== effectLow) {
    const label = `effect ${effectHigh}`
    const swapped = await check(`npm install effect@${effectHigh}`, async () => {
      await npmInstall(app, [`effect@${effectHigh}`])
      return assertOurs(app, ["core", "vue", "svelte", "dev-server"])
    })
    if (swapped && (await check(`tsc app (${label})`, () => typecheck(app)))) {
      await runScripts(app, appFiles, label, server.url)
    }
  }
  await check("tok-dev-server stops on SIGTERM", () => server.stop())
}

// --- summary ----------------------------------------------------------------
const failed = results.filter((r) => !r.ok)
const passed = results.length - failed.length
console.log("")
console.log(
  `[consumer] effect ${effectLow === effectHigh ? `${effectLow} (lowest = highest of ${peerRange})` : `${effectLow} and ${effectHigh}`}; Angular ${ANGULAR.map((a) => a.major).join(" and ")}`,
)
for (const r of failed) console.log(`[consumer] FAILED: ${r.name}`)
// The vitest-style line lets tools/test-summary.mjs count these checks in CI's total.
console.log(
  `      Tests  ${failed.length > 0 ? `${failed.length} failed | ` : ""}${passed} passed (${results.length})`,
)
console.log(
  `[consumer] ${failed.length === 0 ? "PASS" : "FAIL"}: ${passed}/${results.length} checks in ${seconds(Date.now() - started)}`,
)
if (process.env.KEEP_CONSUMER_DIR) console.log(`[consumer] kept ${work}`)
else rmSync(work, { recursive: true, force: true })
process.exit(failed.length === 0 ? 0 : 1)
