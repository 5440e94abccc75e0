/**
 * How every demo page starts: read the demo's config, build the page's one
 * tok client on the Clerk-style source, mount the timeline and the lab, then
 * the app itself — or, when any of that fails, say why on the page.
 * @module
 */
import type { Source, TokClient } from "@tok/core"
import { demoSource } from "./clerk.ts"
import { type DemoConfig, loadConfig } from "./demo.ts"
import { showDevtools } from "./devtools.ts"
import { showLab } from "./lab.ts"

/** What one app gives `startDemo`. */
export interface DemoStart<Client extends TokClient> {
  /** Which adapter drives the page: "@tok/vue", … */
  readonly adapter: string
  /** The adapter calls that drive the page, for its code panel. */
  readonly code: string
  /** Where a failure to start is shown (the app's root element). */
  readonly root: HTMLElement
  /** The page's client, made with the adapter's own `createTokenClient`. */
  readonly client: (source: Source) => Client
  /** Mounts the app on that client. */
  readonly mount: (client: Client, config: DemoConfig) => void | Promise<void>
}

/** Starts a demo page; never throws (a failure is written into `root`). */
export const startDemo = async <Client extends TokClient>(
  start: DemoStart<Client>,
): Promise<void> => {
  try {
    const config = await loadConfig()
    // A Clerk development instance: the dev browser is set up as clerk-js
    // would, and the source is clerkFrontendApi({ publishableKey }).
    const client = start.client(await demoSource(config))
    showDevtools(client)
    showLab({ config, client, adapter: start.adapter, code: start.code })
    await start.mount(client, config)
  } catch (error) {
    start.root.textContent = error instanceof Error ? error.message : String(error)
    start.root.className = "page error"
  }
}
