/**
 * Tree changes out as Signal K deltas. A scoped merge patch (or a whole
 * document, for cached values) is walked to find the Signal K leaves it
 * touches; each touched leaf is read from the tree as it is now, so the
 * delta carries `value` (null when absent, SPEC §1), `$source` and
 * `timestamp` even when only one of them changed.
 *
 * @see https://signalk.org/specification/1.7.0/doc/streaming_api.html
 */

import type { ScopedUpdate } from '../core/hub.js'
import { isObject, type Json, type JsonObject } from '../core/json.js'
import type { StateTree } from '../core/state-tree.js'
import { textFrames } from './ws-frame.js'

/** One path's latest state, the unit that deltas are made of and coalesced by. */
export interface DeltaItem {
  /** `<group>.<id>`, e.g. `vessels.urn:mrn:imo:mmsi:230099999`. */
  readonly context: string
  /** Dot path inside the context; `""` for root fields such as `name`. */
  readonly path: string
  readonly value: Json
  readonly $source?: string
  readonly timestamp?: string
  /** True when `value` is the path's `meta` object rather than its value. */
  readonly meta?: boolean
}

/** Members of a leaf that belong to its value, not to child paths. */
const LEAF_KEYS = new Set(['value', 'values', '$source', 'timestamp', 'pgn', 'sentence', 'meta'])
/** Root members that are not contexts. */
const NOT_CONTEXTS = new Set(['sources', 'version', 'self'])

/**
 * The items of `patch`, a merge patch (or document) whose root is the tree
 * node at `base`. Leaves are read from `tree` as it is now.
 */
export function itemsOf(tree: StateTree, base: readonly string[], patch: Json): DeltaItem[] {
  return itemsAt(tree.get({ segments: base, starAt: -1 }), base, patch)
}

/**
 * The items of `patch`, a merge patch (or document) whose root is `node`,
 * the node at `base` of a tree (a past one, for a playback); leaves are
 * read from `node`.
 */
export function itemsAt(node: Json | undefined, base: readonly string[], patch: Json): DeltaItem[] {
  const out: DeltaItem[] = []
  walk(node, patch, [...base], out)
  return out
}

function walk(node: Json | undefined, patch: Json, keys: string[], out: DeltaItem[]): void {
  const depth = keys.length
  if (!isObject(patch)) {
    if (depth < 3) return
    const context = `${keys[0]}.${keys[1]}`
    if (depth === 3) out.push({ context, path: '', value: { [keys[2]!]: patch } })
    else out.push({ context, path: keys.slice(2).join('.'), value: patch })
    return
  }
  const current = isObject(node) ? node : undefined
  if (depth >= 3 && current) {
    const context = `${keys[0]}.${keys[1]}`
    const path = keys.slice(2).join('.')
    if ('value' in patch || '$source' in patch || 'timestamp' in patch || 'values' in patch) {
      out.push(leafItem(context, path, current))
    }
    if ('meta' in patch && isObject(current.meta)) {
      out.push({ context, path, value: current.meta, meta: true })
    }
  }
  for (const key in patch) {
    if (depth === 0 && NOT_CONTEXTS.has(key)) continue
    if (depth >= 3 && LEAF_KEYS.has(key)) continue
    keys.push(key)
    walk(current?.[key], patch[key]!, keys, out)
    keys.pop()
  }
}

function leafItem(context: string, path: string, leaf: JsonObject): DeltaItem {
  const $source = typeof leaf.$source === 'string' ? leaf.$source : undefined
  const timestamp = typeof leaf.timestamp === 'string' ? leaf.timestamp : undefined
  return { context, path, value: leaf.value ?? null, $source, timestamp }
}

/** Items as delta messages: one per context, one update per (`$source`, `timestamp`). */
export function toDeltas(items: Iterable<DeltaItem>): JsonObject[] {
  const contexts = new Map<string, Map<string, JsonObject>>()
  for (const item of items) {
    let updates = contexts.get(item.context)
    if (!updates) {
      updates = new Map()
      contexts.set(item.context, updates)
    }
    const key = item.meta ? '\0meta' : `${item.$source ?? ''}\0${item.timestamp ?? ''}`
    let update = updates.get(key)
    if (!update) {
      update = {}
      if (!item.meta && item.$source !== undefined) update.$source = item.$source
      if (!item.meta && item.timestamp !== undefined) update.timestamp = item.timestamp
      update[item.meta ? 'meta' : 'values'] = []
      updates.set(key, update)
    }
    ;(update[item.meta ? 'meta' : 'values'] as Json[]).push({ path: item.path, value: item.value })
  }
  const deltas: JsonObject[] = []
  for (const [context, updates] of contexts)
    deltas.push({ context, updates: [...updates.values()] })
  return deltas
}

/** The key under which items of one path coalesce (latest wins). */
export function itemKey(item: DeltaItem): string {
  return `${item.context}\0${item.path}${item.meta ? '\0m' : ''}`
}

/**
 * A change as delta messages, built once per subscribed scope and shared by
 * its clients: the items (for coalescing and `sendMeta`) and, on first use,
 * the messages as complete WebSocket text frames in one Buffer.
 */
export class DeltaFrame {
  private framed: Buffer | undefined
  /** Number of delta messages in {@link bytes}, known once they are built. */
  messages = 0

  constructor(readonly items: readonly DeltaItem[]) {}

  /** One delta message per context, each a WebSocket text frame, back to back. */
  get bytes(): Buffer {
    if (this.framed === undefined) {
      const deltas = toDeltas(this.items)
      this.messages = deltas.length
      this.framed = textFrames(deltas.map((delta) => JSON.stringify(delta)))
    }
    return this.framed
  }
}

/** The frame builder of a scope rooted at `base`: one per subscription, not per event. */
export function frameBuilder(
  tree: StateTree,
  base: readonly string[],
): (update: ScopedUpdate) => DeltaFrame {
  return (update) => new DeltaFrame(itemsOf(tree, base, update.effect.patch))
}
