/**
 * The tree's copy of the resources (SPEC §11): every saved resource is the
 * leaf `resources.<type>.<id>` of the self vessel, written as the Signal K
 * delta signalk-server's resources API sends (`$source` `resources-provider`),
 * so SSE streams of `/signalk/v1/api/vessels/self/resources` and Signal K
 * WebSocket subscribers of `resources.*` see each change. A removal deletes
 * the leaf, which the WebSocket sends as a null value, as signalk-server does.
 *
 * Writes go through the write port with the writer's ACL check, so the
 * tree is also where a resource write is authorized (SPEC §8); reads of the
 * store are filtered by the reader's view as the leaf would be.
 *
 * @see https://github.com/SignalK/signalk-server/blob/master/src/api/resources/index.ts (buildDeltaMsg)
 */
import type { Logger } from 'pino'
import { deepEqual, isObject, type Json, type JsonObject } from '../core/json.js'
import type { TreePath } from '../core/path.js'
import type { StateTree } from '../core/state-tree.js'
import { readThrough, type View } from '../core/view.js'
import type { Authorize, Operation, WritePort } from '../core/write-port.js'

/** The `$source` of resources, in lists and in the tree: signalk-server's built-in provider. */
export const RESOURCE_SOURCE = 'resources-provider'

/** A resource's copy as it was, to put back. */
export interface Copy {
  readonly value: JsonObject
  /** ISO 8601. */
  readonly timestamp: string
}

/** The resources' copies in one tree, written through its port. */
export class TreeCopy {
  private readonly tree: StateTree

  constructor(
    private readonly writes: WritePort,
    private readonly log: Logger | undefined,
  ) {
    this.tree = writes.tree
  }

  /** `vessels/<self>/resources/<type>[/<id>]`. */
  path(type: string, id?: string): TreePath {
    const segments = ['vessels', this.tree.selfKey, 'resources', type]
    if (id !== undefined) segments.push(id)
    return { segments, starAt: -1 }
  }

  /** Sets the copy of a resource, when `authorize` lets the writer write it. */
  async set(type: string, id: string, copy: Copy, authorize?: Authorize): Promise<void> {
    await this.writes.submit(deltaOf(type, [{ id, ...copy }]), authorize)
  }

  /**
   * Removes the copy of a resource (or, without `id`, of a whole type), when
   * `authorize` lets the writer: checked even when there is no copy (it was
   * deleted through the v1 API), so the writer's rights never depend on it.
   */
  async remove(type: string, id: string | undefined, authorize?: Authorize): Promise<void> {
    const path = this.path(type, id)
    const operation: Operation = { kind: 'delete', path: path.segments }
    if (this.tree.get(path) !== undefined) await this.writes.submit(operation, authorize)
    else authorize?.(rootPatch(path.segments, null), operation)
  }

  /**
   * Writes a custom type's description into the tree
   * (`resources.<type>.meta.description`): on a cluster node this is the
   * type's registration, which every node reads back (src/resources/mirror.ts).
   */
  async describe(type: string, description: string): Promise<void> {
    const segments = [...this.path(type).segments, 'meta']
    await this.writes.submit({ kind: 'merge', path: segments, value: { description } })
  }

  /** Throws unless `authorize` lets the writer create `resources.<type>` (a new type). */
  authorizeType(type: string, authorize?: Authorize): void {
    const segments = this.path(type).segments
    authorize?.(rootPatch(segments, {}), { kind: 'merge', path: segments, value: {} })
  }

  /**
   * Puts a copy back as it was before a write whose file failed (`before`
   * undefined: there was none). A failure here is logged: the write is
   * refused all the same.
   */
  async putBack(type: string, id: string, before: Copy | undefined): Promise<void> {
    try {
      if (before !== undefined) await this.set(type, id, before)
      else if (this.tree.get(this.path(type, id)) !== undefined) {
        await this.writes.submit({ kind: 'delete', path: this.path(type, id).segments })
      }
    } catch (err) {
      this.log?.error({ err, type, id }, 'the tree copy of a resource could not be put back')
    }
  }

  /**
   * The copy the tree holds of a resource, when it is this store's (its
   * `$source`) and holds `value`: a tree restored from the journal already
   * holds what the files hold, and its timestamp is kept.
   */
  holds(type: string, id: string, value: JsonObject): Copy | undefined {
    const leaf = this.tree.get(this.path(type, id))
    if (!isObject(leaf) || leaf.$source !== RESOURCE_SOURCE) return undefined
    if (typeof leaf.timestamp !== 'string' || !deepEqual(leaf.value, value)) return undefined
    return { value, timestamp: leaf.timestamp }
  }

  /** Writes the copies of resources read at start-up, one delta for a type. */
  load(type: string, copies: readonly (Copy & { readonly id: string })[]): void {
    if (copies.length === 0) return
    try {
      this.writes.write(deltaOf(type, copies))
    } catch (err) {
      this.log?.error(
        { err, type },
        'the resources read at start-up could not be written into the tree',
      )
    }
  }

  /**
   * Removes the copies of resources the store does not hold (`holds` says
   * undefined for a type it does not serve: left alone). A tree restored
   * from a journal or a cluster snapshot may hold one whose file is gone.
   */
  dropStale(holds: (type: string, id: string) => boolean | undefined): void {
    const all = this.tree.get({ segments: ['vessels', this.tree.selfKey, 'resources'], starAt: -1 })
    if (!isObject(all)) return
    for (const type in all) {
      const copies = all[type]
      if (!isObject(copies)) continue
      for (const id in copies) {
        if (holds(type, id) !== false) continue
        try {
          this.writes.write({ kind: 'delete', path: this.path(type, id).segments })
        } catch (err) {
          this.log?.warn({ err, type, id }, 'a stale copy of a resource stays in the tree')
        }
      }
    }
  }

  /**
   * What `view` may read of a resource, judged on its leaf as the tree holds
   * it; with `timestamp` and `$source`, as signalk-server lists resources.
   */
  visible(view: View, type: string, id: string, copy: Copy): JsonObject | undefined {
    let value: Json | undefined = copy.value
    if (!view.full) {
      const leaf = view.read(this.path(type, id), {
        value: copy.value,
        $source: RESOURCE_SOURCE,
        timestamp: copy.timestamp,
      })
      value = isObject(leaf) ? leaf.value : undefined
      if (!isObject(value)) return undefined
    }
    return { ...value, timestamp: copy.timestamp, $source: RESOURCE_SOURCE }
  }

  /** The self vessel's `[lon, lat]` when `view` may read it: where `distance` measures from by default. */
  selfPosition(view: View): [number, number] | undefined {
    const path = {
      segments: ['vessels', this.tree.selfKey, 'navigation', 'position', 'value'],
      starAt: -1,
    }
    const p = readThrough(this.tree, path, view)
    if (!isObject(p)) return undefined
    const { longitude, latitude } = p
    return typeof longitude === 'number' && typeof latitude === 'number'
      ? [longitude, latitude]
      : undefined
  }
}

/**
 * What `source` last wrote to a leaf of the tree, with its timestamp: the
 * leaf's own value when that source wrote last, else its entry in the
 * leaf's `values` (another source wrote the path since); undefined when it
 * never wrote there. A null it wrote reads as a missing value.
 */
export function fromSource(
  leaf: JsonObject,
  source: string,
): { readonly value: Json | undefined; readonly timestamp: Json | undefined } | undefined {
  if (leaf.$source === source) return { value: leaf.value, timestamp: leaf.timestamp }
  const values = leaf.values
  const entry = isObject(values) ? values[source] : undefined
  return isObject(entry) ? { value: entry.value, timestamp: entry.timestamp } : undefined
}

/** The delta that sets the copies of resources of one type (signalk-server's `buildDeltaMsg`). */
function deltaOf(type: string, copies: readonly (Copy & { readonly id: string })[]): Operation {
  return {
    kind: 'delta',
    delta: {
      context: 'vessels.self',
      updates: copies.map(({ id, value, timestamp }) => ({
        $source: RESOURCE_SOURCE,
        timestamp,
        values: [{ path: `resources.${type}.${id}`, value }],
      })),
    },
  }
}

/** The root merge patch that sets `value` at `segments`. */
function rootPatch(segments: readonly string[], value: Json): JsonObject {
  const root: JsonObject = {}
  let node = root
  for (let i = 0; i < segments.length - 1; i++) {
    const next: JsonObject = {}
    node[segments[i]!] = next
    node = next
  }
  node[segments[segments.length - 1]!] = value
  return root
}
