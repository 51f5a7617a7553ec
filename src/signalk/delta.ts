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
  diff,
  isEmptyObject,
  isObject,
  type Json,
  type JsonObject,
  stripNulls,
} from '../core/json.js'
import { getAt, parseDotPath, pathOf } from '../core/path.js'
import type { Change, StateTree } from '../core/state-tree.js'
import { validateValue } from '../core/validate.js'
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
}

/** Fields of a leaf that a value update rewrites. */
const LEAF_FIELDS = ['value', '$source', 'timestamp', 'values', 'pgn', 'sentence'] as const

/**
 * Applies one Signal K delta to `tree` as one atomic write. Returns the
 * change, or undefined when the delta changed nothing. Throws a
 * {@link KeelsonError} (`BAD_DELTA`, `BAD_PATH`, `FORBIDDEN_KEY`, `TOO_DEEP`)
 * and applies nothing when any part of the delta is malformed.
 *
 * This is the entry point of every Signal K ingest (WebSocket clients,
 * NMEA 0183 via `@signalk/nmea0183-signalk`); its signature is stable.
 */
export function applyDelta(
  tree: StateTree,
  delta: Delta,
  options: ApplyDeltaOptions = {},
): Change | undefined {
  return tree.apply(deltaToPatch(tree, delta, options))
}

/** The tree keys of a delta context: `[group, id]`, `vessels.self` resolved. */
export function contextKeys(context: string | undefined, selfKey: string): string[] {
  if (context === undefined || context === 'vessels.self' || context === 'self') {
    return ['vessels', selfKey]
  }
  const dot = typeof context === 'string' ? context.indexOf('.') : -1
  if (dot <= 0 || dot === context.length - 1) {
    throw new KeelsonError(Errors.BAD_DELTA, `The context "${context}" is not <group>.<id>`)
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
  validateValue(delta as unknown as Json)
  const root = tree.get({ segments: [], starAt: -1 }) as JsonObject
  const ctx = contextKeys(delta.context, tree.selfKey)
  const patch: JsonObject = {}
  if (getAt(root, ctx) === undefined) Object.assign(at(patch, ctx), identityOf(ctx))
  const leaves = new Map<string, { keys: string[]; before: JsonObject; after: JsonObject }>()

  for (const update of delta.updates) {
    if (!isObject(update as unknown))
      throw new KeelsonError(Errors.BAD_DELTA, 'An update must be an object')
    const timestamp = update.timestamp ?? options.now?.() ?? new Date().toISOString()
    if (typeof timestamp !== 'string') {
      throw new KeelsonError(Errors.BAD_DELTA, 'An update timestamp must be an ISO 8601 string')
    }
    const source = update.source
    const dollar = update.$source
    if (dollar !== undefined && typeof dollar !== 'string') {
      throw new KeelsonError(Errors.BAD_DELTA, '"$source" must be a string')
    }
    const sid = dollar ?? (source ? sourceId(source) : (options.defaultSource ?? NO_SOURCE))
    pathOf([sid])
    addSource(child(patch, 'sources'), root.sources as JsonObject, source, dollar, timestamp)

    for (const pv of list(update.values, 'values')) {
      if (pv.value === undefined)
        throw new KeelsonError(Errors.BAD_DELTA, `No value for "${pv.path}"`)
      if (pv.path === '') {
        if (!isObject(pv.value)) {
          throw new KeelsonError(Errors.BAD_DELTA, 'A value with path "" must be an object')
        }
        mergeInto(at(patch, ctx), pv.value)
        continue
      }
      const keys = [...ctx, ...segmentsOf(pv.path)]
      const id = keys.join('\0')
      let leaf = leaves.get(id)
      if (!leaf) {
        const before = pick(getAt(root, keys))
        leaf = { keys, before, after: pick(getAt(root, keys), true) }
        leaves.set(id, leaf)
      }
      const value = isObject(pv.value) ? stripNulls(pv.value) : pv.value
      setValue(leaf.after, value, sid, timestamp, source)
    }
    for (const meta of list(update.meta, 'meta')) {
      if (!isObject(meta.value))
        throw new KeelsonError(Errors.BAD_DELTA, 'A meta value must be an object')
      mergeInto(at(patch, [...ctx, ...segmentsOf(meta.path), 'meta']), meta.value)
    }
  }
  for (const { keys, before, after } of leaves.values()) {
    const change = diff(before, after) as JsonObject
    if (!isEmptyObject(change)) Object.assign(at(patch, keys), change)
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

/** The leaf fields of a tree node; `copy` also copies the `values` entries it may rewrite. */
function pick(node: Json | undefined, copy = false): JsonObject {
  const out: JsonObject = {}
  if (!isObject(node)) return out
  for (const field of LEAF_FIELDS) {
    const value = node[field]
    if (value === undefined) continue
    out[field] = copy && field === 'values' && isObject(value) ? { ...value } : value
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

function segmentsOf(path: unknown): string[] {
  if (typeof path !== 'string' || path === '') {
    throw new KeelsonError(Errors.BAD_DELTA, 'Every value and meta needs a non-empty string "path"')
  }
  const parsed = parseDotPath(path)
  if (parsed.starAt >= 0)
    throw new KeelsonError(Errors.BAD_DELTA, `A delta path cannot hold *: ${path}`)
  return [...parsed.segments]
}

function list<T>(items: T[] | undefined, name: string): T[] {
  if (items === undefined) return []
  if (!Array.isArray(items) || !items.every((item) => isObject(item as unknown))) {
    throw new KeelsonError(Errors.BAD_DELTA, `"${name}" must be an array of {path, value}`)
  }
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
