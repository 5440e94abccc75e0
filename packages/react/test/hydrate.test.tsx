import { act } from "@testing-library/react"
import { Suspense, type ReactNode } from "react"
import { hydrateRoot } from "react-dom/client"
import { renderToString } from "react-dom/server"
import { afterEach, describe, expect, it, vi } from "vitest"
import {
  createTokenClient,
  type TokClient,
  TokProvider,
  useSuspenseToken,
  useToken,
} from "@tok/react"
import { makeFakeSource } from "@tok/core/testing"
import { advance } from "./support.tsx"

afterEach(() => {
  vi.restoreAllMocks()
  vi.useRealTimers()
})

const Token = () => {
  const { status, token } = useToken({ template: "t" })
  return (
    <p>
      {status}:{token ?? "none"}
    </p>
  )
}
const SuspenseToken = () => {
  const { status, token } = useSuspenseToken({ template: "t" })
  return (
    <p>
      suspense {status}:{token ?? "none"}
    </p>
  )
}
const page = (client: TokClient): ReactNode => (
  <TokProvider client={client}>
    <Token />
    <Suspense fallback={<p>fallback</p>}>
      <SuspenseToken />
    </Suspense>
  </TokProvider>
)

describe("hydration", () => {
  it("matches the server's HTML without a warning, then shows the browser's token", async () => {
    vi.useFakeTimers()
    // The server knows no session (it would render "signed-out" if it showed its own state)…
    const server = createTokenClient({ source: makeFakeSource().layer, session: null })
    const html = renderToString(page(server))
    await server.dispose()

    // …and the browser's client holds a token already: hydration renders what the server did.
    const source = makeFakeSource()
    const client = createTokenClient({ source: source.layer, session: "sess_1" })
    await client.getToken({ template: "t" })
    const container = document.createElement("div")
    container.innerHTML = html
    document.body.append(container)
    const errors = vi.spyOn(console, "error")
    const warnings = vi.spyOn(console, "warn")
    const recoverable = vi.fn()
    const root = await act(async () =>
      hydrateRoot(container, page(client), { onRecoverableError: recoverable }),
    )
    expect(recoverable).not.toHaveBeenCalled()
    expect(errors).not.toHaveBeenCalled()
    expect(warnings).not.toHaveBeenCalled()
    expect(source.requests).toHaveLength(1)

    await advance(0)
    const text = container.textContent ?? ""
    expect(text).toMatch(/^ready:ey.*suspense ready:ey/)
    expect(source.requests).toHaveLength(1)
    expect(recoverable).not.toHaveBeenCalled()
    expect(errors).not.toHaveBeenCalled()

    act(() => root.unmount())
    container.remove()
    await client.dispose()
  })
})
