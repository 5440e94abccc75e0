import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const script = fileURLToPath(new URL("./fixtures/exits-on-its-own.ts", import.meta.url))

describe("§2.7 nothing leaks: a Node process", () => {
  it("that uses tok, with a watcher subscribed, exits on its own", async () => {
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
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" })
    expect(stdout.trim()).toBe("token sess_1 watcher ready")
  }, 15_000)
})
