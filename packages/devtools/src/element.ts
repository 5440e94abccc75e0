/**
 * `<tok-devtools>`: the timeline drawn with plain DOM and SVG in a shadow
 * root. One row per key; each token's life is a bar from issue to expiry
 * with its buffer shaded; requests and refreshes are ticks, failures and
 * retries red, recoveries green; each row says its hit rate and which
 * instance (tab, server) fetched.
 *
 * The class is made on first `defineTokDevtools()` call, not at import, so
 * importing this package on a server (no `HTMLElement`) is harmless.
 * @module
 */
import type { TokenEvent, TokenEvents } from "@tok/core"
import { type Life, type Row, seconds, Timeline, type TimelineOptions } from "./timeline.ts"

/** What the element listens to: a Promise-face client, or anything with its `events`. */
export interface EventSourceLike {
  readonly events: TokenEvents
}

/** The element's own API, beside `HTMLElement`'s. */
export interface TokDevtoolsElement extends HTMLElement {
  /** The model it draws (read it in tests). */
  readonly timeline: Timeline
  /** Listens to one more client's events; returns the function that stops listening. */
  connect(source: EventSourceLike): () => void
  /** Folds an event in by hand (events from elsewhere: a worker, another tab's channel). */
  push(event: TokenEvent): void
  /** Draws now (otherwise it draws on the next animation frame after an event, and every second). */
  render(): void
}

const SVG = "http://www.w3.org/2000/svg"
const WIDTH = 400
const HEIGHT = 34
const BAR_Y = 8
const BAR_H = 12

const STYLE = `
:host{position:fixed;right:12px;bottom:12px;z-index:2147483000;font:12px/1.35 system-ui,sans-serif;color:#1d2330}
:host([inline]){position:static;display:block;width:fit-content;margin:16px auto}
.panel{background:#fff;border:1px solid #c9ced8;border-radius:8px;box-shadow:0 4px 18px #0002;width:${WIDTH + 24}px;max-height:60vh;overflow:auto}
header{display:flex;gap:8px;align-items:center;padding:6px 12px;background:#1d2330;color:#fff;border-radius:7px 7px 0 0;cursor:pointer;user-select:none}
header b{flex:1}
:host([collapsed]) .body{display:none}
.body{padding:6px 12px 8px}
.row{margin:6px 0 8px}
.meta{display:flex;gap:10px;flex-wrap:wrap}
.meta .label{font-weight:600}
.meta .bad{color:#c62828}
svg{display:block;width:100%;height:${HEIGHT}px;background:#f5f6f8;border-radius:4px}
.life{fill:#90caf9}.life.current{fill:#1e88e5}.life.peer{fill:#ce93d8}
.buffer{fill:#0003}
.tick{stroke-width:2}
.request{stroke:#455a64}.refresh{stroke:#2e7d32}.shared{stroke:#8e24aa}
.failure,.retry{stroke:#d32f2f}.retry{stroke-dasharray:2 2}
.recovery{stroke:#00c853;stroke-width:3}
.now{stroke:#ff9800}
.outage{fill:#d32f2f26}
.legend{color:#5f6b7a;margin-top:4px}
.empty{color:#5f6b7a}
`

/**
 * Defines `<tok-devtools>` (or `name`) once; later calls do nothing.
 * Call it before creating the element with `document.createElement`.
 */
export const defineTokDevtools = (name = "tok-devtools"): void => {
  if (typeof customElements === "undefined" || customElements.get(name) !== undefined) return
  customElements.define(name, makeClass())
}

/**
 * Makes a `<tok-devtools>` listening to `source` and appends it to
 * `parent` (default `document.body`).
 *
 * @example
 * ```ts
 * import { mountDevtools } from "@tok/devtools"
 * mountDevtools(tok) // tok = createTokenClient(…)
 * ```
 */
export const mountDevtools = (
  source: EventSourceLike,
  options: {
    readonly parent?: Element | undefined
    /** Start folded (the header only). */
    readonly collapsed?: boolean | undefined
    /** In the page's flow instead of fixed in the corner (covers nothing). */
    readonly inline?: boolean | undefined
  } = {},
): TokDevtoolsElement => {
  defineTokDevtools()
  const element = document.createElement("tok-devtools") as TokDevtoolsElement
  if (options.collapsed) element.setAttribute("collapsed", "")
  if (options.inline) element.setAttribute("inline", "")
  element.connect(source)
  ;(options.parent ?? document.body).append(element)
  return element
}

const makeClass = () =>
  class TokDevtools extends HTMLElement implements TokDevtoolsElement {
    static observedAttributes = ["window"]
    readonly timeline: Timeline
    private readonly root: ShadowRoot
    private readonly body: HTMLElement
    private readonly stops = new Set<() => void>()
    private frame: number | undefined
    private interval: ReturnType<typeof setInterval> | undefined

    constructor() {
      super()
      this.timeline = new Timeline(this.options())
      this.root = this.attachShadow({ mode: "open" })
      const style = document.createElement("style")
      style.textContent = STYLE
      const panel = el("div", "panel")
      const header = el("header")
      header.append(el("b", "", "tok devtools"), el("span", "summary"))
      header.addEventListener("click", () => this.toggleAttribute("collapsed"))
      this.body = el("div", "body")
      panel.append(header, this.body)
      this.root.append(style, panel)
    }

    private options(): TimelineOptions {
      const seconds = Number(this.getAttribute("window"))
      return { windowMillis: seconds > 0 ? seconds * 1000 : undefined }
    }

    attributeChangedCallback(): void {
      this.timeline.windowMillis = this.options().windowMillis ?? 120_000
      this.schedule()
    }

    connectedCallback(): void {
      this.render()
      this.interval ??= setInterval(() => this.render(), 1000)
    }

    disconnectedCallback(): void {
      if (this.interval !== undefined) clearInterval(this.interval)
      this.interval = undefined
    }

    connect(source: EventSourceLike): () => void {
      const unsubscribe = source.events.subscribe((event) => this.push(event))
      const stop = () => {
        unsubscribe()
        this.stops.delete(stop)
      }
      this.stops.add(stop)
      return stop
    }

    push(event: TokenEvent): void {
      this.timeline.apply(event)
      this.schedule()
    }

    private schedule(): void {
      if (this.frame !== undefined || !this.isConnected) return
      const raf = globalThis.requestAnimationFrame
      this.frame =
        typeof raf === "function"
          ? raf(() => {
              this.frame = undefined
              this.render()
            })
          : (setTimeout(() => {
              this.frame = undefined
              this.render()
            }, 16) as unknown as number)
    }

    render(): void {
      const now = Date.now()
      const timeline = this.timeline
      timeline.prune(now)
      const from = now - timeline.windowMillis
      const x = (t: number) =>
        ((Math.min(Math.max(t, from), now) - from) / timeline.windowMillis) * WIDTH
      const rows = [...timeline.rows.values()].filter(
        (row) => row.lives.length + row.marks.length > 0 || row.hits + row.misses > 0,
      )
      const summary = this.root.querySelector(".summary")!
      summary.textContent =
        timeline.session === null
          ? "signed out"
          : `${rows.length} key${rows.length === 1 ? "" : "s"}`
      const children: Array<Node> = rows.map((row) => this.drawRow(row, now, x))
      if (children.length === 0) children.push(el("div", "empty", "No token activity yet."))
      children.push(
        el(
          "div",
          "legend",
          `last ${Math.round(timeline.windowMillis / 1000)} s · bar: token life, shaded: buffer, red band: failing · ticks: request, refresh (green), failure/retry (red), recovery (bright green)`,
        ),
      )
      this.body.replaceChildren(...children)
    }

    private drawRow(row: Row, now: number, x: (t: number) => number): HTMLElement {
      const section = el("section", "row")
      section.dataset["key"] = row.label
      const rate = Timeline.hitRate(row)
      const meta = el("div", "meta")
      meta.append(
        el("span", "label", row.label),
        el(
          "span",
          "hit-rate",
          rate === undefined ? "no reads" : `hit rate ${Math.round(rate * 100)}%`,
        ),
        el("span", "requests", `${row.requests} request${row.requests === 1 ? "" : "s"}`),
        el("span", row.failing ? "bad" : "", `${row.failures} failed`),
        el("span", "instances", `by ${[...row.instances].join(", ") || "—"}`),
      )
      const svg = svgEl("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: "none" })
      const current = Timeline.current(row, now)
      for (const outage of row.outages) {
        const x0 = x(outage.from)
        const x1 = x(outage.to ?? now)
        const shade = svgEl("rect", {
          class: "outage",
          x: x0,
          y: 0,
          width: Math.max(1, x1 - x0),
          height: HEIGHT,
          "data-kind": "outage",
        })
        shade.append(
          svgEl(
            "title",
            {},
            outage.to === undefined
              ? `failing for ${seconds(now - outage.from)}`
              : `failed for ${seconds(outage.to - outage.from)}`,
          ),
        )
        svg.append(shade)
      }
      for (const life of row.lives) svg.append(drawLife(life, life === current, x))
      for (const mark of row.marks) {
        const at = x(mark.at)
        const tick = svgEl("line", {
          class: `tick ${mark.kind}`,
          x1: at,
          x2: at,
          y1: mark.kind === "request" || mark.kind === "refresh" ? 2 : 0,
          y2: HEIGHT - 2,
          "data-kind": `tick-${mark.kind}`,
        })
        tick.append(svgEl("title", {}, mark.detail))
        svg.append(tick)
      }
      svg.append(svgEl("line", { class: "now", x1: WIDTH - 1, x2: WIDTH - 1, y1: 0, y2: HEIGHT }))
      section.append(meta, svg)
      return section
    }
  }

const drawLife = (life: Life, current: boolean, x: (t: number) => number): SVGElement => {
  const group = svgEl("g", {})
  const x0 = x(life.issuedAt)
  const x1 = x(life.expiresAt)
  const xb = x(life.expiresAt - life.bufferMillis)
  group.append(
    svgEl("rect", {
      class: `life${current ? " current" : ""}${life.origin === "peer" ? " peer" : ""}`,
      x: x0,
      y: BAR_Y,
      width: Math.max(1, x1 - x0),
      height: BAR_H,
      "data-kind": "token-bar",
      ...(current ? { "data-current": "" } : {}),
    }),
    svgEl("rect", {
      class: "buffer",
      x: xb,
      y: BAR_Y,
      width: Math.max(0, x1 - xb),
      height: BAR_H,
    }),
    svgEl(
      "title",
      {},
      `token ${new Date(life.issuedAt).toLocaleTimeString()} → ${new Date(
        life.expiresAt,
      ).toLocaleTimeString()} · ${life.origin === "peer" ? "shared with" : "fetched by"} ${life.instance}`,
    ),
  )
  return group
}

function el(tag: string, className = "", text?: string): HTMLElement {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}

function svgEl(
  tag: string,
  attributes: Record<string, string | number>,
  text?: string,
): SVGElement {
  const node = document.createElementNS(SVG, tag)
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value))
  if (text !== undefined) node.textContent = text
  return node
}
