/**
 * Fakes for the demo apps' own page tests: a config, JWTs as the dev token
 * server signs them, and that server's routes the page calls, behind `fetch`.
 * @module
 */
import { parseConfig, type DemoConfig } from "./demo.ts"

/** A config whose token server and demo-api are never reached. */
export const testConfig: DemoConfig = parseConfig({
  tokenServer: "http://127.0.0.1:9",
  api: "http://127.0.0.1:8",
  templates: ["supabase", "hasura"],
})

const base64url = (value: unknown) =>
  btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "")

/** A JWT for a session (and template) as the token server signs it; the page never checks signatures. */
export const jwtFor = (sessionId: string, template?: string): string => {
  const iat = Math.floor(Date.now() / 1000)
  const claims = { sub: "user_alice", sid: sessionId, iat, exp: iat + 60, tpl: template }
  return `${base64url({ alg: "RS256" })}.${base64url(claims)}.c2ln`
}

/** A `fetch` answering the token server's routes, and the calls it saw. */
export interface FakeTokenServer {
  /** Sign-in answers session `sess_1`; sign-out answers 200; the counters say 1 for `sess_1`, 2 in all. */
  readonly fetch: (url: string, init?: RequestInit) => Promise<Response>
  /** Every call, as `"METHOD url body"`, e.g. `"POST …/v1/client/sessions user_id=user_bob"`. */
  readonly calls: readonly string[]
}

/** The token server's sign-in, sign-out and counters, as the page calls them. */
export const fakeTokenServer = (): FakeTokenServer => {
  const calls: string[] = []
  const fetch = async (url: string, init?: RequestInit): Promise<Response> => {
    calls.push(
      `${init?.method ?? "GET"} ${url} ${typeof init?.body === "string" ? init.body : ""}`.trim(),
    )
    if (url.endsWith("/v1/client/sessions")) return Response.json({ id: "sess_1" })
    if (url.endsWith("/__tok/stats")) return Response.json({ tokenRequests: 2 })
    if (url.endsWith("/__tok/stats?session=sess_1")) {
      return Response.json({ session: "sess_1", tokenRequests: 1, tokensIssued: 1 })
    }
    return Response.json({})
  }
  return { fetch, calls }
}
