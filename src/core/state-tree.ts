/**
 * The one in-memory JSON tree of vessel state, in Signal K "full" format
 * (SPEC §1). Every write is a root-level RFC 7396 merge patch: atomic, it gets
 * the next revision when it changes something, and none when it does not.
 * Transports, the journal and the cluster all speak in these patches.
 */
import { randomUUID } from 'node:crypto'
import { Errors, KeelsonError } from './errors.js'
import { formatEventId, newEpoch } from './event-id.js'
import { DEFAULT_HISTORY_SIZE, History } from './history.js'
import { diff, isObject, type Json, type JsonObject } from './json.js'
import { applyPatch, type Effect } from './merge-patch.js'
import { readPath, type TreePath } from './path.js'
import { assertNoForbiddenKeys } from './validate.js'

/** The Signal K version of the tree format. */
export const SIGNALK_VERSION = '1.7.0'

/** One applied write. */
export interface Change {
  /** The revision this change produced. */
  readonly rev: number
  /** Its effect at the root of the tree. */
  readonly effect: Effect
}

/** Options of {@link StateTree}. */
export interface StateTreeOptions {
  /** Epoch of event ids; default a new random one. */
  epoch?: string
  /** Self vessel MMSI: the self key becomes `urn:mrn:imo:mmsi:<mmsi>`. */
  mmsi?: string
  /** Self vessel UUID (`urn:mrn:signalk:uuid:<uuid>`), used when no MMSI is set; default random. */
  uuid?: string
  /** Changes kept for resume; default {@link DEFAULT_HISTORY_SIZE}. */
  historySize?: number
}

/** Receives every change, synchronously, in revision order. */
export type ChangeListener = (change: Change) => void

/** The state tree with its revision, epoch, history and per-subtree versions. */
export class StateTree {
  readonly epoch: string
  /** The self vessel's key under `vessels`. */
  readonly selfKey: string
  readonly history: History
  private readonly root: JsonObject
  private revision = 0
  private readonly versions = new WeakMap<object, number>()
  private readonly listeners: ChangeListener[] = []

  constructor(options: StateTreeOptions = {}) {
    this.epoch = options.epoch ?? newEpoch()
    this.history = new History(options.historySize ?? DEFAULT_HISTORY_SIZE)
    const vessel: JsonObject = {}
    if (options.mmsi) {
      this.selfKey = `urn:mrn:imo:mmsi:${options.mmsi}`
      vessel.mmsi = options.mmsi
    } else {
      this.selfKey = `urn:mrn:signalk:uuid:${options.uuid ?? randomUUID()}`
      vessel.uuid = this.selfKey
    }
    this.root = {
      version: SIGNALK_VERSION,
      self: `vessels.${this.selfKey}`,
      vessels: { [this.selfKey]: vessel },
      sources: {},
    }
    this.markAll(this.root)
  }

  /** The current revision (0 before the first write). */
  get rev(): number {
    return this.revision
  }

  /** The event id of the current revision. */
  get eventId(): string {
    return formatEventId(this.epoch, this.revision)
  }

  /** The event id of `rev` in this tree's epoch. */
  idOf(rev: number): string {
    return formatEventId(this.epoch, rev)
  }

  /** The value read at `path` (SPEC §2), or undefined. Live: do not mutate it. */
  get(path: TreePath): Json | undefined {
    return readPath(this.root, path)
  }

  /**
   * The revision that last changed anything inside `object`, an object of
   * this tree; it changes when, and only when, that subtree changes.
   */
  versionOf(object: JsonObject): number | undefined {
    return this.versions.get(object)
  }

  /** Calls `listener` with every change from now on; returns the unsubscribe function. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.push(listener)
    return () => {
      const at = this.listeners.indexOf(listener)
      if (at >= 0) this.listeners.splice(at, 1)
    }
  }

  /**
   * Applies a root-level merge patch, atomically: a patch holding a forbidden
   * key is refused whole. Takes ownership of `patch`: the caller must not
   * reuse it. Returns the change, or undefined when nothing changed.
   */
  apply(patch: JsonObject): Change | undefined {
    // Checked here too, whatever the transport did: no write may reach a prototype.
    assertNoForbiddenKeys(patch)
    const next = this.revision + 1
    const { effect } = applyPatch(this.root, patch, (object) => this.versions.set(object, next))
    if (!effect) return undefined
    this.revision = next
    const change: Change = { rev: next, effect }
    this.history.push(change)
    for (const listener of this.listeners) listener(change)
    return change
  }

  /** RFC 7396 merge of `patch` at `path`, creating missing parents (SPEC §3 PATCH). */
  patch(path: TreePath, patch: Json): Change | undefined {
    assertWritable(path)
    if (path.segments.length === 0 && !isObject(patch)) {
      throw new KeelsonError(Errors.ROOT_NOT_OBJECT, 'A PATCH of the root must be a JSON object')
    }
    return this.apply(wrap(path.segments, patch))
  }

  /** Replaces the subtree at `path` with `value`, creating missing parents (SPEC §3 PUT). */
  put(path: TreePath, value: Json): Change | undefined {
    assertWritable(path)
    if (path.segments.length === 0 && !isObject(value)) {
      throw new KeelsonError(Errors.ROOT_NOT_OBJECT, 'A PUT of the root must be a JSON object')
    }
    const current = this.get(path)
    return this.apply(wrap(path.segments, current === undefined ? value : diff(current, value)))
  }

  /** Removes the subtree at `path` (SPEC §3 DELETE); throws when it is absent. */
  delete(path: TreePath): Change | undefined {
    assertWritable(path)
    if (path.segments.length === 0) {
      throw new KeelsonError(Errors.ROOT_NOT_OBJECT, 'The root cannot be deleted')
    }
    if (this.get(path) === undefined) throw new KeelsonError(Errors.PATH_NOT_FOUND)
    return this.apply(wrap(path.segments, null))
  }

  private markAll(object: JsonObject): void {
    this.versions.set(object, this.revision)
    for (const key in object) {
      const member = object[key]
      if (isObject(member)) this.markAll(member)
    }
  }
}

function assertWritable(path: TreePath): void {
  if (path.starAt >= 0) throw new KeelsonError(Errors.WILDCARD_WRITE)
}

/** `value` wrapped in one object per segment: the root patch that puts it at that path. */
function wrap(segments: readonly string[], value: Json): JsonObject {
  let out = value
  for (let i = segments.length - 1; i >= 0; i--) out = { [segments[i]!]: out }
  return out as JsonObject
}
