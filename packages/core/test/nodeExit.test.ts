import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

/** Runs a fixture with Node (from sources); resolves its exit code, or a note after 10 s. */
const run = async (fixture: string) => {
  const script = fileURLToPath(new URL(`./fixtures/${fixture}`, import.meta.url))
  const child = spawn(process.execPath, ["--conditions=@tok/source", script], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    stdio: ["ignore", "pipe", "pipe"],
  })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk))
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk))
  const code = await new Promise<number | string>((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      resolve("still running after 10 s")
    }, 10_000)
    child.on("exit", (exitCode) => {
      clearTimeout(timer)
      resolve(exitCode ?? "killed")
    })
  })
  return { code, stderr, stdout: stdout.trim() }
}

describe("§2.7 nothing leaks: a Node process", () => {
  it("that uses tok, with a watcher subscribed, exits on its own", async () => {
    expect(await run("exits-on-its-own.ts")).toEqual({
      code: 0,
      stderr: "",
      stdout: "token sess_1 watcher ready",
    })
  }, 15_000)

  it("on the Effect API (TokenClient.layer, no clock chosen) exits on its own", async () => {
    expect(await run("effect-exits-on-its-own.ts")).toEqual({
      code: 0,
      stderr: "",
      stdout: "watcher ready",
    })
  }, 15_000)
})
