/**
 * The view of one permission class (SPEC §8): what readers with the same
 * {@link Permissions} see of the tree and of each change, so the hub filters
 * a change once per (path, view), never per client.
 *
 * The filtered document: a value that is not an object is kept when it may
 * be read ({@link Permissions.grant}); an object is kept, with its filtered
 * members (possibly `{}`), when {@link Permissions.holds} says so, which
 * depends on the ACLs only. That is what lets {@link AclView.scope} filter a
 * change from its patch and inverse alone (walking the patch, never the
 * tree) and keep the §4 invariant for the visible part: applying the
 * filtered patches in order to the filtered snapshot gives the filtered
 * document. Where a patch replaces a value (a non-object member, or an
 * object landing where there was none), the old and the new value are
 * filtered separately and the filtered patch takes one to the other.
 *
 * `sources` resources make a leaf's rights depend on its `$source`; then the
 * view reads the current tree through a {@link Lookup} (the `$source` of a
 * leaf a patch merges into without changing it, the members of a leaf whose
 * `$source` changed). The tree must be at the state after the effect being
 * scoped, as it is when the hub publishes and when history catches up.
 * Limitation: a stream whose path names a position *inside* a leaf (its
 * `value`, or a wildcard path that names `value` below the leaf) does not
 * see a change of the leaf's `$source` alone (the hub's scoping does not
 * pass it on); what it may read is re-decided at the next change of that
 * position. Paths at or above leaves, the usual ones, are exact.
 */
import {
  deepEqual,
  diff,
  isEmptyObject,
  isObject,
  type Json,
  type JsonObject,
  wholeValue,
} from '../core/json.js'
import type { Effect } from '../core/merge-patch.js'
import { project, type TreePath, WILDCARD } from '../core/path.js'
import type { View } from '../core/view.js'
import {
  childSource,
  isLeafLevel,
  type Permissions,
  type Position,
  READ,
  type SourceContext,
  sourceOf,
} from './acl.js'

/** Reads the current tree at `segments` (keys from the root); needed by `sources` resources only. */
export type Lookup = (segments: readonly string[]) => Json | undefined

const noLookup: Lookup = () => undefined

/** A {@link View} of one permission class. */
export class AclView implements View {
  /** `full` for readers who read everything (no ACLs), so they share the full view's work. */
  readonly key: string
  /** True when there are no ACLs: no filtering (SPEC §8). */
  readonly full: boolean
  private readonly tops = new WeakMap<TreePath, { pos: Position; sources: boolean }>()

  /**
   * @param permissions what the readers may read ({@link compileAcl})
   * @param lookup the current tree, read where `sources` resources need a leaf's `$source`
   */
  constructor(
    readonly permissions: Permissions,
    private readonly lookup: Lookup = noLookup,
  ) {
    this.full = permissions.readsAll
    this.key = this.full ? 'full' : permissions.key
  }

  /** The part of `doc` (read at `path`; for a wildcard path, rooted at its prefix) the readers may read. */
  read(path: TreePath, doc: Json | undefined): Json | undefined {
    if (this.full || doc === undefined) return doc
    const walk = new Walk(this.permissions, this.lookup, path)
    const { pos, src } = this.top(path, walk)
    return walk.filter(pos, src, doc)
  }

  /** The change `effect` (scoped to `path`) as the readers see it; undefined when they see none of it. */
  scope(path: TreePath, effect: Effect): Effect | undefined {
    if (this.full) return effect
    const walk = new Walk(this.permissions, this.lookup, path)
    const { pos, src } = this.top(path, walk)
    const scoped = walk.scope(pos, src, src, effect.patch, effect.inverse)
    return scoped && { patch: scoped[0], inverse: scoped[1] }
  }

  /** The position of the document read at `path`, and the source context there. */
  private top(path: TreePath, walk: Walk): { pos: Position; src: SourceContext } {
    const perm = this.permissions
    const { segments } = path
    const end = path.starAt < 0 ? segments.length : path.starAt
    for (let i = 0; i < end; i++) walk.abs.push(segments[i]!)
    let top = this.tops.get(path)
    if (top !== undefined && !top.sources) return { pos: top.pos, src: undefined }
    let pos = perm.root()
    let src: SourceContext
    let sources = false
    for (let i = 0; i < end; i++) {
      if (perm.sourcesMatter(pos)) {
        sources = true
        const node = isLeafLevel(pos) ? this.lookup(walk.abs.slice(0, i)) : undefined
        src = childSource(src, sourceOf(node), segments[i]!)
      }
      pos = perm.child(pos, segments[i]!)
    }
    top = { pos, sources: sources || perm.sourcesMatter(pos) }
    this.tops.set(path, top)
    return { pos, src }
  }
}

/** One filtering walk below the document of a path; `abs` holds the keys from the root. */
class Walk {
  readonly abs: string[] = []
  private readonly segments: readonly string[]
  private readonly wildcard: boolean

  constructor(
    private readonly perm: Permissions,
    private readonly lookup: Lookup,
    path: TreePath,
  ) {
    this.segments = path.segments
    this.wildcard = path.starAt >= 0
  }

  /** The part of `value` (at `pos`, governed by `src`) the readers may read. */
  filter(pos: Position, src: SourceContext, value: Json | undefined): Json | undefined {
    if (value === undefined) return undefined
    if (pos.fixed >= 0) return (pos.fixed & READ) !== 0 ? value : undefined
    const perm = this.perm
    if (!isObject(value)) {
      return (perm.grant(pos, sourceText(src)) & READ) !== 0 ? value : undefined
    }
    if (!perm.holds(pos)) return undefined
    const sources = perm.sourcesMatter(pos)
    const node = sources ? this.nodeSource(pos, value) : undefined
    const out: JsonObject = {}
    for (const key in value) {
      this.abs.push(key)
      const sub = this.filter(
        perm.child(pos, key),
        sources ? childSource(src, node, key) : undefined,
        value[key],
      )
      this.abs.pop()
      if (sub !== undefined) out[key] = sub
    }
    return out
  }

  /**
   * The filtered patch and inverse of a change at `pos` (`srcBefore`/`srcAfter`:
   * the source context before and after it); undefined when the readers see
   * no change.
   */
  scope(
    pos: Position,
    srcBefore: SourceContext,
    srcAfter: SourceContext,
    patch: Json,
    inverse: Json,
  ): [Json, Json] | undefined {
    if (pos.fixed >= 0) return (pos.fixed & READ) !== 0 ? [patch, inverse] : undefined
    if (!isObject(patch) || !isObject(inverse)) {
      // A replaced value: filter the old and the new value separately.
      const before = this.filter(pos, srcBefore, wholeValue(inverse))
      const after = this.filter(pos, srcAfter, wholeValue(patch))
      const forward = transition(before, after)
      return forward === undefined ? undefined : [forward, transition(after, before) ?? null]
    }
    const perm = this.perm
    if (!perm.holds(pos)) return undefined
    const sources = perm.sourcesMatter(pos)
    let nodeBefore: string | undefined
    let nodeAfter: string | undefined
    if (sources && isLeafLevel(pos)) {
      if (this.whole() && Object.hasOwn(patch, '$source')) {
        nodeAfter = sourceOf(patch)
        nodeBefore = sourceOf(inverse)
      } else {
        nodeAfter = nodeBefore = sourceOf(this.lookup(this.abs))
      }
    }
    let out: JsonObject | undefined
    let inv: JsonObject | undefined
    for (const key in patch) {
      this.abs.push(key)
      const sub = this.scope(
        perm.child(pos, key),
        sources ? childSource(srcBefore, nodeBefore, key) : undefined,
        sources ? childSource(srcAfter, nodeAfter, key) : undefined,
        patch[key]!,
        inverse[key] ?? null,
      )
      this.abs.pop()
      if (sub !== undefined) {
        out ??= {}
        inv ??= {}
        out[key] = sub[0]
        inv[key] = sub[1]
      }
    }
    if (sources && (srcBefore !== srcAfter || nodeBefore !== nodeAfter)) {
      // Members the patch left alone change rights with the source: read them from the tree.
      const node = this.lookup(this.abs)
      if (isObject(node)) {
        const depth = this.abs.length
        const segment = this.projected() ? this.segments[depth] : undefined
        for (const key in node) {
          if (Object.hasOwn(patch, key)) continue
          if (segment !== undefined && segment !== WILDCARD && segment !== key) continue
          const value =
            segment === undefined ? node[key] : project(node[key], this.segments, depth + 1)
          const before = childSource(srcBefore, nodeBefore, key)
          const after = childSource(srcAfter, nodeAfter, key)
          if (value === undefined || before === after) continue
          const child = perm.child(pos, key)
          this.abs.push(key)
          const old = this.filter(child, before, value)
          const now = this.filter(child, after, value)
          this.abs.pop()
          const forward = transition(old, now)
          if (forward === undefined) continue
          out ??= {}
          inv ??= {}
          out[key] = forward
          inv[key] = transition(now, old) ?? null
        }
      }
    }
    return out === undefined ? undefined : [out, inv!]
  }

  /** The `$source` of the leaf `value` at `pos`, if it is one. */
  private nodeSource(pos: Position, value: JsonObject): string | undefined {
    if (!isLeafLevel(pos)) return undefined
    // Inside a wildcard path's projection, a leaf's `$source` may have been projected away.
    return sourceOf(this.whole() ? value : this.lookup(this.abs))
  }

  /** True when the members of the node at `abs` are whole (not cut by a wildcard path's projection). */
  private whole(): boolean {
    const depth = this.abs.length
    if (!this.wildcard || depth >= this.segments.length) return true
    return depth === this.segments.length - 1 && this.segments[depth] === WILDCARD
  }

  /** True inside a wildcard path's projection (above its last segment). */
  private projected(): boolean {
    return this.wildcard && this.abs.length < this.segments.length
  }
}

function sourceText(src: SourceContext): string | undefined {
  return typeof src === 'string' ? src : undefined
}

/** The merge patch from one whole value to another; undefined stands for "absent" and "no change". */
function transition(before: Json | undefined, after: Json | undefined): Json | undefined {
  if (after === undefined) return before === undefined ? undefined : null
  if (before === undefined || !isObject(before) || !isObject(after)) {
    return deepEqual(before, after) ? undefined : after
  }
  const d = diff(before, after) as JsonObject
  return isEmptyObject(d) ? undefined : d
}
