import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { decodeJwt } from "jose"
import { afterAll, afterEach, describe, expect, it, vi } from "vitest"
import { main } from "../src/internal/cli.ts"
import { errorCode, jwtOf, post, request } from "./helpers.ts"

const packageDir = fileURLToPath(new URL("..", import.meta.url))
const children = new Set<ChildProcessWithoutNullStreams>()
afterEach(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL")
  children.clear()
})
const dir = await mkdtemp(join(tmpdir(), "tok-cli-"))
afterAll(() => rm(dir, { recursive: true, force: true }))

/** Runs the CLI from its sources, as `node --conditions=@tok/source src/cli.ts …`. */
const cli = (args: readonly string[], env: Record<string, string> = {}) => {
  const child = spawn(process.execPath, ["--conditions=@tok/source", "src/cli.ts", ...args], {
    cwd: packageDir,
    env: { ...process.env, ...env },
  })
  children.add(child)
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return {
    child,
    output: () => ({ stdout, stderr }),
    /** The exit code, or a failure after `ms`. */
    exit: (ms = 10_000) =>
      Promise.race([
        exited,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`no exit within ${ms} ms; stderr: ${stderr}`)), ms),
        ),
      ]),
    /** The URL from the "listening on" line. */
    url: (ms = 10_000) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no URL within ${ms} ms; stderr: ${stderr}`)),
          ms,
        )
        const check = () => {
          const match = /^tok dev server listening on (http:\/\/\S+)\n/.exec(stdout)
          if (match?.[1]) {
            clearTimeout(timer)
            resolve(match[1])
          }
        }
        child.stdout.on("data", check)
        void exited.then(() => {
          clearTimeout(timer)
          reject(new Error(`exited before listening; stderr: ${stderr}`))
        })
        check()
      }),
  }
}

/** Signs a user in over HTTP and returns the session's token URL. */
const tokenUrl = async (url: string) => {
  const { body } = await post(`${url}/v1/client/sessions`, { user_id: "user_cli" })
  return `${url}/v1/client/sessions/${(body as { id: string }).id}/tokens`
}

describe("tok-dev-server", () => {
  it("prints its URL and its publishable key, serves tokens, and exits 0 on SIGTERM", async () => {
    const run = cli(["--port", "0"])
    const url = await run.url()
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const key = `pk_live_${Buffer.from(`${new URL(url).host}$`).toString("base64")}`
    await vi.waitFor(() => expect(run.output().stdout).toContain("publishable key"))
    expect(run.output().stdout).toBe(
      `tok dev server listening on ${url}\ntok dev server publishable key ${key} (production instance)\n`,
    )
    const { body } = await post(await tokenUrl(url))
    expect(decodeJwt(jwtOf(body))).toMatchObject({ iss: url, sub: "user_cli" })
    run.child.kill("SIGTERM")
    expect(await run.exit(5_000)).toBe(0)
    await expect(request(`${url}/.well-known/jwks.json`)).rejects.toThrow()
  })

  it("exits 0 on SIGINT, also with a request held by latency", async () => {
    const run = cli(["--latency", "30000"])
    const url = await run.url()
    const held = request(await tokenUrl(url), { method: "POST" }).then(
      () => "answered",
      () => "cut off",
    )
    await new Promise((resolve) => setTimeout(resolve, 100))
    run.child.kill("SIGINT")
    expect(await run.exit(5_000)).toBe(0)
    expect(await held).toBe("cut off")
  })

  it("exits 0 on SIGINT followed by SIGTERM while stopping (Ctrl-C under a supervisor)", async () => {
    const before = {
      SIGINT: new Set(process.listeners("SIGINT")),
      SIGTERM: new Set(process.listeners("SIGTERM")),
    }
    const added = (signal: "SIGINT" | "SIGTERM") =>
      process.listeners(signal).filter((listener) => !before[signal].has(listener))
    const exit = vi.spyOn(process, "exit").mockImplementation((() => undefined) as never)
    let out = ""
    try {
      const code = main(["--latency", "30000"], { out: (text) => (out += text), err: () => {} })
      await vi.waitFor(() => expect(out).toContain("listening on"), { timeout: 5_000 })
      const [onInt] = added("SIGINT")
      const [onTerm] = added("SIGTERM")
      // Both arrive before the stop has finished, as Ctrl-C and a supervisor send them.
      onInt?.("SIGINT")
      onTerm?.("SIGTERM")
      expect(await code).toBe(0)
      expect(exit).not.toHaveBeenCalled()
      // A signal after the stop is ignored too, not the default "killed by SIGTERM".
      expect(added("SIGTERM")).toHaveLength(1)
    } finally {
      exit.mockRestore()
      for (const signal of ["SIGINT", "SIGTERM"] as const) {
        for (const listener of added(signal)) process.off(signal, listener)
      }
    }
  })

  it("takes its settings and faults from flags", async () => {
    const templates = join(dir, "templates.json")
    await writeFile(
      templates,
      JSON.stringify({ api: { audience: "api", claims: { user: "{{user.id}}" } } }),
    )
    const run = cli([
      "--token-lifetime=20",
      "--templates",
      templates,
      "--secret-key",
      "sk_test_from_flag",
      "--fail-next",
      "1",
      "--fail-status",
      "429",
      "--retry-after",
      "3",
      "--no-exp-next",
      "1",
    ])
    const url = await run.url()
    const tokens = await tokenUrl(url)
    const limited = await post(tokens)
    expect(limited.status).toBe(429)
    expect(limited.headers.get("retry-after")).toBe("3")
    expect(decodeJwt(jwtOf((await post(tokens)).body))).not.toHaveProperty("exp")
    const session = decodeJwt(jwtOf((await post(tokens)).body))
    expect(session.exp! - session.iat!).toBe(20)
    expect(decodeJwt(jwtOf((await post(`${tokens}/api`)).body))).toMatchObject({
      aud: "api",
      user: "user_cli",
    })
    const jwks = await request(`${url}/v1/jwks`, {
      headers: { authorization: "Bearer sk_test_from_flag" },
    })
    expect(jwks.status).toBe(200)
    run.child.kill("SIGTERM")
    expect(await run.exit()).toBe(0)
  })

  it("reads the secret key from TOK_SECRET_KEY", async () => {
    const run = cli([], { TOK_SECRET_KEY: "sk_test_from_env" })
    const url = await run.url()
    const res = await request(`${url}/v1/jwks`, {
      headers: { authorization: "Bearer sk_test_from_env" },
    })
    expect(res.status).toBe(200)
    run.child.kill("SIGTERM")
    expect(await run.exit()).toBe(0)
  })

  it("logs one line per request to stderr with --verbose, without JWTs or secrets", async () => {
    const run = cli(["--verbose", "--secret-key", "sk_test_verbose_secret"])
    const url = await run.url()
    const tokens = await tokenUrl(url)
    const jwt = jwtOf((await post(tokens)).body)
    await post(tokens.replace("/client/", "/"), undefined, {
      authorization: "Bearer sk_test_verbose_secret",
    })
    run.child.kill("SIGTERM")
    expect(await run.exit()).toBe(0)
    const { stdout, stderr } = run.output()
    expect(stdout.trim().split("\n")).toHaveLength(2)
    const lines = stderr.trim().split("\n")
    expect(lines).toHaveLength(3)
    expect(lines[1]).toMatch(/^\[tok\] POST \/v1\/client\/sessions\/sess_\w+\/tokens 200 /)
    expect(stderr).not.toContain(jwt.split(".")[1])
    expect(stderr).not.toContain("sk_test_verbose_secret")
  })

  it.each([
    [["--bogus"], /Unknown option '--bogus'/],
    [["--port", "abc"], /--port must be a whole number in \[0, 65535\], got "abc"/],
    [["--port", "70000"], /--port must be a whole number/],
    [["--token-lifetime", "0"], /--token-lifetime/],
    [["--latency"], /argument missing/],
    [["extra"], /Unexpected argument 'extra'/],
    [["--fail-status", "503"], /--fail-status goes with --fail-next or --fail-for/],
    [["--fail-next", "1", "--rate-limit-next", "1"], /either --fail-next or --rate-limit-next/],
    [["--malformed-next", "1", "--malformed-body", "xml"], /--malformed-body must be one of/],
    [["--templates", "/nonexistent/t.json"], /--templates: cannot read/],
    [["--signing-key", "/nonexistent/k.pem"], /--signing-key: cannot read/],
    [["--cors-origin", "not an origin"], /corsOrigins/],
    [["--secret-key", "short"], /at least 8 characters/],
    [["--instance", "staging"], /--instance must be development or production, got "staging"/],
  ])("refuses %j with a clear message and a non-zero exit", async (args, message) => {
    const run = cli(args)
    const code = await run.exit()
    expect(code).not.toBe(0)
    expect(run.output().stderr).toMatch(message)
    expect(run.output().stdout).toBe("")
  })

  it("stands in for a development instance with --instance development", async () => {
    const run = cli(["--instance", "development"])
    const url = await run.url()
    await vi.waitFor(() => expect(run.output().stdout).toContain("publishable key"))
    const key = /publishable key (pk_test_\S+) \(development instance\)/.exec(
      run.output().stdout,
    )?.[1]
    expect(Buffer.from(key!.slice(8), "base64").toString()).toBe(`${new URL(url).host}$`)
    const tokens = await tokenUrl(url)
    expect(errorCode((await post(tokens)).body)).toBe("dev_browser_unauthenticated")
    const { id } = (await post(`${url}/v1/dev_browser`)).body as { id: string }
    expect((await post(`${tokens}?__clerk_db_jwt=${id}`)).status).toBe(200)
    run.child.kill("SIGTERM")
    expect(await run.exit()).toBe(0)
  })

  it("refuses a templates file with a bad template, naming it", async () => {
    const templates = join(dir, "bad.json")
    await writeFile(templates, JSON.stringify({ api: { claims: { exp: 1 } } }))
    const run = cli(["--templates", templates])
    expect(await run.exit()).toBe(2)
    expect(run.output().stderr).toContain('template "api": the claim "exp" is set by the server')
  })

  it("exits 1 when the port is taken", async () => {
    const first = cli([])
    const url = await first.url()
    const second = cli(["--port", new URL(url).port])
    expect(await second.exit()).toBe(1)
    expect(second.output().stderr).toMatch(/already in use/)
    first.child.kill("SIGTERM")
    expect(await first.exit()).toBe(0)
  })

  it("prints help and the version", async () => {
    const help = cli(["--help"])
    expect(await help.exit()).toBe(0)
    expect(help.output().stdout).toContain("Usage: tok-dev-server [options]")
    expect(help.output().stdout).toContain("--fail-next")
    const version = cli(["--version"])
    expect(await version.exit()).toBe(0)
    expect(version.output().stdout).toMatch(/^\d+\.\d+\.\d+/)
  })

  it("answers errors in Clerk's shape when started from the CLI too", async () => {
    const run = cli([])
    const url = await run.url()
    const res = await post(`${url}/v1/client/sessions/sess_nope/tokens`)
    expect(res.status).toBe(401)
    expect(errorCode(res.body)).toBe("session_not_found")
    run.child.kill("SIGTERM")
    expect(await run.exit()).toBe(0)
  })
})
