/**
 * Writes under ACLs (SPEC §8): a write touching any position the writer may
 * not write is refused whole. {@link checkWrite} names the first such
 * position, for a 403 that says which path was refused.
 *
 * A root merge patch (RFC 7396) touches each position where it sets a value
 * that is not an object, or `null`; an object member touches the keys inside
 * it, and itself only when it is empty and no object was there (it creates
 * `{}`). Containers on the way are not touched, so `navigation.*` write lets
 * a patch create `navigation` to reach `navigation.speedOverGround`. Given
 * the current tree, a value deleted or replaced by the patch also touches
 * every value below it, each governed by its own `$source`; a touched value
 * is governed by its leaf's `$source` after the write (the one the patch sets,
 * else the current one), as signalk-server checks a delta's values against
 * the delta's source.
 */
import { isEmptyObject, isObject, type Json, type JsonObject } from '../core/json.js'
import {
  childSource,
  isLeafLevel,
  type Permissions,
  type Position,
  type SourceContext,
  sourceOf,
  WRITE,
} from './acl.js'

/**
 * The first position (keys from the root) that `rootPatch` touches and
 * `permissions` may not write; undefined when the whole write is allowed.
 * `root` is the current tree: without it, deleted and replaced values are
 * checked at the patched position only, and `sources` resources see only the
 * `$source` the patch itself sets.
 */
export function checkWrite(
  permissions: Permissions,
  rootPatch: JsonObject,
  root?: Json,
): string[] | undefined {
  if (permissions.writesAll) return undefined
  const keys: string[] = []
  return walkPatch(permissions, permissions.root(), undefined, rootPatch, root, keys)
    ? [...keys]
    : undefined
}

/** True when a refused position was found; `keys` then holds it. */
function walkPatch(
  perm: Permissions,
  pos: Position,
  src: SourceContext,
  patch: JsonObject,
  old: Json | undefined,
  keys: string[],
): boolean {
  if (pos.fixed >= 0 && (pos.fixed & WRITE) !== 0) return false
  const sources = perm.sourcesMatter(pos)
  const leaf =
    sources && isLeafLevel(pos)
      ? Object.hasOwn(patch, '$source')
        ? sourceOf(patch)
        : sourceOf(old)
      : undefined
  for (const key in patch) {
    const value = patch[key]!
    const child = perm.child(pos, key)
    const childSrc = sources ? childSource(src, leaf, key) : undefined
    const was = isObject(old) && Object.hasOwn(old, key) ? old[key] : undefined
    keys.push(key)
    if (isObject(value)) {
      const replaces = was !== undefined && !isObject(was)
      if (replaces || (was === undefined && isEmptyObject(value))) {
        if (!writable(perm, child, childSrc)) return true
      }
      if (walkPatch(perm, child, childSrc, value, isObject(was) ? was : undefined, keys)) {
        return true
      }
    } else {
      if (!writable(perm, child, childSrc)) return true
      if (isObject(was) && walkOld(perm, child, childSrc, was, keys)) return true
    }
    keys.pop()
  }
  return false
}

/** True when a value below `value` (an object the write deletes or replaces) may not be written. */
function walkOld(
  perm: Permissions,
  pos: Position,
  src: SourceContext,
  value: JsonObject,
  keys: string[],
): boolean {
  if (pos.fixed >= 0) return (pos.fixed & WRITE) === 0 && !isEmptyObject(value)
  const sources = perm.sourcesMatter(pos)
  const leaf = sources && isLeafLevel(pos) ? sourceOf(value) : undefined
  for (const key in value) {
    const member = value[key]!
    const child = perm.child(pos, key)
    const childSrc = sources ? childSource(src, leaf, key) : undefined
    keys.push(key)
    if (
      isObject(member)
        ? walkOld(perm, child, childSrc, member, keys)
        : !writable(perm, child, childSrc)
    ) {
      return true
    }
    keys.pop()
  }
  return false
}

function writable(perm: Permissions, pos: Position, src: SourceContext): boolean {
  return (perm.grant(pos, typeof src === 'string' ? src : undefined) & WRITE) !== 0
}
