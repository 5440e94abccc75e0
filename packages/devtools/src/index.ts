/**
 * `@tok/devtools`: `<tok-devtools>`, a live timeline of what a tok client
 * does, fed by its events (`client.events`). Framework-free: plain DOM and
 * SVG in a shadow root, no dependency at run time.
 *
 * @example
 * ```ts
 * import { createTokenClient, clerkFrontendApi } from "@tok/core"
 * import { mountDevtools } from "@tok/devtools"
 *
 * const tok = createTokenClient({ source: clerkFrontendApi({ baseUrl }), session: "sess_123" })
 * mountDevtools(tok) // appends <tok-devtools> to document.body
 * ```
 * @packageDocumentation
 */
export {
  defineTokDevtools,
  type EventSourceLike,
  mountDevtools,
  type TokDevtoolsElement,
} from "./element.ts"
export {
  type Life,
  type Mark,
  type MarkKind,
  type Row,
  Timeline,
  type TimelineOptions,
} from "./timeline.ts"
