/**
 * The demo's lab, below each page: buttons that break the token server on
 * purpose through its admin API (`POST /__tok/faults`), a "1,000 callers"
 * button that shows single flight and the cache's speed, and a short code
 * panel with the adapter call that drives the page. Plain DOM, the same in
 * every app: what it shows is tok's, not the framework's.
 * @module
 */
import type { TokClient, TokenEvent } from "@tok/core"
import type { DemoConfig } from "./demo.ts"

type Fetch = (input: string, init?: RequestInit) => Promise<Response>

/** A fault the lab offers: a label, what it does, and the admin API body that sets it. */
export interface FaultPreset {
  readonly id: string
  readonly label: string
  /** What to watch for. */
  readonly hint: string
  readonly body: Readonly<Record<string, unknown>>
}

/** The lab's faults, in the order of its buttons. */
export const faultPresets: readonly FaultPreset[] = [
  {
    id: "outage",
    label: "503 for 8 s",
    hint: "every token request fails for 8 s: the status says Retrying while the cached token lasts, then Recovered after …",
    body: { failFor: { ms: 8_000, status: 503 } },
  },
  {
    id: "latency",
    label: "Add 1.5 s latency",
    hint: "every token request waits 1.5 s: refreshes take longer, the page stays Ready",
    body: { latencyMs: 1_500 },
  },
  {
    id: "rate-limit",
    label: "429 for 6 s (Retry-After 3 s)",
    hint: "the token server rate-limits: tok waits the Retry-After it was given before trying again",
    body: { failFor: { ms: 6_000, status: 429, retryAfterSeconds: 3 } },
  },
  {
    id: "drop",
    label: "Drop 3 connections",
    hint: "the next 3 token requests get no answer at all: tok retries them as network failures",
    body: { drop: 3 },
  },
  {
    id: "skew",
    label: "Skew the server's clock +1 h",
    hint: "iat and exp move an hour ahead: tok measures a lifetime as exp − iat on this page's clock, so nothing changes",
    body: { clockSkewSeconds: 3_600 },
  },
]

/** `POST /__tok/faults` with `body` (or `DELETE` with `null`); resolves the faults in force. */
export const setFaults = async (
  config: DemoConfig,
  body: Readonly<Record<string, unknown>> | null,
  fetchFn: Fetch = fetch,
): Promise<Record<string, unknown>> => {
  const res = await fetchFn(`${config.tokenServer}/__tok/faults`, {
    method: body === null ? "DELETE" : "POST",
    ...(body === null
      ? {}
      : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  })
  if (!res.ok) throw new Error(`the token server's admin API answered HTTP ${res.status}`)
  return (await res.json().catch(() => ({}))) as Record<string, unknown>
}

/** The faults in force, in words: "503 for 6.2 s, until 14:03:07 · 1500 ms latency", or "none". */
export const describeFaults = (faults: Record<string, unknown>, now = Date.now()): string => {
  const parts: string[] = []
  const failFor = faults.failFor as { status: number; remainingMs: number } | null | undefined
  // The window's end as a time of day: it stays true while the line is shown
  // (a "n s more" would be stale a second later).
  if (failFor) {
    const until = new Date(now + failFor.remainingMs).toLocaleTimeString("en-GB")
    parts.push(`${failFor.status} for ${(failFor.remainingMs / 1000).toFixed(1)} s, until ${until}`)
  }
  const fail = faults.fail as { status: number; count: number } | null | undefined
  if (fail && fail.count > 0) parts.push(`${fail.status} for the next ${fail.count} requests`)
  if (typeof faults.latencyMs === "number" && faults.latencyMs > 0)
    parts.push(`${faults.latencyMs} ms latency`)
  if (typeof faults.drop === "number" && faults.drop > 0)
    parts.push(`${faults.drop} connections to drop`)
  if (typeof faults.clockSkewSeconds === "number" && faults.clockSkewSeconds !== 0)
    parts.push(`clock ${faults.clockSkewSeconds > 0 ? "+" : ""}${faults.clockSkewSeconds} s`)
  return parts.length === 0 ? "none" : parts.join(" · ")
}

/** What a "1,000 callers" run measured. */
export interface CallersResult {
  readonly callers: number
  /** Token requests the burst started (one is the claim). */
  readonly requests: number
  /** Milliseconds until every caller of the cold burst had its token. */
  readonly coldMs: number
  /** Microseconds per call of a second burst, answered from the cache. */
  readonly hitMicros: number
}

let burst = 0

/**
 * `callers` concurrent `getToken()` calls for a key nobody has asked for yet
 * (an organization of its own, so the page's own token is not touched),
 * counting the token requests they cause from the client's events; then as
 * many again, answered from the cache, timed per call.
 */
export const thousandCallers = async (
  client: Pick<TokClient, "getToken" | "events">,
  callers = 1_000,
): Promise<CallersResult> => {
  const organizationId = `org_callers_${Date.now().toString(36)}_${++burst}`
  let requests = 0
  const stop = client.events.subscribe((event: TokenEvent) => {
    if (event.type === "request-started" && event.key.organizationId === organizationId) requests++
  })
  try {
    const started = performance.now()
    await Promise.all(Array.from({ length: callers }, () => client.getToken({ organizationId })))
    const coldMs = performance.now() - started
    const hot = performance.now()
    await Promise.all(Array.from({ length: callers }, () => client.getToken({ organizationId })))
    const hitMicros = ((performance.now() - hot) * 1000) / callers
    return { callers, requests, coldMs, hitMicros }
  } finally {
    stop()
  }
}

/** A run in words: "1,000 callers → 1 token request, all answered in 42 ms; from the cache: 1.3 µs a call". */
export const describeCallers = (result: CallersResult): string =>
  `${result.callers.toLocaleString("en-US")} concurrent callers → ${result.requests} token request${
    result.requests === 1 ? "" : "s"
  }, all answered in ${Math.round(result.coldMs)} ms; ${result.callers.toLocaleString(
    "en-US",
  )} more from the cache: ${result.hitMicros.toFixed(1)} µs a call`

const el = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string>> = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] => {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(props)) {
    if (value !== undefined) element.setAttribute(name, value)
  }
  element.append(...children)
  return element
}

/** What the lab needs. */
export interface LabOptions {
  readonly config: DemoConfig
  readonly client: Pick<TokClient, "getToken" | "events">
  /** The adapter call that drives the page, as its source shows it. */
  readonly code: string
  /** Which adapter: "@tok/vue", … */
  readonly adapter: string
  readonly fetch?: Fetch
}

/**
 * Mounts the lab after the app's root (`#app`, or `app-root`) once, and
 * returns it.
 */
export const showLab = (options: LabOptions): HTMLElement => {
  const existing = document.querySelector<HTMLElement>(".lab")
  if (existing !== null) return existing
  const { config, client } = options

  const faultsLine = el("p", { "data-testid": "faults", "aria-live": "polite" }, "Faults: none")
  const faultHint = el("p", { class: "muted", "data-testid": "fault-hint" })
  const showFaults = (faults: Record<string, unknown>, hint?: string) => {
    faultsLine.textContent = `Faults in force: ${describeFaults(faults)}`
    if (hint !== undefined) faultHint.textContent = hint
  }
  let clearing: ReturnType<typeof setTimeout> | undefined
  const apply = async (body: Readonly<Record<string, unknown>> | null, hint?: string) => {
    try {
      showFaults(await setFaults(config, body, options.fetch), hint)
      // The window's end is the server's: read the faults again as it runs out.
      clearTimeout(clearing)
      const windowMs = (body?.failFor as { ms?: number } | undefined)?.ms
      if (windowMs !== undefined) {
        clearing = setTimeout(
          () =>
            void setFaults(config, {}, options.fetch).then(
              (faults) => showFaults(faults),
              () => undefined,
            ),
          windowMs + 100,
        )
      }
    } catch (error) {
      faultsLine.textContent = `Could not set the fault: ${error instanceof Error ? error.message : String(error)}`
    }
  }
  const buttons = faultPresets.map((preset) => {
    const button = el(
      "button",
      { type: "button", "data-testid": `fault-${preset.id}`, title: preset.hint },
      preset.label,
    )
    button.addEventListener("click", () => void apply(preset.body, preset.hint))
    return button
  })
  const clear = el(
    "button",
    { type: "button", class: "quiet", "data-testid": "fault-clear" },
    "Clear faults",
  )
  clear.addEventListener("click", () => void apply(null, ""))

  const callersResult = el("p", { "data-testid": "callers-result", "aria-live": "polite" })
  const callersButton = el("button", { type: "button", "data-testid": "callers" }, "1,000 callers")
  callersButton.addEventListener("click", async () => {
    callersButton.disabled = true
    callersResult.textContent = "1,000 getToken() calls at once…"
    try {
      const result = await thousandCallers(client)
      callersResult.dataset.requests = String(result.requests)
      callersResult.textContent = describeCallers(result)
    } catch (error) {
      delete callersResult.dataset.requests
      callersResult.textContent = `The callers got no token: ${
        error instanceof Error ? error.message : String(error)
      }`
    } finally {
      callersButton.disabled = false
    }
  })

  const lab = el(
    "div",
    { class: "page lab" },
    el(
      "section",
      { class: "card", "aria-labelledby": "lab-faults" },
      el("h2", { id: "lab-faults" }, "Break the token server"),
      el(
        "p",
        { class: "muted" },
        "Through its admin API (POST /__tok/faults). Watch the status above and the timeline below.",
      ),
      el("div", { class: "row" }, ...buttons, clear),
      faultsLine,
      faultHint,
    ),
    el(
      "section",
      { class: "card", "aria-labelledby": "lab-callers" },
      el("h2", { id: "lab-callers" }, "Single flight"),
      el(
        "p",
        { class: "muted" },
        "A thousand concurrent getToken() calls for a key nobody has asked for yet: tok makes one request and hands its token to all of them.",
      ),
      el("div", { class: "row" }, callersButton),
      callersResult,
    ),
    el(
      "section",
      { class: "card", "aria-labelledby": "lab-code" },
      el("h2", { id: "lab-code" }, `The code behind this page (${options.adapter})`),
      el(
        "pre",
        { "data-testid": "code", tabindex: "0", "aria-label": "The adapter calls" },
        el("code", {}, options.code.trim()),
      ),
    ),
  )
  const root = document.querySelector("#app, app-root")
  if (root !== null) root.after(lab)
  else document.body.append(lab)
  void fetch(`${config.tokenServer}/__tok/faults`).then(
    async (res) => (res.ok ? showFaults((await res.json()) as Record<string, unknown>) : undefined),
    () => undefined,
  )
  return lab
}
