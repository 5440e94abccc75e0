/**
 * `<tok-devtools>` on every demo page: the live timeline of the page's tok
 * client (tokens, requests, refreshes, failures), in the corner.
 * @module
 */
import type { TokClient } from "@tok/core"
import { mountDevtools, type TokDevtoolsElement } from "@tok/devtools"

/** Mounts the timeline for `client` at the end of the page (in its flow: it covers nothing), once. */
export const showDevtools = (client: TokClient): TokDevtoolsElement =>
  document.querySelector<TokDevtoolsElement>("tok-devtools") ??
  mountDevtools(client, { inline: true })
