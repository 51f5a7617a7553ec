/**
 * RFC 7396 JSON Merge Patch, applied copy-on-write: objects along a changed
 * path are new, everything else is shared with the previous state, so a
 * display can compare references to see what changed.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7396#section-2
 */

/** A JSON object as a merge patch or a state holds it. */
export type JsonRecord = { [key: string]: unknown }

/**
 * A merge patch of a document of type `T`: any member may be absent, `null`
 * (delete it) or a patch of its own; arrays and primitives are replaced whole.
 * A patch of `null` replaces the whole document (a reset, SPEC §4).
 */
export type MergePatch<T> = T extends readonly unknown[]
  ? T
  : T extends JsonRecord
    ? { [K in keyof T]?: MergePatch<T[K]> | null }
    : T

/** True for a JSON object (not null, not an array). */
export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function set(target: JsonRecord, key: string, value: unknown): void {
  // A "__proto__" member of parsed JSON is an own property; plain assignment would set the prototype.
  if (key === '__proto__') {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  } else {
    target[key] = value
  }
}

function copy(source: JsonRecord): JsonRecord {
  const out: JsonRecord = {}
  for (const key of Object.keys(source)) set(out, key, source[key])
  return out
}

/**
 * Applies `patch` to `target` as RFC 7396 §2 `MergePatch(Target, Patch)`
 * does: a non-object patch (null, an array, a primitive) replaces the
 * target; an object patch deletes its `null` members and merges the others
 * into the target (a non-object target counts as `{}`). Neither argument is
 * modified; unchanged subtrees are shared with `target`.
 *
 * @example
 * applyMergePatch({ a: 1, b: { c: 2 } }, { b: { c: null }, d: [1] }) // { a: 1, b: {}, d: [1] }
 */
export function applyMergePatch<T = unknown>(target: unknown, patch: unknown): T {
  if (!isRecord(patch)) return patch as T
  const base = isRecord(target) ? target : {}
  let out: JsonRecord | undefined
  for (const key of Object.keys(patch)) {
    const value = patch[key]
    const has = Object.hasOwn(base, key)
    if (value === null) {
      if (has) {
        out ??= copy(base)
        delete out[key]
      }
      continue
    }
    const before = has ? base[key] : undefined
    const after = applyMergePatch(before, value)
    if (!has || after !== before) {
      out ??= copy(base)
      set(out, key, after)
    }
  }
  return (out ?? base) as T
}
