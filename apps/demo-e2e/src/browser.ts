/**
 * Debian's Chromium, driven by playwright-core: headless, a fresh profile in a
 * temporary folder, no network of its own (no updates, sync or QUIC).
 * @module
 */
import { existsSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { chromium, type BrowserContext } from "playwright-core"

/** Where Chromium is; `CHROMIUM_PATH` overrides. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"

/** A browser with a fresh profile; `close()` also deletes the profile. */
export interface Browser {
  readonly context: BrowserContext
  close(): Promise<void>
}

/** Launches Chromium with a fresh user-data-dir. */
export const launch = async (): Promise<Browser> => {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `No Chromium at ${chromiumPath}: install it with "apt-get install -y chromium" (.ci/run does), or set CHROMIUM_PATH.`,
    )
  }
  const profile = await mkdtemp(join(tmpdir(), "tok-e2e-chromium-"))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 900, height: 1100 },
    timeout: 30_000,
  })
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined)
      await rm(profile, { recursive: true, force: true })
    },
  }
}
