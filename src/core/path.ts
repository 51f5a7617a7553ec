/**
 * Paths into the tree (SPEC §2): one key per segment, `self` under `vessels`
 * for the self vessel, `*` to match every key at a level.
 */
import { Errors, KeelsonError } from './errors.js'
import { isObject, type Json, type JsonObject } from './json.js'
import { DEFAULT_MAX_DEPTH, isForbiddenKey, tooDeep } from './validate.js'

/** The wildcard segment. */
export const WILDCARD = '*'

/**
 * A parsed path. `segments` are tree keys with `self` already resolved;
 * `starAt` is the index of the first `*` (-1 when there is none). A wildcard
 * path reads as the node at `segments[0..starAt)` holding only the branches
 * that match the rest.
 */
export interface TreePath {
  readonly segments: readonly string[]
  readonly starAt: number
}

// C0 controls, DEL and C1 controls (U+0080-U+009F, e.g. %C2%85 NEL); keys are otherwise
// free text (Signal K keys hold ':' and '.').
function hasControl(key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true
  }
  return false
}

/** Throws `TOO_DEEP` when `text` split on `separator` gives more than `maxDepth` parts: checked before splitting. */
function checkCount(text: string, separator: string, maxDepth: number): void {
  let parts = 1
  for (let at = text.indexOf(separator); at >= 0; at = text.indexOf(separator, at + 1)) {
    if (++parts > maxDepth) throw tooDeep(maxDepth)
  }
}

/**
 * Throws a {@link KeelsonError} (`BAD_PATH`, `FORBIDDEN_KEY`) unless `key`
 * may be one segment of a path: not empty, `.` or `..`, no control
 * characters, not a forbidden key. Returns `key`.
 */
export function checkKey(key: string): string {
  if (key === '' || key === '.' || key === '..' || hasControl(key)) {
    throw new KeelsonError(
      Errors.BAD_PATH,
      `The path segment ${JSON.stringify(key)} is not allowed`,
    )
  }
  if (isForbiddenKey(key)) {
    throw new KeelsonError(Errors.FORBIDDEN_KEY, `The key "${key}" is not allowed in a path`)
  }
  return key
}

/**
 * Builds a {@link TreePath} from keys, checking each and resolving
 * `vessels/self`; more than `maxDepth` keys is `TOO_DEEP` (SPEC §1).
 */
export function pathOf(
  keys: readonly string[],
  selfKey?: string,
  maxDepth: number = DEFAULT_MAX_DEPTH,
): TreePath {
  if (keys.length > maxDepth) throw tooDeep(maxDepth)
  const segments: string[] = []
  for (let i = 0; i < keys.length; i++) {
    const key = checkKey(keys[i]!)
    segments.push(key === 'self' && selfKey && i > 0 && keys[i - 1] === 'vessels' ? selfKey : key)
  }
  return { segments, starAt: segments.indexOf(WILDCARD) }
}

/**
 * Parses the URL path after `/signalk/v1/api` (e.g. `/vessels/self/navigation/`):
 * split on `/`, percent-decoded per segment, a trailing `/` ignored.
 */
export function parseUrlPath(
  raw: string,
  selfKey?: string,
  maxDepth: number = DEFAULT_MAX_DEPTH,
): TreePath {
  let text = raw.startsWith('/') ? raw.slice(1) : raw
  if (text.endsWith('/')) text = text.slice(0, -1)
  if (text === '') return { segments: [], starAt: -1 }
  checkCount(text, '/', maxDepth)
  const keys = text.split('/').map(decodeSegment)
  return pathOf(keys, selfKey, maxDepth)
}

/** One percent-decoded URL path segment; 400 BAD_PATH when its percent-encoding is malformed. */
export function decodeSegment(part: string): string {
  try {
    return decodeURIComponent(part)
  } catch {
    const shown = part.length > 80 ? `${part.slice(0, 80)}…` : part
    throw new KeelsonError(
      Errors.BAD_PATH,
      `The path segment "${shown}" is not valid percent-encoding`,
    )
  }
}

/** Parses a Signal K dot path (`navigation.speedOverGround`); `""` is the root. */
export function parseDotPath(
  dotted: string,
  selfKey?: string,
  maxDepth: number = DEFAULT_MAX_DEPTH,
): TreePath {
  if (dotted === '') return { segments: [], starAt: -1 }
  checkCount(dotted, '.', maxDepth)
  return pathOf(dotted.split('.'), selfKey, maxDepth)
}

/** The URL form of a path (each key percent-encoded), for logs and links. */
export function formatPath(path: TreePath): string {
  return `/${path.segments.map(encodeURIComponent).join('/')}`
}

/** The value at `segments` below `root`, or undefined. */
export function getAt(
  root: Json | undefined,
  segments: readonly string[],
  from = 0,
  to = segments.length,
): Json | undefined {
  let node = root
  for (let i = from; i < to; i++) {
    if (!isObject(node)) return undefined
    const key = segments[i]!
    if (!Object.hasOwn(node, key)) return undefined
    node = node[key]
  }
  return node
}

/**
 * The part of `value` matching `segments[from..]`: `*` keeps every key whose
 * branch matches, a key keeps itself when its branch matches. Undefined when
 * nothing matches (a `*` level always matches an object, possibly as `{}`).
 * Leaves are shared with `value`, not copied.
 */
export function project(
  value: Json | undefined,
  segments: readonly string[],
  from: number,
): Json | undefined {
  if (from === segments.length) return value
  if (!isObject(value)) return undefined
  const key = segments[from]!
  if (key === WILDCARD) {
    const out: JsonObject = {}
    for (const k in value) {
      const sub = project(value[k], segments, from + 1)
      if (sub !== undefined) out[k] = sub
    }
    return out
  }
  if (!Object.hasOwn(value, key)) return undefined
  const sub = project(value[key], segments, from + 1)
  return sub === undefined ? undefined : { [key]: sub }
}

/**
 * What a read of `path` gives below `root` (SPEC §2): the value at a plain
 * path; for a wildcard path, the node before the first `*` holding only the
 * matching branches (`{}` when none match). Undefined when the path, or a
 * wildcard path's prefix, is missing.
 */
export function readPath(root: Json | undefined, path: TreePath): Json | undefined {
  if (path.starAt < 0) return getAt(root, path.segments)
  const node = getAt(root, path.segments, 0, path.starAt)
  if (node === undefined) return undefined
  return project(node, path.segments, path.starAt) ?? {}
}
