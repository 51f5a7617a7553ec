/**
 * The load generator's own RFC 7396 fold and a JSON deep equality, so a
 * client's state is checked by code that shares nothing with the server's
 * merge engine (src/core/merge-patch.ts).
 *
 * @see https://www.rfc-editor.org/rfc/rfc7396#section-2
 */

/** A JSON value. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue }

function isObject(x: JsonValue | undefined): x is { [key: string]: JsonValue } {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

/** MergePatch(target, patch) of RFC 7396 §2; `target` is not modified. */
export function mergePatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isObject(patch)) return patch
  const out: { [key: string]: JsonValue } = isObject(target) ? { ...target } : {}
  for (const key of Object.keys(patch)) {
    const value = patch[key]!
    if (value === null) delete out[key]
    else out[key] = mergePatch(out[key], value)
  }
  return out
}

/** Whether `a` and `b` are the same JSON value (object key order ignored). */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    return a.every((x, i) => jsonEqual(x, b[i]))
  }
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  return keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]))
}
