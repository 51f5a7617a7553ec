/**
 * The resources as a cluster node serves them (SPEC §9, §11): read from the
 * tree's copy, not from files. Every node applies the cluster's log to its
 * replica, resource writes of every node included, and starts from the
 * cluster's snapshot, so the tree's `vessels.<self>.resources` is the same
 * on every node and survives any node's restart: it is the truth there, and
 * files of one node would only disagree with it.
 *
 * The mirror brings the store's maps in step with the tree when it is read.
 * The tree's per-object versions ({@link StateTree.versionOf}) say what
 * changed since: nothing under `resources` costs one lookup; a changed type
 * is walked, its unchanged leaves reused as they were checked. A reload of
 * the tree (a new root) is a change like any other.
 *
 * What it serves from the tree: the five standard types, and as custom
 * types the other objects under `resources` (a registration writes the
 * type's `meta.description` there, which is how every node learns of it);
 * in each, the leaves written by {@link RESOURCE_SOURCE} whose id and value
 * are valid for the type. Anything else found there (a v1 write of some
 * other shape) is left out, the same on every node.
 */
import { isObject, type Json, type JsonObject } from '../core/json.js'
import type { StateTree } from '../core/state-tree.js'
import type { CustomType } from './files.js'
import { checkResource, isValidId } from './schema.js'
import { type Copy, fromSource, RESOURCE_SOURCE } from './tree-copy.js'

/** One resource as the store holds it: its value, timestamp and size as JSON. */
export interface Entry extends Copy {
  readonly bytes: number
}

/**
 * The key of a custom type's own description in the tree
 * (`resources.<type>.meta.description`, as Signal K describes a path): no
 * resource of a custom type may have this id on a cluster node.
 */
export const TYPE_META = 'meta'

/** What the mirror last read of one type. */
interface TypeSeen {
  readonly node: JsonObject
  readonly version: number | undefined
  readonly total: number
  /** Each leaf as read, with its version and the entry made of it (undefined: not a valid resource). */
  readonly leaves: Map<string, LeafSeen>
}

interface LeafSeen {
  readonly leaf: JsonObject
  readonly version: number | undefined
  readonly entry: Entry | undefined
}

/** The store's maps, refilled from the tree. */
export interface MirrorTarget {
  readonly byType: Map<string, Map<string, Entry>>
  readonly custom: CustomType[]
}

/** Reads the resources of one tree into a store's maps. */
export class TreeMirror {
  private node: Json | undefined
  private version: number | undefined
  private total = 0
  private readonly seen = new Map<string, TypeSeen>()

  constructor(
    private readonly tree: StateTree,
    private readonly standardTypes: readonly string[],
    private readonly maxCustomTypes: number,
    private readonly isTypeName: (name: string) => boolean,
  ) {}

  /**
   * Brings `target` in step with the tree; returns the bytes of every
   * resource held. Costs one lookup when nothing under `resources` changed.
   */
  sync(target: MirrorTarget): number {
    const tree = this.tree
    const node = tree.get({ segments: ['vessels', tree.selfKey, 'resources'], starAt: -1 })
    const version = isObject(node) ? tree.versionOf(node) : undefined
    if (node === this.node && version === this.version) return this.total
    this.node = node
    this.version = version
    const all = isObject(node) ? node : {}
    const { byType, custom } = target
    custom.length = 0
    const served = new Set<string>()
    let total = 0
    for (const type of this.standardTypes) {
      served.add(type)
      total += this.syncType(type, true, all[type], byType)
    }
    for (const name in all) {
      if (served.has(name) || !this.isTypeName(name) || !isObject(all[name])) continue
      if (custom.length >= this.maxCustomTypes) break
      const meta = (all[name] as JsonObject)[TYPE_META]
      const description =
        isObject(meta) && typeof meta.description === 'string' ? meta.description : ''
      custom.push({ name, description })
      served.add(name)
      total += this.syncType(name, false, all[name], byType)
    }
    for (const type of [...byType.keys()]) {
      if (served.has(type)) continue
      byType.delete(type)
      this.seen.delete(type)
    }
    this.total = total
    return total
  }

  /** Refills the entries of `type` from its node when it changed; returns their bytes. */
  private syncType(
    type: string,
    standard: boolean,
    node: Json | undefined,
    byType: Map<string, Map<string, Entry>>,
  ): number {
    let entries = byType.get(type)
    if (entries === undefined) {
      entries = new Map()
      byType.set(type, entries)
    }
    const before = this.seen.get(type)
    if (!isObject(node)) {
      entries.clear()
      this.seen.delete(type)
      return 0
    }
    const version = this.tree.versionOf(node)
    if (before !== undefined && before.node === node && before.version === version) {
      return before.total
    }
    const leaves = new Map<string, LeafSeen>()
    let total = 0
    entries.clear()
    for (const id in node) {
      if (!standard && id === TYPE_META) continue
      const leaf = node[id]
      if (!isObject(leaf)) continue
      const leafVersion = this.tree.versionOf(leaf)
      const was = before?.leaves.get(id)
      const entry =
        was !== undefined && was.leaf === leaf && was.version === leafVersion
          ? was.entry
          : entryOf(type, id, standard, leaf)
      leaves.set(id, { leaf, version: leafVersion, entry })
      if (entry === undefined) continue
      entries.set(id, entry)
      total += entry.bytes
    }
    this.seen.set(type, { node, version, total, leaves })
    return total
  }
}

/** The resource a leaf of the tree holds, when its id and value are valid for `type`. */
function entryOf(type: string, id: string, standard: boolean, leaf: JsonObject): Entry | undefined {
  if (!isValidId(type, id, standard)) return undefined
  const held = fromSource(leaf, RESOURCE_SOURCE)
  if (held === undefined || !isObject(held.value) || typeof held.timestamp !== 'string') {
    return undefined
  }
  try {
    checkResource(type, held.value)
  } catch {
    return undefined
  }
  const value = held.value
  return { value, timestamp: held.timestamp, bytes: Buffer.byteLength(JSON.stringify(value)) }
}
