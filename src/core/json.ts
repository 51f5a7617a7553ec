/**
 * JSON value helpers shared by the tree, the merge-patch engine and scoping.
 * Objects here are always plain JSON objects; arrays are values (RFC 7396 §2).
 */

/** Any JSON value. `null` appears in patches (delete) and inside arrays, never as a tree member. */
export type Json = null | boolean | number | string | Json[] | JsonObject

/** A JSON object. */
export interface JsonObject {
  [key: string]: Json
}

/** True for a plain JSON object: not null, not an array. */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Structural equality of two JSON values (key order ignored). */
export function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false
    return true
  }
  if (Array.isArray(b)) return false
  let count = 0
  for (const key in a) {
    if (!Object.hasOwn(b, key) || !deepEqual(a[key], b[key])) return false
    count++
  }
  for (const _ in b) count--
  return count === 0
}

/**
 * A fresh copy of `value` with every object member that is `null` removed, at
 * any depth (what RFC 7396 leaves when a patch object lands on a non-object).
 * Arrays are values: shared, not copied, nulls inside them kept.
 */
export function stripNulls(value: Json): Json {
  if (!isObject(value)) return value
  const out: JsonObject = {}
  for (const key in value) {
    const member = value[key]!
    if (member !== null) out[key] = stripNulls(member)
  }
  return out
}

/** True when `value` holds a `null` object member at any depth. */
export function hasNullMember(value: Json): boolean {
  if (!isObject(value)) return false
  for (const key in value) {
    const member = value[key]!
    if (member === null || hasNullMember(member)) return true
  }
  return false
}

/** True for an object with no own keys. */
export function isEmptyObject(value: JsonObject): boolean {
  for (const _ in value) return false
  return true
}

/**
 * The merge patch that turns `from` into `to` (RFC 7396): `null` for keys
 * `to` lacks, recursion where both are objects, the new value elsewhere.
 * Both must be null-free. The result may share values with `to`.
 */
export function diff(from: Json, to: Json): Json {
  if (!isObject(from) || !isObject(to)) return to
  const out: JsonObject = {}
  for (const key in from) if (!Object.hasOwn(to, key)) out[key] = null
  for (const key in to) {
    const next = to[key]!
    if (!Object.hasOwn(from, key)) {
      out[key] = next
      continue
    }
    const prev = from[key]!
    if (isObject(prev) && isObject(next)) {
      const sub = diff(prev, next) as JsonObject
      if (!isEmptyObject(sub)) out[key] = sub
    } else if (!deepEqual(prev, next)) {
      out[key] = next
    }
  }
  return out
}

/**
 * The whole value a patch stands for where it replaces rather than merges:
 * `null` is "absent", an object loses its null members.
 */
export function wholeValue(patch: Json): Json | undefined {
  if (patch === null) return undefined
  return isObject(patch) ? stripNulls(patch) : patch
}
