/**
 * Signal K deltas into the tree (SPEC §1, §7). {@link applyDelta} turns one
 * delta into ONE root merge patch and applies it, so a delta is atomic: it
 * gets one revision, or none when it changes nothing, and a bad delta
 * applies nothing.
 *
 * The tree follows Signal K's full format, as signalk-server builds it: each
 * leaf holds `value`, `$source` and `timestamp` (plus `pgn`/`sentence`);
 * when a second source writes a leaf, every source's latest value is kept in
 * the leaf's `values` map keyed by `$source`, the latest one on top. A null
 * value removes the leaf's `value` key; `timestamp` and `$source` stay.
 *
 * @see https://signalk.org/specification/1.7.0/doc/data_model.html
 * @see https://signalk.org/specification/1.7.0/doc/data_model_multiple_values.html
 */
import { Errors, KeelsonError } from '../core/errors.js'
import {
  deepEqual,
  diff,
  hasNullMember,
  isEmptyObject,
  isObject,
  type Json,
  type JsonObject,
  stripNulls,
} from '../core/json.js'
import { checkKey, getAt, parseDotPath, pathOf, type TreePath } from '../core/path.js'
import type { Change, StateTree } from '../core/state-tree.js'
import { DEFAULT_MAX_DEPTH, tooDeep, validateValue } from '../core/validate.js'
import { WritePort } from '../core/write-port.js'
import { addSource, child, type DeltaSource, NO_SOURCE, sourceId } from './sources.js'

export { type DeltaSource, sourceId } from './sources.js'

/** One `{path, value}` of an update; path `""` merges `value` (an object) into the context. */
export interface PathValue {
  path: string
  value: Json
}

/** One `{path, value}` of an update's `meta`: `value` is merged into `<path>.meta`. */
export interface MetaValue {
  path: string
  value: JsonObject
}

/** One update of a delta. */
export interface Update {
  source?: DeltaSource
  $source?: string
  /** ISO 8601; default the time of application. */
  timestamp?: string
  values?: PathValue[]
  meta?: MetaValue[]
}

/** A Signal K delta message. */
export interface Delta {
  /** `vessels.self`, `vessels.<urn>`, `atons.<urn>`...; default the self vessel. */
  context?: string
  updates: Update[]
}

/** Options of {@link applyDelta}. */
export interface ApplyDeltaOptions {
  /** `$source` of updates with neither `source` nor `$source`. Default `no_source`. */
  defaultSource?: string
  /** The timestamp of updates without one. Default the current time. */
  now?: () => string
  /**
   * The delta was built in this process (the NMEA 0183 decoder), not parsed
   * from a client's JSON: skip the walk of the whole delta for forbidden keys
   * and nesting depth. Every key that reaches the tree is still checked, and
   * {@link StateTree.apply} still refuses any forbidden key. Default false.
   */
  builtInProcess?: boolean
  /** Deepest level a value may reach from the root of the tree. Default 64 (SPEC §1). */
  maxDepth?: number
}

/** Fields of a leaf that a value update rewrites. */
const LEAF_FIELDS = ['value', '$source', 'timestamp', 'values', 'pgn', 'sentence'] as const

const ROOT: TreePath = { segments: [], starAt: -1 }

/**
 * Delta paths already parsed: a stream repeats a few hundred paths, and
 * parsing each value's path again was a tenth of the ingest path's time
 * (bench/ingest.ts). Cleared when full, so odd input cannot grow it.
 */
const parsedPaths = new Map<string, readonly string[]>()
const MAX_PARSED_PATHS = 10_000
const MAX_CACHED_PATH = 256

/** Entries in the parsed-path cache (for tests of its bound). @internal */
export function parsedPathCacheSize(): number {
  return parsedPaths.size
}

/** Levels of a delta message above its values: `{updates:[{values:[{value}]}]}`. */
const MESSAGE_LEVELS = 4

/** A leaf a delta writes: the tree's node (undefined when new), and its fields as the delta leaves them. */
interface Leaf {
  segments: readonly string[]
  node: Json | undefined
  after: JsonObject
}

/**
 * Applies one Signal K delta as one atomic write through the tree's write
 * port (src/core/write-port.ts): stamps it ({@link stampDelta}), then
 * writes it. Returns the change, or undefined when the delta changed
 * nothing. Throws a {@link KeelsonError} (`BAD_DELTA`, `BAD_PATH`,
 * `FORBIDDEN_KEY`, `TOO_DEEP`, `NOT_FINITE`) and applies nothing when any
 * part of the delta is malformed.
 *
 * This is the entry point of every Signal K ingest (WebSocket clients,
 * NMEA 0183 via `@signalk/nmea0183-signalk`); `target` is the tree (its one
 * port is used) or the port itself.
 */
export function applyDelta(
  target: StateTree | WritePort,
  delta: Delta,
  options: ApplyDeltaOptions = {},
): Change | undefined {
  const port = target instanceof WritePort ? target : WritePort.of(target)
  return port.write({
    kind: 'delta',
    delta: stampDelta(delta, options.now),
    builtIn: options.builtInProcess === true,
    defaultSource: options.defaultSource,
  })
}

/**
 * Gives every update of `delta` that has none the time of application, in
 * place (the delta is the caller's own parsed or decoded object), so the
 * delta derives the same effect wherever and whenever it is applied (a
 * journal replay, another node of a cluster). Returns `delta`.
 */
export function stampDelta(delta: Delta, now?: () => string): Delta {
  if (!isObject(delta as unknown) || !Array.isArray(delta.updates)) return delta
  let stamp: string | undefined
  for (const update of delta.updates) {
    if (!isObject(update as unknown) || update.timestamp !== undefined) continue
    stamp ??= now?.() ?? new Date().toISOString()
    update.timestamp = stamp
  }
  return delta
}

/** Root members of the tree that are not contexts: a delta context cannot address them. */
const NOT_CONTEXT_GROUPS: ReadonlySet<string> = new Set(['version', 'self', 'sources'])

/** The tree keys of a delta context: `[group, id]`, `vessels.self` resolved. */
export function contextKeys(context: string | undefined, selfKey: string): string[] {
  if (context === undefined || context === 'vessels.self' || context === 'self') {
    return ['vessels', selfKey]
  }
  const dot = typeof context === 'string' ? context.indexOf('.') : -1
  if (dot <= 0 || dot === context.length - 1) {
    throw new KeelsonError(Errors.BAD_DELTA, `The context "${context}" is not <group>.<id>`)
  }
  if (NOT_CONTEXT_GROUPS.has(context.slice(0, dot))) {
    throw new KeelsonError(
      Errors.BAD_DELTA,
      `The context "${context}" names a root member, not a context such as vessels.<id>`,
    )
  }
  const id = context.slice(dot + 1)
  const keys = pathOf([context.slice(0, dot), id === 'self' ? selfKey : id]).segments
  if (keys.includes('*')) throw new KeelsonError(Errors.BAD_DELTA, 'A delta context cannot hold *')
  return [...keys]
}

/** The root merge patch of a delta, read against the tree's current state. */
export function deltaToPatch(
  tree: StateTree,
  delta: Delta,
  options: ApplyDeltaOptions = {},
): JsonObject {
  if (!isObject(delta as unknown) || !Array.isArray(delta.updates)) {
    throw new KeelsonError(Errors.BAD_DELTA, 'A delta needs an "updates" array')
  }
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH
  // The whole message: forbidden keys and non-finite numbers anywhere (in a source too), and a
  // bound on its nesting before any other walk. A tenth of the NMEA ingest path
  // (bench/ingest.ts), and nothing to find in a decoder's own objects. Each value's depth in
  // the tree is checked below.
  if (options.builtInProcess !== true) {
    validateValue(delta as unknown as Json, { maxDepth: maxDepth + MESSAGE_LEVELS })
  }
  const root = tree.get(ROOT) as JsonObject
  const ctx = contextKeys(delta.context, tree.selfKey)
  const patch: JsonObject = {}
  const ctxNode = getAt(root, ctx)
  if (ctxNode === undefined) Object.assign(at(patch, ctx), identityOf(ctx))
  // Keyed by the dot path: within one context, one path string is one leaf.
  const leaves = new Map<string, Leaf>()
  // The time of application: one delta is applied at once.
  let now: string | undefined
  let checkedSid: string | undefined

  for (const update of delta.updates) {
    if (!isObject(update as unknown))
      throw new KeelsonError(Errors.BAD_DELTA, 'An update must be an object')
    let timestamp = update.timestamp ?? options.now?.()
    if (timestamp === undefined) {
      now ??= new Date().toISOString()
      timestamp = now
    }
    if (typeof timestamp !== 'string') {
      throw new KeelsonError(Errors.BAD_DELTA, 'An update timestamp must be an ISO 8601 string')
    }
    const source = update.source
    const dollar = update.$source
    if (dollar !== undefined && typeof dollar !== 'string') {
      throw new KeelsonError(Errors.BAD_DELTA, '"$source" must be a string')
    }
    const sid = dollar ?? (source ? sourceId(source) : (options.defaultSource ?? NO_SOURCE))
    // The updates of one batch mostly share their source: check each label once.
    if (sid !== checkedSid) checkedSid = checkKey(sid)
    addSource(child(patch, 'sources'), root.sources as JsonObject, source, dollar, timestamp)

    for (const pv of list(update.values, 'values')) {
      if (pv.value === undefined)
        throw new KeelsonError(Errors.BAD_DELTA, `No value for "${pv.path}"`)
      if (pv.path === '') {
        if (!isObject(pv.value)) {
          throw new KeelsonError(Errors.BAD_DELTA, 'A value with path "" must be an object')
        }
        // Members of the context itself (name, mmsi...): a null here would delete a whole branch.
        try {
          validateValue(pv.value, { maxDepth, baseDepth: ctx.length, allowNullMembers: false })
        } catch (err) {
          if (!(err instanceof KeelsonError) || err.kind !== Errors.NULL_NOT_ALLOWED) throw err
          throw new KeelsonError(
            Errors.BAD_DELTA,
            'A value with path "" sets members of the context and cannot hold null',
          )
        }
        mergeInto(at(patch, ctx), pv.value)
        continue
      }
      const segments = segmentsOf(pv.path, maxDepth)
      checkLeafValue(pv.value, ctx.length + segments.length, maxDepth)
      let leaf = leaves.get(pv.path)
      if (!leaf) {
        const node = getAt(ctxNode, segments)
        leaf = { segments, node, after: pick(node) }
        leaves.set(pv.path, leaf)
      }
      // The patch never shares objects with the tree (applyPatch copies), so a null-free value is used as is.
      const value = isObject(pv.value) && hasNullMember(pv.value) ? stripNulls(pv.value) : pv.value
      setValue(leaf.after, value, sid, timestamp, source)
    }
    for (const meta of list(update.meta, 'meta')) {
      if (!isObject(meta.value))
        throw new KeelsonError(Errors.BAD_DELTA, 'A meta value must be an object')
      const segments = segmentsOf(meta.path, maxDepth)
      validateValue(meta.value, { maxDepth, baseDepth: ctx.length + segments.length + 1 })
      mergeInto(child(at(at(patch, ctx), segments), 'meta'), meta.value)
    }
  }
  let ctxPatch: JsonObject | undefined
  for (const { segments, node, after } of leaves.values()) {
    const change = leafChange(node, after)
    if (isEmptyObject(change)) continue
    ctxPatch ??= at(patch, ctx)
    Object.assign(at(ctxPatch, segments), change)
  }
  return patch
}

/** A leaf's value update, as signalk-server's FullSignalK `addValue` makes it. */
function setValue(
  leaf: JsonObject,
  value: Json,
  sid: string,
  timestamp: string,
  source: DeltaSource | undefined,
): void {
  const values = leaf.values
  if (isObject(values)) {
    values[sid] = entry(value, timestamp, source)
  } else if (leaf.value !== undefined && typeof leaf.$source === 'string' && leaf.$source !== sid) {
    const previous: JsonObject = { value: leaf.value }
    if (leaf.pgn !== undefined) previous.pgn = leaf.pgn
    if (leaf.sentence !== undefined) previous.sentence = leaf.sentence
    if (leaf.timestamp !== undefined) previous.timestamp = leaf.timestamp
    leaf.values = { [leaf.$source]: previous, [sid]: entry(value, timestamp, source) }
  }
  if (value === null) delete leaf.value
  else leaf.value = value
  leaf.$source = sid
  leaf.timestamp = timestamp
  setMessage(leaf, source)
}

function entry(value: Json, timestamp: string, source: DeltaSource | undefined): JsonObject {
  const out: JsonObject = value === null ? {} : { value }
  out.timestamp = timestamp
  setMessage(out, source)
  return out
}

/** The NMEA message a value came from: `pgn` or `sentence`, never both. */
function setMessage(leaf: JsonObject, source: DeltaSource | undefined): void {
  if (source?.pgn !== undefined) {
    leaf.pgn = source.pgn
    delete leaf.sentence
  }
  if (typeof source?.sentence === 'string') {
    leaf.sentence = source.sentence
    delete leaf.pgn
  }
}

/** The leaf fields of a tree node, its `values` map copied: the copy a delta rewrites. */
function pick(node: Json | undefined): JsonObject {
  const out: JsonObject = {}
  if (!isObject(node)) return out
  for (const field of LEAF_FIELDS) {
    const value = node[field]
    if (value === undefined) continue
    out[field] = field === 'values' && isObject(value) ? { ...value } : value
  }
  return out
}

/**
 * The merge patch from the leaf fields of `node` to `after`: `diff(pick(node), after)`,
 * members in the same order, without copying the fields first.
 */
function leafChange(node: Json | undefined, after: JsonObject): JsonObject {
  const from = isObject(node) ? node : undefined
  const out: JsonObject = {}
  if (from !== undefined) {
    for (const field of LEAF_FIELDS) {
      if (from[field] !== undefined && !Object.hasOwn(after, field)) out[field] = null
    }
  }
  for (const key in after) {
    const next = after[key]!
    const prev = from?.[key]
    if (prev === undefined) {
      out[key] = next
    } else if (isObject(prev) && isObject(next)) {
      const sub = diff(prev, next) as JsonObject
      if (!isEmptyObject(sub)) out[key] = sub
    } else if (prev !== next && !deepEqual(prev, next)) {
      out[key] = next
    }
  }
  return out
}

/** The identity member signalk-server fills in for a new context (`fillIdentityField`). */
function identityOf(ctx: string[]): JsonObject {
  const id = ctx[1]!
  if (id.startsWith('urn:mrn:imo:mmsi:')) return { mmsi: id.slice('urn:mrn:imo:mmsi:'.length) }
  if (id.startsWith('urn:mrn:signalk')) return { uuid: id }
  return { url: id }
}

/** The tree keys of a delta path, checked; shared from {@link parsedPaths}: never mutate them. */
function segmentsOf(path: unknown, maxDepth: number): readonly string[] {
  if (typeof path !== 'string' || path === '') {
    throw new KeelsonError(Errors.BAD_DELTA, 'Every value and meta needs a non-empty string "path"')
  }
  const known = parsedPaths.get(path)
  if (known !== undefined && known.length <= maxDepth) return known
  const parsed = parseDotPath(path, undefined, maxDepth)
  if (parsed.starAt >= 0)
    throw new KeelsonError(Errors.BAD_DELTA, `A delta path cannot hold *: ${path}`)
  // Only paths of a sensible length are kept: the cache holds at most ~2.5 MB whatever comes in.
  if (path.length <= MAX_CACHED_PATH) {
    if (parsedPaths.size >= MAX_PARSED_PATHS) parsedPaths.clear()
    parsedPaths.set(path, parsed.segments)
  }
  return parsed.segments
}

/**
 * Checks one value of an update, whose path is `base` levels below the root:
 * the leaf adds its `value` member. A number or string (most of NMEA) needs
 * no walk.
 */
function checkLeafValue(value: Json, base: number, maxDepth: number): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new KeelsonError(Errors.NOT_FINITE)
    if (base + 1 > maxDepth) throw tooDeep(maxDepth)
    return
  }
  validateValue(value, { maxDepth, baseDepth: base + 1 })
}

const NONE: never[] = []

function list<T>(items: T[] | undefined, name: string): T[] {
  if (items === undefined) return NONE
  let ok = Array.isArray(items)
  for (let i = 0; ok && i < items.length; i++) ok = isObject(items[i] as unknown)
  if (!ok) throw new KeelsonError(Errors.BAD_DELTA, `"${name}" must be an array of {path, value}`)
  return items
}

/** The patch object at `keys`, created along the way. */
function at(patch: JsonObject, keys: readonly string[]): JsonObject {
  let node = patch
  for (const key of keys) node = child(node, key)
  return node
}

/** Deep-merges patch `source` into patch `target` (both patches; later members win). */
function mergeInto(target: JsonObject, source: JsonObject): void {
  for (const key in source) {
    const value = source[key]!
    const existing = target[key]
    if (isObject(value) && isObject(existing)) mergeInto(existing, value)
    else target[key] = value
  }
}
