/**
 * Scoping a change to one path: the merge patch that takes what a reader of
 * that path had to what it has now (SPEC §4 "scoped to the path").
 *
 * It needs no tree: the effect's patch and inverse carry the new and old
 * values wherever a value was replaced, which is exactly where scoping has to
 * look at whole values (a parent deleted, a wildcard branch that starts or
 * stops matching).
 */
import {
  deepEqual,
  diff,
  isEmptyObject,
  isObject,
  type Json,
  type JsonObject,
  wholeValue,
} from './json.js'
import type { Effect } from './merge-patch.js'
import { getAt, project, type TreePath, WILDCARD } from './path.js'

/** The effect of a change as seen from `path`, or undefined when it does not touch it. */
export function scopeEffect(effect: Effect, path: TreePath): Effect | undefined {
  if (path.segments.length === 0) return effect
  const patch = scopePatch(effect.patch, effect.inverse, path)
  if (patch === undefined) return undefined
  // The inverse touches the path whenever the patch does; `null` is a real inverse ("absent").
  const inverse = scopePatch(effect.inverse, effect.patch, path)
  return { patch, inverse: inverse === undefined ? {} : inverse }
}

/** The patch for the document read at `path`, given a root patch and its inverse. */
function scopePatch(patch: Json, inverse: Json, path: TreePath): Json | undefined {
  const { segments, starAt } = path
  const end = starAt < 0 ? segments.length : starAt
  let p = patch
  let inv = inverse
  for (let i = 0; i < end; i++) {
    if (!isObject(p) || !isObject(inv)) {
      return transition(docOf(wholeValue(inv), path, i), docOf(wholeValue(p), path, i))
    }
    const key = segments[i]!
    if (!Object.hasOwn(p, key)) return undefined
    p = p[key]!
    inv = inv[key] ?? null
  }
  if (starAt < 0) return p
  if (!isObject(p) || !isObject(inv)) {
    return transition(docOf(wholeValue(inv), path, end), docOf(wholeValue(p), path, end))
  }
  return projectPatch(p, inv, segments, starAt)
}

/** The document a reader of `path` sees, given the node at `segments[0..from)`. */
function docOf(node: Json | undefined, path: TreePath, from: number): Json | undefined {
  const { segments, starAt } = path
  if (starAt < 0) return getAt(node, segments, from)
  const prefix = getAt(node, segments, from, starAt)
  if (prefix === undefined) return undefined
  return project(prefix, segments, starAt) ?? {}
}

/**
 * The patch below a node that was an object both before and after the change,
 * read through `segments[from..]` (which starts with a key or `*`).
 */
function projectPatch(
  p: JsonObject,
  inv: JsonObject,
  segments: readonly string[],
  from: number,
): Json | undefined {
  const key = segments[from]!
  if (key === WILDCARD) {
    let out: JsonObject | undefined
    for (const k in p) {
      const sub = projectChild(p[k]!, inv[k] ?? null, segments, from + 1)
      if (sub !== undefined) {
        out ??= {}
        out[k] = sub
      }
    }
    return out
  }
  if (!Object.hasOwn(p, key)) return undefined
  const sub = projectChild(p[key]!, inv[key] ?? null, segments, from + 1)
  // Below a named key the node matches only through its child: when the
  // child stops matching, the whole branch leaves the reader's document.
  if (sub === undefined || sub === null) return sub
  return { [key]: sub }
}

function projectChild(
  p: Json,
  inv: Json,
  segments: readonly string[],
  from: number,
): Json | undefined {
  if (from === segments.length) return p
  if (!isObject(p) || !isObject(inv)) {
    return transition(
      project(wholeValue(inv), segments, from),
      project(wholeValue(p), segments, from),
    )
  }
  return projectPatch(p, inv, segments, from)
}

/** The patch from one whole value to another; undefined stands for "absent". */
function transition(before: Json | undefined, after: Json | undefined): Json | undefined {
  if (after === undefined) return before === undefined ? undefined : null
  if (before === undefined || !isObject(before) || !isObject(after)) {
    return deepEqual(before, after) ? undefined : after
  }
  const d = diff(before, after)
  return isObject(d) && isEmptyObject(d) ? undefined : d
}
