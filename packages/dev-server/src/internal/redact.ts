/**
 * Keeping JWTs and keys out of logs and answers: what the server writes about
 * a request it was sent never repeats a token or a key in it.
 * @internal
 */

/** A run of the characters JWTs and keys are made of: base64url and dots. */
const tokenRun = /[A-Za-z0-9_.-]+/g
/** Where a secret key starts inside a run (at the start of a word). */
const keyStart = /(?<![A-Za-z0-9_])[sp]k_(?:test|live)_/
// eslint-disable-next-line no-control-regex
const controlCharacters = /[\u0000-\u001f\u007f]/g

/** A run from the first `eyJ` or key prefix to its end replaced; the run itself if it has neither. */
const redactRun = (run: string): string => {
  const jwt = run.indexOf("eyJ")
  const key = run.search(keyStart)
  if (jwt === -1 && key === -1) return run
  return jwt !== -1 && (key === -1 || jwt < key)
    ? `${run.slice(0, jwt)}[jwt]`
    : `${run.slice(0, key)}[key]`
}

/**
 * Removes anything that looks like a JWT or a secret key from text meant for a
 * log line, plus the server's own secret (`""`: none), and control characters;
 * cuts it to 300 characters. Exported for servers in front of the dev server.
 *
 * Linear in the length of the text: it is cut into maximal runs of base64url
 * characters and dots (each character is read once), and in each run everything
 * from the first `eyJ` (a JWT: base64url of `{"`) or `sk_`/`pk_` key prefix to the
 * run's end is replaced; no pattern ever backtracks over a run.
 * @example
 * redact(`/api/${jwt}`, "") // "/api/[jwt]"
 */
export const redact = (text: string, secret: string): string => {
  const out = (secret === "" ? text : text.split(secret).join("[secret]"))
    .replace(tokenRun, redactRun)
    .replace(controlCharacters, "?")
  return out.length > 300 ? `${out.slice(0, 300)}…` : out
}

/** Whether `text` holds anything {@link redact} would take out as a JWT or key (linear too). */
export const holdsToken = (text: string): boolean => {
  for (const [run] of text.matchAll(tokenRun)) if (redactRun(run) !== run) return true
  return false
}
