/**
 * The one in-memory JSON tree of vessel state, in Signal K "full" format
 * (SPEC §1). Writes reach it only through the write port
 * (./write-port.ts), which derives one root-level RFC 7396 merge patch per
 * operation and calls {@link StateTree.apply}: atomic, it gets the next
 * revision when it changes something, and none when it does not.
 */
import { randomUUID } from 'node:crypto'
import { formatEventId, newEpoch } from './event-id.js'
import { History } from './history.js'
import { isObject, type Json, type JsonObject } from './json.js'
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
  /** Changes kept for resume; default `DEFAULTS.historySize`. */
  historySize?: number
  /** Estimated bytes of the changes kept for resume; default `DEFAULTS.historyBytes`. */
  historyBytes?: number
  /**
   * Start from a kept tree at its revision (a journal's snapshot, a
   * cluster's): the tree is taken as is (its `self` names the self key) and
   * `mmsi`/`uuid` are ignored. Its content must have been validated.
   */
  restore?: { readonly root: JsonObject; readonly rev: number }
  /** Where a listener that throws is reported; the change stands and the other listeners run. */
  onListenerError?: (err: unknown) => void
}

/** Receives every change, synchronously, in revision order. */
export type ChangeListener = (change: Change) => void

/** The state tree with its revision, epoch, history and per-subtree versions. */
export class StateTree {
  readonly history: History
  private epochValue: string
  private self: string
  private root: JsonObject
  private revision = 0
  private readonly versions = new WeakMap<object, number>()
  private readonly listeners: ChangeListener[] = []
  private readonly onListenerError: (err: unknown) => void

  constructor(options: StateTreeOptions = {}) {
    this.epochValue = options.epoch ?? newEpoch()
    this.history = new History({ size: options.historySize, bytes: options.historyBytes })
    this.onListenerError = options.onListenerError ?? reportToStderr
    if (options.restore !== undefined) {
      const { root, rev } = options.restore
      this.self = selfOf(root)
      this.root = root
      this.revision = rev
      this.markAll(this.root)
      return
    }
    const vessel: JsonObject = {}
    if (options.mmsi) {
      this.self = `urn:mrn:imo:mmsi:${options.mmsi}`
      vessel.mmsi = options.mmsi
    } else {
      this.self = `urn:mrn:signalk:uuid:${options.uuid ?? randomUUID()}`
      vessel.uuid = this.self
    }
    this.root = {
      version: SIGNALK_VERSION,
      self: `vessels.${this.self}`,
      vessels: { [this.self]: vessel },
      sources: {},
    }
    this.markAll(this.root)
  }

  /** Epoch of event ids: random per tree lifetime, or the cluster's / the data dir's. */
  get epoch(): string {
    return this.epochValue
  }

  /** The self vessel's key under `vessels`. */
  get selfKey(): string {
    return this.self
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
   * key is refused whole. Only the write port calls it, with a patch it
   * checked (bounded depth, finite numbers). Takes ownership of `patch`: the
   * caller must not reuse it. Returns the change, or undefined when nothing
   * changed. A listener that throws is reported and the others still run:
   * the change stands with its revision.
   */
  apply(patch: JsonObject): Change | undefined {
    // Checked here too, whatever the caller did: no write may reach a prototype.
    assertNoForbiddenKeys(patch)
    const next = this.revision + 1
    const { effect } = applyPatch(this.root, patch, (object) => this.versions.set(object, next))
    if (!effect) return undefined
    this.revision = next
    const change: Change = { rev: next, effect }
    this.history.push(change)
    for (const listener of this.listeners) {
      try {
        listener(change)
      } catch (err) {
        this.onListenerError(err)
      }
    }
    return change
  }

  /**
   * Replaces the whole tree with a kept one at its revision, in `epoch`
   * (the cluster's snapshot after Redis lost the log this replica followed,
   * or a new epoch seeded from this replica). No change is emitted and the
   * history is emptied: every resume point from before gets a reset, and
   * the caller ends the open streams so their clients resume through it.
   * `root` must have been validated, as for `restore`.
   */
  reset(state: { readonly root: JsonObject; readonly rev: number; readonly epoch: string }): void {
    assertNoForbiddenKeys(state.root)
    this.self = selfOf(state.root)
    this.root = state.root
    this.revision = state.rev
    this.epochValue = state.epoch
    this.history.clear()
    this.markAll(this.root)
  }

  private markAll(object: JsonObject): void {
    this.versions.set(object, this.revision)
    for (const key in object) {
      const member = object[key]
      if (isObject(member)) this.markAll(member)
    }
  }
}

/** The self key a kept tree names (`"self": "vessels.<key>"`); throws when it names none. */
function selfOf(root: JsonObject): string {
  const self = root.self
  if (typeof self !== 'string' || !self.startsWith('vessels.')) {
    throw new Error('A restored tree must name its self vessel ("self": "vessels.<key>")')
  }
  return self.slice('vessels.'.length)
}

function reportToStderr(err: unknown): void {
  process.stderr.write(
    `keelson: a change listener failed: ${(err as Error)?.stack ?? String(err)}\n`,
  )
}
