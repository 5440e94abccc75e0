/** A Clerk-style key (`sk_live_…`, `sk_test_…`, …), wherever it appears. */
const SECRET_KEY = /(sk|pk|rk)_(live|test)_[\w-]+/

/**
 * Removes anything shaped like a JWT (three base64url segments, the first two
 * starting with `eyJ`, the encoding of `{"`) or a bearer secret from text that
 * came from outside, before it can reach an error message or a log line.
 * @internal
 */
export const redact = (text: string): string =>
  text
    .replace(/eyJ[\w-]*\.[\w-]*(?:\.[\w-]*)?/g, "[redacted jwt]")
    .replace(new RegExp(SECRET_KEY.source, "g"), "[redacted key]")
    .slice(0, 300)

/**
 * Keeps a server's error code only if it looks like one (`session_not_found`):
 * short, plain characters, neither a JWT nor a key. @internal
 */
export const sanitizeCode = (code: unknown): string | undefined =>
  typeof code === "string" &&
  /^[A-Za-z0-9_.-]{1,64}$/.test(code) &&
  !code.includes("eyJ") &&
  !SECRET_KEY.test(code)
    ? code
    : undefined

/** A name from the input, quoted and cut to 80 characters, for a message. */
export const quoted = (s: string): string =>
  JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s)
