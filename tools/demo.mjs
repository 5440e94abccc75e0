// `./tools/run demo` — tok's demo on this machine, all on 127.0.0.1:
//
//   1. builds the three demo apps (apps/demo-vue, demo-svelte, demo-angular)
//      with Nx, so a second run is a cache hit;
//   2. starts the dev token server (packages/dev-server's CLI, from source)
//      and demo-api (apps/demo-api, from source), each on a port the OS picks;
//   3. serves the built apps under one URL — /vue/, /svelte/, /angular/ — and,
//      at /config.json, the token server's and demo-api's URLs, which is how
//      the pages find them (they call both cross-origin, as a real app calls
//      its auth backend and its API).
//
// Ctrl-C (SIGINT) or SIGTERM stops everything, and so does losing the parent:
// when stdin is a pipe, its end (whoever held the other end exited), and a
// change of parent process (the parent died and we were reparented). The
// end-to-end tests (apps/demo-e2e) run this same script with
// `--no-build --port 0`, stdin a pipe.
import { spawn } from "node:child_process"
import { once } from "node:events"
import { createReadStream, fstatSync } from "node:fs"
import { stat } from "node:fs/promises"
import { setInterval } from "node:timers"
import { createServer } from "node:http"
import { dirname, extname, join, normalize, sep } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const apps = [
  { name: "Vue", slug: "vue", project: "@tok/demo-vue" },
  { name: "Svelte", slug: "svelte", project: "@tok/demo-svelte" },
  { name: "Angular", slug: "angular", project: "@tok/demo-angular" },
  { name: "React", slug: "react", project: "@tok/demo-react" },
]
/** The templates the pages offer besides the session token (the dev server has them by default). */
const templates = ["supabase", "hasura"]

const usage = `Usage: ./tools/run demo [options]

  --port <n>            port of the demo's page server (default 4700; 0 = any free port)
  --token-lifetime <s>  session token lifetime on the dev token server, and the longest
                        demo-api accepts (default 20: with the pages' 5 s buffer a refresh
                        comes every ~14 s, so a fault shows within seconds; Clerk's is 60)
  --instance <kind>     the Clerk instance the token server stands in for: development
                        (default; the pages get a dev-browser token, as clerk-js does)
                        or production
  --no-build            serve the apps as last built
  --fleet               demo-api as two instances sharing one Redis (@tok/redis), behind
                        one address; needs redis-server on PATH (see tools/demo-fleet.mjs)
  --verbose             log every request of the token server and demo-api
  -h, --help            show this help
`

const say = (line = "") => process.stdout.write(`[demo] ${line}\n`)
/** The demo's token lifetime unless --token-lifetime says otherwise (seconds). */
const defaultTokenLifetime = "20"

let flags
try {
  flags = parseArgs({
    options: {
      port: { type: "string", default: "4700" },
      "token-lifetime": { type: "string", default: defaultTokenLifetime },
      instance: { type: "string", default: "development" },
      "no-build": { type: "boolean", default: false },
      fleet: { type: "boolean", default: false },
      verbose: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  }).values
} catch (error) {
  process.stderr.write(`[demo] ${error.message}\n\n${usage}`)
  process.exit(2)
}
if (flags.help) {
  process.stdout.write(usage)
  process.exit(0)
}
if (flags.instance !== "development" && flags.instance !== "production") {
  process.stderr.write(`[demo] --instance must be development or production\n\n${usage}`)
  process.exit(2)
}
const port = Number(flags.port)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`[demo] --port must be a whole number in [0, 65535]\n\n${usage}`)
  process.exit(2)
}

// --- children: started, watched, stopped -------------------------------------

/** @type {Set<import("node:child_process").ChildProcess>} */
const children = new Set()
/** Set once by `stopAll`: from then on nothing is spawned. */
let stopping = false
/** Thrown by `start` once the demo is stopping; not an error worth reporting. */
const stoppingError = new Error("the demo is stopping")
/** How long a child has between SIGTERM and SIGKILL. */
const graceMs = 5000
/** Children that lead their own process group, signalled as a whole. */
const groupLeaders = new WeakSet()
/** @type {import("node:http").Server | undefined} */
let pageServer

/**
 * `spawn`, unless the demo is stopping (then it throws `stoppingError`); the
 * child is in `children` until it exits. A `detached` child leads its own
 * process group, and the whole group is signalled (nx and its workers).
 */
const start = (command, args, options) => {
  if (stopping) throw stoppingError
  const child = spawn(command, args, options)
  children.add(child)
  const forget = () => children.delete(child)
  child.once("exit", forget)
  // A child that could not be spawned (ENOENT, …) emits "error" but no "exit".
  child.once("error", () => {
    if (child.pid === undefined) forget()
  })
  if (options.detached === true) groupLeaders.add(child)
  return child
}

const signal = (child, name) => {
  try {
    if (groupLeaders.has(child) && child.pid !== undefined) process.kill(-child.pid, name)
    else child.kill(name)
  } catch {
    child.kill(name) // the group is gone already; the child itself may not be
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
const stopChild = async (child) => {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    children.delete(child)
    return
  }
  const exited = once(child, "exit").catch(() => undefined)
  signal(child, "SIGTERM")
  const timer = setTimeout(() => signal(child, "SIGKILL"), graceMs)
  await exited
  clearTimeout(timer)
  children.delete(child)
}

/**
 * Stops every child and the page server, then exits with `code`. Children
 * started while it runs (a spawn that was already under way) are stopped too:
 * it loops until none is left.
 */
const stopAll = async (code) => {
  if (stopping) return
  stopping = true
  while (children.size > 0) await Promise.all([...children].map(stopChild))
  if (pageServer) {
    const closed = new Promise((resolve) => pageServer.close(resolve))
    pageServer.closeAllConnections()
    await closed
  }
  process.exit(code)
}
process.on("SIGINT", () => {
  process.stdout.write("\n")
  say("stopping…")
  void stopAll(0)
})
process.on("SIGTERM", () => void stopAll(0))

// The parent going away stops the demo too, so that a killed wrapper (pnpm,
// a shell, the e2e runner) does not leave it and its servers running.
// stdin: only when it is a pipe or socket (a terminal, /dev/null or a file
// never ends on their own); its end means the writer is gone.
const stdinIsPipe = (() => {
  try {
    const info = fstatSync(0)
    return info.isFIFO() || info.isSocket()
  } catch {
    return false
  }
})()
if (stdinIsPipe) {
  const lost = () => {
    if (!stopping) say("stdin closed: stopping")
    void stopAll(0)
  }
  process.stdin.on("end", lost)
  process.stdin.on("close", lost)
  process.stdin.on("error", lost)
  process.stdin.resume() // read and drop whatever comes, to see the end
}
// The parent process: when it dies we are reparented (to 1 or a subreaper).
const parent = process.ppid
setInterval(() => {
  if (process.ppid !== parent && !stopping) {
    say(`parent process ${parent} is gone: stopping`)
    void stopAll(0)
  }
}, 1000).unref()

/**
 * Runs a Node program from source and resolves the URL it prints
 * ("… listening on http://…"); its later output goes to our stderr when verbose.
 */
const startServer = (label, args, cwd) =>
  new Promise((resolve, reject) => {
    const child = start(process.execPath, ["--conditions=@tok/source", ...args], {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
    })
    let output = ""
    let url
    const timer = setTimeout(
      () => reject(new Error(`${label} did not start in 30 s:\n${output}`)),
      30_000,
    )
    const onData = (chunk) => {
      const text = chunk.toString()
      if (url === undefined) {
        output += text
        const match = /listening on (http:\/\/\S+)/.exec(output)
        if (match) {
          url = match[1]
          clearTimeout(timer)
          resolve(url)
        }
      } else if (flags.verbose) process.stderr.write(text)
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      if (url === undefined)
        reject(new Error(`${label} exited (${signal ?? code}) before it started:\n${output}`))
      else if (!stopping) {
        process.stderr.write(
          `[demo] ${label} stopped unexpectedly (${signal ?? code}); stopping the demo\n`,
        )
        void stopAll(1)
      }
    })
  })

// --- 1. build ---------------------------------------------------------------

/**
 * One `nx run-many` for the three apps (and, through `^build`, the packages
 * they use). nx prints one line per finished task ("✔  nx run <project>:build
 * [local cache]"), which gives a line per app as it is done.
 */
const buildApps = () =>
  new Promise((resolve, reject) => {
    const started = Date.now()
    say(`building the demo apps (${apps.map((app) => app.name).join(", ")})…`)
    const nx = start(
      join(root, "node_modules", ".bin", "nx"),
      [
        "run-many",
        "-t",
        "build",
        "-p",
        ...apps.map((app) => app.project),
        "--outputStyle=static-failures-only",
      ],
      {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
        // Plugins in nx's own process: isolated, nx starts them as detached
        // workers (process groups of their own) that outlive a SIGTERM to nx.
        env: {
          ...process.env,
          NX_DAEMON: "false",
          NX_NO_CLOUD: "true",
          NX_TUI: "false",
          NX_ISOLATE_PLUGINS: "false",
        },
        detached: true,
      },
    )
    let output = ""
    let pending = ""
    const onData = (chunk) => {
      output += chunk
      pending += chunk
      const lines = pending.split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines) {
        const match = /✔\s+nx run (\S+):build\b(.*)$/.exec(line)
        const app = match && apps.find((a) => a.project === match[1])
        if (!app) continue
        const cached = /cache/i.test(match[2])
        const took = `built in ${((Date.now() - started) / 1000).toFixed(1)} s`
        say(`  ${app.name.padEnd(8)} ${cached ? "up to date" : took}`)
      }
    }
    nx.stdout.on("data", onData)
    nx.stderr.on("data", onData)
    nx.on("error", reject)
    nx.on("exit", (code, signal) => {
      if (stopping) return reject(stoppingError)
      if (code !== 0)
        return reject(new Error(`building the demo apps failed (${signal ?? code}):\n${output}`))
      resolve()
    })
  })

// --- 3. the page server ------------------------------------------------------

const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
}

const escape = (text) =>
  String(text).replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c],
  )

const indexPage = (config) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>tok demo</title>
<style>
body{font-family:system-ui,sans-serif;background:#f1f5f9;color:#0f172a;margin:0}
main{max-width:640px;margin:0 auto;padding:32px 16px}
a.app{display:block;background:#fff;border:1px solid #e2e8f0;border-radius:10px;padding:14px 18px;margin:10px 0;font-size:20px;text-decoration:none;color:#0f172a}
a.app span{color:#64748b;font-size:14px;margin-left:8px}
code{font-size:13px}
</style></head>
<body><main>
<h1>tok demo</h1>
<p>The same page in three frameworks, each on its tok adapter, against the local dev token server.</p>
${apps.map((app) => `<a class="app" href="/${app.slug}/">${app.name} <span>@tok/${app.slug}</span></a>`).join("\n")}
<p>Token server: <code>${escape(config.tokenServer)}</code> (admin API under <code>/__tok</code>)<br>
demo-api: <code>${escape(config.api)}</code></p>
</main></body></html>
`

/** Serves `/`, `/config.json` and the three apps' builds. */
const startPageServer = (config, listenPort) => {
  const server = createServer(async (req, res) => {
    const send = (status, body, type = "text/plain; charset=utf-8", headers = {}) => {
      res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-cache", ...headers })
      res.end(req.method === "HEAD" ? undefined : body)
    }
    if (req.method !== "GET" && req.method !== "HEAD")
      return send(405, "Method not allowed\n", undefined, { Allow: "GET, HEAD" })
    let path
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)
    } catch {
      return send(400, "Bad request\n")
    }
    if (path === "/" || path === "/index.html")
      return send(200, indexPage(config.value), types[".html"])
    if (path === "/config.json") return send(200, JSON.stringify(config.value), types[".json"])
    const app = apps.find((a) => path === `/${a.slug}` || path.startsWith(`/${a.slug}/`))
    if (!app) return send(404, "Not found\n")
    if (path === `/${app.slug}`) return send(308, "", undefined, { Location: `/${app.slug}/` })
    const dist = join(root, "apps", `demo-${app.slug}`, "dist")
    const file = normalize(join(dist, path.slice(app.slug.length + 2) || "index.html"))
    if (file !== dist && !file.startsWith(dist + sep)) return send(404, "Not found\n")
    let info
    try {
      info = await stat(file)
      if (info.isDirectory()) return send(404, "Not found\n")
    } catch {
      const built = await stat(join(dist, "index.html")).then(
        () => true,
        () => false,
      )
      return send(
        404,
        built
          ? "Not found\n"
          : `The ${app.name} app is not built: run ./tools/run demo without --no-build.\n`,
      )
    }
    res.writeHead(200, {
      "Content-Type": types[extname(file)] ?? "application/octet-stream",
      "Content-Length": info.size,
      "Cache-Control": "no-cache",
    })
    if (req.method === "HEAD") return res.end()
    createReadStream(file)
      .on("error", () => res.destroy())
      .pipe(res)
  })
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen({ port: listenPort, host: "127.0.0.1" }, () => {
      server.off("error", reject)
      resolve(server)
    })
  })
}

// --- run ----------------------------------------------------------------------

try {
  if (flags["no-build"]) say("serving the apps as last built (--no-build)")
  else await buildApps()

  // The page server first: its origin is what the token server puts in `azp`
  // and what demo-api accepts. /config.json is filled in once the others run.
  const config = { value: { tokenServer: "", api: "", templates, userId: "user_alice" } }
  try {
    pageServer = await startPageServer(config, port)
  } catch (error) {
    if (error.code !== "EADDRINUSE" || port === 0) throw error
    say(`port ${port} is in use; using a free one instead`)
    pageServer = await startPageServer(config, 0)
  }
  const origin = `http://127.0.0.1:${pageServer.address().port}`

  const tokenServer = await startServer(
    "the token server",
    [
      join(root, "packages", "dev-server", "src", "cli.ts"),
      "--port",
      "0",
      "--instance",
      flags.instance,
      "--token-lifetime",
      flags["token-lifetime"],
      ...(flags.verbose ? ["--verbose"] : []),
    ],
    join(root, "packages", "dev-server"),
  )
  const apiArgs = [
    join(root, "apps", "demo-api", "src", "main.ts"),
    "--token-server",
    tokenServer,
    "--allowed-origin",
    origin,
    // At least Clerk's 60 s, so a lifetime raised later through the admin API still passes.
    "--session-token-lifetime",
    String(Math.max(60, Number(flags["token-lifetime"]))),
    ...(flags.verbose ? ["--verbose"] : []),
  ]
  const apiDir = join(root, "apps", "demo-api")
  const api = flags.fleet
    ? await (
        await import("./demo-fleet.mjs")
      ).startFleet({ start, startServer, apiArgs, cwd: apiDir, say })
    : await startServer("demo-api", apiArgs, apiDir)
  // The key a Clerk app would have for this instance; the pages build their source on it.
  const { publishableKey } = await fetch(`${tokenServer}/__tok/config`, {
    signal: AbortSignal.timeout(10_000),
  }).then((res) => res.json())
  config.value = { ...config.value, tokenServer, api, publishableKey }

  say(`token server  ${tokenServer}  (JWKS at /.well-known/jwks.json, admin API under /__tok)`)
  say(`              a Clerk ${flags.instance} instance, publishable key ${publishableKey}`)
  say(`demo-api      ${api}`)
  say()
  say(`tok demo ready at ${origin}/`)
  for (const app of apps) say(`  ${app.name.padEnd(8)} ${origin}/${app.slug}/`)
  say()
  say(
    `tokens live ${flags["token-lifetime"]} s; the pages refresh them 5 s (their buffer) and a little more before expiry.`,
  )
  say("Break the token server from the page's buttons, or paste one of these:")
  const faults = `${tokenServer}/__tok/faults`
  const json = "-H 'content-type: application/json'"
  say(`  curl -X POST ${faults} ${json} -d '{"failFor":{"ms":8000,"status":503}}'  # 503 for 8 s`)
  say(`  curl -X POST ${faults} ${json} -d '{"latencyMs":1500}'  # slow answers`)
  say(
    `  curl -X POST ${faults} ${json} -d '{"failFor":{"ms":6000,"status":429,"retryAfterSeconds":3}}'  # rate-limited`,
  )
  say(`  curl -X POST ${faults} ${json} -d '{"drop":3}'  # dropped connections`)
  say(`  curl -X POST ${faults} ${json} -d '{"clockSkewSeconds":3600}'  # server clock +1 h`)
  say(`  curl -X DELETE ${faults}  # all clear`)
  say()
  say("Ctrl-C stops everything.")
} catch (error) {
  // Once stopping, a start that failed is the stop's doing: stopAll exits.
  if (!stopping) {
    process.stderr.write(
      `[demo] error: ${error instanceof Error ? error.message : String(error)}\n`,
    )
    await stopAll(1)
  }
}
