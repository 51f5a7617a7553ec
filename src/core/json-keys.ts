/**
 * Object keys as they are written in JSON text, for the one check the
 * parsed value cannot make: `JSON.parse` keeps only the last of duplicate
 * keys (RFC 8259 §4 leaves duplicates to the parser), so in
 * `{"d":{"__proto__":{}},"d":1}` the forbidden key is gone before any walk
 * of the value sees it. SPEC §1 refuses forbidden keys anywhere in any input.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8259#section-4
 */
import { isForbiddenKey } from './validate.js'

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COLON = 0x3a

/**
 * True when `text` may spell a forbidden key: it holds `proto` (`__proto__`,
 * `prototype`), `constructor`, or a `\u` escape that could spell either.
 * Most bodies hold none of them, so {@link findForbiddenKey} costs them three
 * substring searches.
 */
export function mayHoldForbiddenKey(text: string): boolean {
  return text.includes('proto') || text.includes('constructor') || text.includes('\\u')
}

/**
 * The first object key of JSON text `text` that is a forbidden key
 * (`__proto__`, `constructor`, `prototype`) once its escapes are decoded,
 * duplicates included; `undefined` when there is none. Meant for text
 * `JSON.parse` accepted: a string token is a key exactly when the next
 * character after whitespace is `:`.
 */
export function findForbiddenKey(text: string): string | undefined {
  if (!mayHoldForbiddenKey(text)) return undefined
  const n = text.length
  let i = text.indexOf('"')
  while (i >= 0) {
    // i is an opening quote: find its closing one, skipping escaped characters.
    let end = i + 1
    let escaped = false
    while (end < n) {
      const c = text.charCodeAt(end)
      if (c === QUOTE) break
      if (c === BACKSLASH) {
        escaped = true
        end++
      }
      end++
    }
    if (end >= n) return undefined
    let next = end + 1
    while (next < n && isJsonWhitespace(text.charCodeAt(next))) next++
    if (text.charCodeAt(next) === COLON) {
      const key = escaped ? decode(text.slice(i, end + 1)) : text.slice(i + 1, end)
      if (key !== undefined && isForbiddenKey(key)) return key
    }
    i = text.indexOf('"', end + 1)
  }
  return undefined
}

/** RFC 8259 §2: space, tab, line feed, carriage return. */
function isJsonWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d
}

/** The value of one JSON string token (quotes included), or undefined when it is not one. */
function decode(token: string): string | undefined {
  try {
    return JSON.parse(token) as string
  } catch {
    return undefined
  }
}
