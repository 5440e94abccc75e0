/**
 * `<tok-devtools>` on every demo page: the live timeline of the page's tok
 * client (tokens, requests, refreshes, failures), in the corner.
 * @module
 */
import type { TokClient } from "@tok/core"
import { mountDevtools, type TokDevtoolsElement } from "@tok/devtools"

/** Mounts the timeline for `client` at the end of the page (in its flow: it covers nothing), once. */
export const showDevtools = (client: TokClient): TokDevtoolsElement => {
  const existing = document.querySelector<TokDevtoolsElement>("tok-devtools")
  if (existing !== null) return existing
  const element = mountDevtools(client, { inline: true })
  // On a narrow screen it scrolls sideways (style.css): keyboard users can scroll it too.
  element.tabIndex = 0
  element.setAttribute("role", "region")
  element.setAttribute("aria-label", "tok devtools: the token timeline")
  return element
}
