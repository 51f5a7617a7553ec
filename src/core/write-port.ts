/**
 * The one write port (SPEC §1): every write — REST PATCH/PUT/DELETE,
 * Signal K deltas from a WebSocket, NMEA 0183 ingest, and later telemetry,
 * journal replay and the cluster — enters the tree here, as an
 * {@link Operation}. An operation is plain data that does not depend on the
 * local tree (a delta is stamped with its time and source before it gets
 * here), so a journal or a Redis log can record it and every replica
 * derives the same effect from it.
 *
 * The port checks an operation whole (path keys, depth counted from the root
 * of the tree, forbidden keys, non-finite numbers, nulls), derives its root
 * merge patch from the tree, and applies it: a write is wholly applied with
 * its revision and event, or refused with a {@link KeelsonError} and nothing
 * of it applied.
 */
import type { Logger } from 'pino'
import { DEFAULTS } from '../options.js'
import { type Delta, deltaToPatch } from '../signalk/delta.js'
import { Errors, KeelsonError } from './errors.js'
import { diff, isObject, type Json, type JsonObject } from './json.js'
import { checkKey, getAt, type TreePath, WILDCARD } from './path.js'
import type { Change, StateTree } from './state-tree.js'
import { tooDeep, validateValue } from './validate.js'

/** A write, as the port takes it and a log would record it. */
export type Operation =
  /** RFC 7396 merge of `value` at `path`, creating missing parents (SPEC §3 PATCH). */
  | { readonly kind: 'merge'; readonly path: readonly string[]; readonly value: Json }
  /** Replace the subtree at `path` with `value`, creating missing parents (SPEC §3 PUT). */
  | { readonly kind: 'put'; readonly path: readonly string[]; readonly value: Json }
  /** Remove the subtree at `path`; refused with PATH_NOT_FOUND when absent (SPEC §3 DELETE). */
  | { readonly kind: 'delete'; readonly path: readonly string[] }
  /**
   * A Signal K delta, stamped ({@link stampDelta}) so it derives the same
   * effect wherever it is applied. `builtIn`: made by this process's NMEA
   * decoder, not parsed from a client (skips the walk of the whole message;
   * every value is still checked). `defaultSource`: the `$source` of
   * updates that carry neither `source` nor `$source` (the connection's label).
   */
  | {
      readonly kind: 'delta'
      readonly delta: Delta
      readonly builtIn?: boolean
      readonly defaultSource?: string
    }

/**
 * Decides whether the writer may make a write, given the root merge patch
 * the operation derived: throws (a 403 KeelsonError naming the path) to
 * refuse it whole. Security's ACLs plug in here (SPEC §8).
 */
export type Authorize = (patch: JsonObject, operation: Operation) => void

/** Called after each applied operation, in revision order (journal, cluster, metrics). */
export type OperationListener = (operation: Operation, change: Change) => void

/**
 * Makes applied writes durable (SPEC §9 journal): the port applies an
 * operation at once and {@link WritePort.submit} answers only when the
 * change's record is on disk.
 */
export interface Durability {
  /** Resolves once `change` is durable; rejects (503 UNAVAILABLE) when it cannot be. */
  whenDurable(change: Change): Promise<void>
  /** Why writes are refused right now (a failed fsync), or undefined. */
  refusal(): KeelsonError | undefined
}

/**
 * Orders writes before any replica applies them (SPEC §9 cluster): the port
 * checks an operation against this replica and hands it over; every replica,
 * this one included, applies it when it comes back in order, through
 * {@link WritePort.commit}.
 */
export interface Sequencer {
  /**
   * Appends a checked operation; resolves with this replica's change (or
   * undefined: it changed nothing) once applied here, rejects with the
   * refusal it met when applied (or 503/504 when it could not be appended).
   */
  append(operation: Operation): Promise<Change | undefined>
  /** Why writes are refused right now (the log is unreachable), or undefined. */
  refusal(): KeelsonError | undefined
}

/** Options of {@link WritePort}. */
export interface WritePortOptions {
  /** Deepest level a write may reach from the root of the tree. Default {@link DEFAULTS}.maxDepth. */
  maxDepth?: number
  /** Where a failing listener is reported. Default: nowhere but the listener's own logs. */
  log?: Logger
}

/** The port of each tree: a tree has one. */
const ports = new WeakMap<StateTree, WritePort>()

/** The write port of one tree; a tree has exactly one ({@link WritePort.of}). */
export class WritePort {
  readonly maxDepth: number
  private readonly listeners: OperationListener[] = []
  private readonly log: Logger | undefined
  private durability: Durability | undefined
  private sequencer: Sequencer | undefined

  /** Makes the port of `tree`; throws when the tree already has one. */
  constructor(
    readonly tree: StateTree,
    options: WritePortOptions = {},
  ) {
    if (ports.has(tree)) throw new Error('This tree already has its write port: use WritePort.of')
    this.maxDepth = options.maxDepth ?? DEFAULTS.maxDepth
    this.log = options.log
    ports.set(tree, this)
  }

  /** The port of `tree`, made with default options when it has none yet. */
  static of(tree: StateTree): WritePort {
    return ports.get(tree) ?? new WritePort(tree)
  }

  /**
   * Checks `operation` whole and applies it, synchronously. Returns the
   * change, or undefined when it changed nothing (no revision, no event).
   * Throws a {@link KeelsonError} for any refusal, nothing applied.
   *
   * With a {@link Sequencer} the operation is checked here and handed to it
   * (applied when it comes back in order; returns undefined): the form for
   * writers that wait for no answer (NMEA ingest, Signal K deltas).
   */
  write(operation: Operation, authorize?: Authorize): Change | undefined {
    const refusal = this.refusal()
    if (refusal !== undefined) throw refusal
    if (this.sequencer !== undefined) {
      this.check(operation, authorize)
      this.sequencer.append(operation).catch((err) => {
        this.log?.warn({ err }, 'a write handed to the log was not applied')
      })
      return undefined
    }
    return this.commit(operation, authorize)
  }

  /**
   * {@link write} as a promise: what a transport that answers awaits. It
   * settles when the write is acknowledged: at once with no journal or
   * cluster, once its record is on disk with a sync journal, once this
   * replica applied it from the cluster's log.
   */
  submit(operation: Operation, authorize?: Authorize): Promise<Change | undefined> {
    try {
      const refusal = this.refusal()
      if (refusal !== undefined) throw refusal
      if (this.sequencer !== undefined) {
        this.check(operation, authorize)
        return this.sequencer.append(operation)
      }
      const change = this.commit(operation, authorize)
      if (change === undefined || this.durability === undefined) return Promise.resolve(change)
      return this.durability.whenDurable(change).then(() => change)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /**
   * Derives, checks and applies `operation` here and now, whatever the
   * journal or cluster: what {@link write} does with neither, and how a
   * {@link Sequencer} applies the operations of its log in order.
   */
  commit(operation: Operation, authorize?: Authorize): Change | undefined {
    const patch = this.derive(operation)
    authorize?.(patch, operation)
    const change = this.tree.apply(patch)
    if (change !== undefined) {
      for (const listener of this.listeners) {
        try {
          listener(operation, change)
        } catch (err) {
          this.log?.error({ err }, 'a write listener failed; the write stands')
        }
      }
    }
    return change
  }

  /** Derives and authorizes `operation` against this replica, applying nothing; throws its refusal. */
  private check(operation: Operation, authorize: Authorize | undefined): void {
    const patch = this.derive(operation)
    authorize?.(patch, operation)
  }

  /** Makes acknowledged writes wait for `durability` (the journal); one at a time. */
  useDurability(durability: Durability | undefined): void {
    this.durability = durability
  }

  /** Orders every write through `sequencer` (the cluster's log); one at a time. */
  useSequencer(sequencer: Sequencer | undefined): void {
    this.sequencer = sequencer
  }

  /** Why writes are refused right now (503 from the journal or the cluster), or undefined. */
  refusal(): KeelsonError | undefined {
    return this.sequencer?.refusal() ?? this.durability?.refusal()
  }

  /** Calls `listener` after every applied operation; returns the function that stops it. */
  onWrite(listener: OperationListener): () => void {
    this.listeners.push(listener)
    return () => {
      const at = this.listeners.indexOf(listener)
      if (at >= 0) this.listeners.splice(at, 1)
    }
  }

  /** RFC 7396 merge at `path` (a parsed URL or dot path). */
  patch(path: TreePath, value: Json, authorize?: Authorize): Change | undefined {
    return this.write({ kind: 'merge', path: writable(path), value }, authorize)
  }

  /** Replaces the subtree at `path`. */
  put(path: TreePath, value: Json, authorize?: Authorize): Change | undefined {
    return this.write({ kind: 'put', path: writable(path), value }, authorize)
  }

  /** Removes the subtree at `path`. */
  delete(path: TreePath, authorize?: Authorize): Change | undefined {
    return this.write({ kind: 'delete', path: writable(path) }, authorize)
  }

  /** The root merge patch of `operation`, checked whole; throws and applies nothing on refusal. */
  private derive(operation: Operation): JsonObject {
    const maxDepth = this.maxDepth
    switch (operation.kind) {
      case 'merge':
      case 'put': {
        const { path, value } = operation
        checkPath(path, maxDepth)
        const put = operation.kind === 'put'
        if (put && value === null) {
          throw new KeelsonError(Errors.NULL_NOT_ALLOWED, 'A PUT body cannot be null; use DELETE')
        }
        if (path.length === 0 && !isObject(value)) {
          throw new KeelsonError(
            Errors.ROOT_NOT_OBJECT,
            `A ${put ? 'PUT' : 'PATCH'} of the root must be a JSON object`,
          )
        }
        validateValue(value, { maxDepth, baseDepth: path.length, allowNullMembers: !put })
        if (!put) return wrap(path, value)
        const current = getAt(this.tree.get(ROOT), path)
        return wrap(path, current === undefined ? value : diff(current, value))
      }
      case 'delete': {
        const { path } = operation
        checkPath(path, maxDepth)
        if (path.length === 0) {
          throw new KeelsonError(Errors.ROOT_NOT_OBJECT, 'The root cannot be deleted')
        }
        if (getAt(this.tree.get(ROOT), path) === undefined) {
          throw new KeelsonError(Errors.PATH_NOT_FOUND)
        }
        return wrap(path, null)
      }
      case 'delta':
        return deltaToPatch(this.tree, operation.delta, {
          builtInProcess: operation.builtIn === true,
          defaultSource: operation.defaultSource,
          maxDepth,
        })
      default:
        throw new KeelsonError(Errors.BAD_MESSAGE, 'Unknown write operation')
    }
  }
}

const ROOT: TreePath = { segments: [], starAt: -1 }

/** The segments of a path a write may address: no `*`. */
function writable(path: TreePath): readonly string[] {
  if (path.starAt >= 0) throw new KeelsonError(Errors.WILDCARD_WRITE)
  return path.segments
}

function checkPath(path: readonly string[], maxDepth: number): void {
  if (!Array.isArray(path)) throw new KeelsonError(Errors.BAD_PATH, 'A write needs a path')
  if (path.length > maxDepth) throw tooDeep(maxDepth)
  for (const key of path) {
    if (typeof key !== 'string') throw new KeelsonError(Errors.BAD_PATH, 'Path keys are strings')
    if (key === WILDCARD) throw new KeelsonError(Errors.WILDCARD_WRITE)
    checkKey(key)
  }
}

/** `value` wrapped in one object per segment: the root patch that puts it at that path. */
function wrap(segments: readonly string[], value: Json): JsonObject {
  let out = value
  for (let i = segments.length - 1; i >= 0; i--) out = { [segments[i]!]: out }
  return out as JsonObject
}
