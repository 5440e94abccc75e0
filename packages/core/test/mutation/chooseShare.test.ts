/**
 * Which share a client picks (DESIGN §7): tabs share only with both a
 * channel and locks (one carries tokens, the other picks the tab that
 * fetches), and only under a name — the option's, or the source's id — so
 * two apps on one origin never mix. Found by the mutation run: no test gave
 * half of the two, or no name.
 */
import { describe, expect, it } from "vitest"
import { createTokenClient, fromFunction } from "@tok/core"
import { fakeJwt, makeFakeSource, makeShareHub } from "@tok/core/testing"

const SESSION = "sess_choose"

describe("choosing a share", () => {
  it("a channel without locks shares nothing: no tab could be picked to fetch", async () => {
    const hub = makeShareHub()
    const source = makeFakeSource({ lifetimeSeconds: 60 })
    const tok = createTokenClient({
      source: source.layer,
      session: SESSION,
      share: { name: "app", channel: hub.channel },
    })
    await tok.getToken()
    expect(hub.posted).toEqual([])
    expect(await tok.peers()).toBe(1)
    await tok.dispose()
  })

  it("a channel and locks with a name share (the control for the cases around it)", async () => {
    const hub = makeShareHub()
    const source = makeFakeSource({ lifetimeSeconds: 60 })
    const tok = createTokenClient({
      source: source.layer,
      session: SESSION,
      share: { name: "app", channel: hub.channel, locks: hub.locks },
    })
    await tok.getToken()
    expect(hub.posted.length).toBeGreaterThan(0)
    await tok.dispose()
  })

  it("without a name, and a source without an id, tabs share nothing: two apps could mix", async () => {
    const hub = makeShareHub()
    const source = fromFunction(async (request) => {
      const iat = Math.floor(Date.now() / 1000)
      return fakeJwt({ sid: request.sessionId, iat, exp: iat + 60 })
    })
    const tok = createTokenClient({
      source,
      session: SESSION,
      share: { channel: hub.channel, locks: hub.locks },
    })
    await tok.getToken()
    expect(hub.posted).toEqual([])
    expect(await tok.peers()).toBe(1)
    await tok.dispose()
  })
})
