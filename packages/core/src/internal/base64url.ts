/**
 * Decodes base64url (RFC 4648 §5) to a UTF-8 string with the platform's
 * `atob` (browsers, Node ≥ 16, workers), checked strictly first: only the
 * base64url alphabet, no padding, no whitespace. Returns `undefined` for
 * anything that is not valid base64url or not UTF-8. It runs once per token
 * received, on the cold path every caller waits on, so it leans on native
 * code rather than a loop in JavaScript.
 * @internal
 */
export const decodeBase64UrlToString = (input: string): string | undefined => {
  const length = input.length
  if (length === 0 || length % 4 === 1 || !BASE64URL.test(input)) return undefined
  const padded =
    input.replace(/-/g, "+").replace(/_/g, "/") +
    (length % 4 === 0 ? "" : "==".slice((length % 4) - 2))
  let binary: string
  try {
    binary = atob(padded)
  } catch {
    return undefined
  }
  // Most payloads are ASCII: the binary string is the text.
  if (!NON_ASCII.test(binary)) return binary
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  try {
    return (decoder ??= new TextDecoder("utf-8", { fatal: true })).decode(bytes)
  } catch {
    return undefined
  }
}

const BASE64URL = /^[A-Za-z0-9_-]*$/
// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/

let decoder: TextDecoder | undefined
