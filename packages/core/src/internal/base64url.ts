/**
 * Decodes base64url (RFC 4648 §5) to a UTF-8 string without `Buffer` or
 * `atob`, so it behaves the same in browsers, Node and workers.
 * Returns `undefined` for anything that is not valid base64url.
 * @internal
 */
export const decodeBase64UrlToString = (input: string): string | undefined => {
  if (input.length === 0 || input.length % 4 === 1) return undefined
  const bytes = new Uint8Array(Math.floor((input.length * 3) / 4))
  let buffer = 0
  let bits = 0
  let out = 0
  for (let i = 0; i < input.length; i++) {
    const value = sextet(input.charCodeAt(i))
    if (value < 0) return undefined
    buffer = (buffer << 6) | value
    bits += 6
    if (bits >= 8) {
      bits -= 8
      bytes[out++] = (buffer >> bits) & 0xff
    }
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, out))
  } catch {
    return undefined
  }
}

const sextet = (code: number): number => {
  if (code >= 65 && code <= 90) return code - 65 // A-Z
  if (code >= 97 && code <= 122) return code - 71 // a-z
  if (code >= 48 && code <= 57) return code + 4 // 0-9
  if (code === 45) return 62 // -
  if (code === 95) return 63 // _
  return -1
}
