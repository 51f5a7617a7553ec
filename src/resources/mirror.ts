/**
 * The resources as a cluster node serves them (SPEC §9, §11): read from the
 * tree's copy, not from files. Every node applies the cluster's log to its
 * replica, resource writes of every node included, and starts from the
 * cluster's snapshot, so the tree's `vessels.<self>.resources` is the same
 * on every node and survives any node's restart: it is the truth there, and
 * files of one node would only disagree with it.
 *
 * The mirror brings the store's maps in step with the tree when it is read.
 * It listens to the tree's changes and notes the resources each one
 * touched (the change's patch names them), so a read re-checks only those:
 * a write costs the same whatever the number of resources held. A tree
 * replaced whole (a cluster node reloading the snapshot) has a new
 * `resources` object, and is read again whole.
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

/** The store's maps, refilled from the tree. */
export interface MirrorTarget {
  readonly byType: Map<string, Map<string, Entry>>
  readonly custom: CustomType[]
}

/** Reads the resources of one tree into a store's maps. */
export class TreeMirror {
  /** The tree's `resources` object when last read. */
  private node: JsonObject | undefined
  /** Read everything again: at first, and when a change replaced more than single resources. */
  private everything = true
  /** Ids changed since the last read, by type; `true`: the whole type. */
  private readonly dirty = new Map<string, Set<string> | true>()
  /** Bytes of the resources held, by type. */
  private readonly bytes = new Map<string, number>()
  private total = 0

  constructor(
    private readonly tree: StateTree,
    private readonly standardTypes: readonly string[],
    private readonly maxCustomTypes: number,
    private readonly isTypeName: (name: string) => boolean,
  ) {
    tree.onChange((change) => this.note(change.effect.patch))
  }

  /**
   * Brings `target` in step with the tree; returns the bytes of every
   * resource held. Costs nothing when no resource changed, and a look at
   * each changed one otherwise.
   */
  sync(target: MirrorTarget): number {
    const tree = this.tree
    const found = tree.get({ segments: ['vessels', tree.selfKey, 'resources'], starAt: -1 })
    const node = isObject(found) ? found : undefined
    if (node !== this.node) {
      this.node = node
      this.everything = true
    }
    if (!this.everything && this.dirty.size === 0) return this.total
    const { byType, custom } = target
    const all = node ?? {}
    custom.length = 0
    for (const name in all) {
      if (this.standardTypes.includes(name) || !this.isTypeName(name) || !isObject(all[name])) {
        continue
      }
      if (custom.length >= this.maxCustomTypes) break
      const meta = (all[name] as JsonObject)[TYPE_META]
      const description =
        isObject(meta) && typeof meta.description === 'string' ? meta.description : ''
      custom.push({ name, description })
    }
    const served = [...this.standardTypes, ...custom.map((t) => t.name)]
    for (const type of [...byType.keys()]) {
      if (served.includes(type)) continue
      byType.delete(type)
      this.bytes.delete(type)
    }
    for (const type of served) {
      let entries = byType.get(type)
      const fresh = entries === undefined
      // Served in the tree's order on every node: re-inserted at the end, in turn.
      byType.delete(type)
      entries ??= new Map()
      byType.set(type, entries)
      const ids = this.everything || fresh ? true : this.dirty.get(type)
      if (ids === undefined) continue
      const standard = this.standardTypes.includes(type)
      const typeNode = isObject(all[type]) ? (all[type] as JsonObject) : {}
      let bytes = ids === true ? 0 : (this.bytes.get(type) ?? 0)
      if (ids === true) entries.clear()
      for (const id of ids === true ? Object.keys(typeNode) : ids) {
        const before = entries.get(id)
        if (before !== undefined) bytes -= before.bytes
        const leaf = typeNode[id]
        const entry =
          isObject(leaf) && (standard || id !== TYPE_META)
            ? entryOf(type, id, standard, leaf)
            : undefined
        if (entry === undefined) entries.delete(id)
        else {
          entries.set(id, entry)
          bytes += entry.bytes
        }
      }
      this.bytes.set(type, bytes)
    }
    this.dirty.clear()
    this.everything = false
    this.total = 0
    for (const bytes of this.bytes.values()) this.total += bytes
    return this.total
  }

  /** Notes the resources a change of the tree touched (its root merge patch names them). */
  private note(patch: Json): void {
    if (this.everything || !isObject(patch)) return
    const vessels = patch.vessels
    const vessel = isObject(vessels) ? vessels[this.tree.selfKey] : vessels
    const resources = isObject(vessel) ? vessel.resources : vessel
    if (resources === undefined) return
    if (!isObject(resources)) {
      this.everything = true
      return
    }
    for (const type in resources) {
      const changed = resources[type]
      const ids = this.dirty.get(type)
      if (ids === true) continue
      if (!isObject(changed)) {
        this.dirty.set(type, true)
        continue
      }
      const set = ids ?? new Set<string>()
      for (const id in changed) set.add(id)
      this.dirty.set(type, set)
    }
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
