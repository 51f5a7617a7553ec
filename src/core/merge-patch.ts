/**
 * The RFC 7396 JSON Merge Patch engine.
 *
 * `applyPatch` applies a patch in place and returns its *effect*: the effective
 * patch (only what really changed, so a no-op makes no revision and no event)
 * and its inverse (the old values it replaced). Old subtrees are detached, not
 * copied, so the inverse costs no copy of the tree.
 *
 * `compose` folds two effects into one exact patch. Plain RFC 7396 patches
 * cannot always be composed (a key set to a non-object, then to an object:
 * the second patch lands on "nothing" and must clear whatever the client had
 * there); the inverse of the first patch knows what that was, so `compose`
 * falls back to a diff against it and stays exact.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7396
 */
import {
  deepEqual,
  diff,
  isObject,
  type Json,
  type JsonObject,
  stripNulls,
  wholeValue,
} from './json.js'

/** What a patch changed: the effective patch and the patch that undoes it. */
export interface Effect {
  /** RFC 7396 patch holding only real changes. */
  readonly patch: Json
  /** RFC 7396 patch that restores the old document (old values, `null` for added keys). */
  readonly inverse: Json
}

/** Called for every object of the document that a write created or changed inside. */
export type MarkChanged = (object: JsonObject) => void

const noMark: MarkChanged = () => {}

/**
 * Applies `patch` to `doc` (RFC 7396 §2), mutating `doc` where it is an object.
 * `undefined` stands for "no document". Returns the new document and the
 * effect, or no effect when nothing changed. The document never shares
 * objects with the patch or the effect; arrays are shared (they are values
 * and nothing mutates them).
 */
export function applyPatch(
  doc: Json | undefined,
  patch: Json,
  mark: MarkChanged = noMark,
): { doc: Json | undefined; effect?: Effect } {
  if (!isObject(patch)) {
    const next = patch === null ? undefined : patch
    if (deepEqual(doc, next)) return { doc }
    return { doc: next, effect: { patch, inverse: doc === undefined ? null : doc } }
  }
  if (!isObject(doc)) {
    return {
      doc: materialize(patch, mark),
      effect: { patch: stripNulls(patch), inverse: doc === undefined ? null : doc },
    }
  }
  const effect = mergeInto(doc, patch, mark)
  return effect ? { doc, effect } : { doc }
}

function mergeInto(target: JsonObject, patch: JsonObject, mark: MarkChanged): Effect | undefined {
  let out: JsonObject | undefined
  let inv: JsonObject | undefined
  for (const key in patch) {
    const value = patch[key]!
    const has = Object.hasOwn(target, key)
    const old = has ? target[key]! : undefined
    if (value === null) {
      if (!has) continue
      delete target[key]
      out ??= {}
      inv ??= {}
      out[key] = null
      inv[key] = old!
    } else if (isObject(value)) {
      if (isObject(old)) {
        const sub = mergeInto(old, value, mark)
        if (!sub) continue
        out ??= {}
        inv ??= {}
        out[key] = sub.patch
        inv[key] = sub.inverse
      } else {
        target[key] = materialize(value, mark)
        out ??= {}
        inv ??= {}
        out[key] = stripNulls(value)
        inv[key] = has ? old! : null
      }
    } else {
      if (has && deepEqual(old, value)) continue
      target[key] = value
      out ??= {}
      inv ??= {}
      out[key] = value
      inv[key] = has ? old! : null
    }
  }
  if (!out) return undefined
  mark(target)
  return { patch: out, inverse: inv! }
}

/** A fresh copy of `value` for the document: nulls dropped, every new object marked. */
function materialize(value: JsonObject, mark: MarkChanged): JsonObject {
  const out: JsonObject = {}
  for (const key in value) {
    const member = value[key]!
    if (member === null) continue
    out[key] = isObject(member) ? materialize(member, mark) : member
  }
  mark(out)
  return out
}

/**
 * One patch equal to applying `first` then `second`, given `firstInverse`
 * (the inverse of `first`, needed where RFC 7396 composition is impossible).
 * Never mutates its arguments; the result may share their parts.
 */
export function compose(first: Json, firstInverse: Json, second: Json): Json {
  if (!isObject(second)) return second
  if (!isObject(first)) {
    // `first` left a non-object here, so `second` lands on nothing and the
    // result is exactly stripNulls(second); the client still holds the value
    // from before `first`, which the inverse gives in full.
    const before = wholeValue(firstInverse)
    const after = stripNulls(second)
    return isObject(before) ? diff(before, after) : after
  }
  const out: JsonObject = { ...first }
  const inv = isObject(firstInverse) ? firstInverse : undefined
  for (const key in second) {
    out[key] = Object.hasOwn(first, key)
      ? compose(first[key]!, inv?.[key] ?? null, second[key]!)
      : second[key]!
  }
  return out
}

/** Folds two consecutive effects into one exact effect. */
export function composeEffects(first: Effect, second: Effect): Effect {
  return {
    patch: compose(first.patch, first.inverse, second.patch),
    inverse: compose(second.inverse, second.patch, first.inverse),
  }
}
