/**
 * The bounded history of changes that lets a stream resume (SPEC §1, §4):
 * the most recent changes in revision order, in a ring buffer bounded by
 * count and by bytes, and the catch-up a resuming reader of a path needs,
 * computed once per (path, view, revision) however many readers reconnect
 * at once (bench storm, bench/RESULTS.md).
 *
 * Each change is kept as its effect's JSON text, not as the effect's
 * objects: one string per change instead of a graph of objects that holds
 * every value the change replaced, so the young generation's collections
 * (which copy every object still alive) stay short while thousands of
 * changes a second pass through, and the bound is in real bytes. Reading
 * them back (a resume, rare) parses them.
 */
import { DEFAULTS } from '../options.js'
import type { Json } from './json.js'
import { composeEffects, type Effect } from './merge-patch.js'
import type { TreePath } from './path.js'
import { scopeEffect } from './scope.js'
import type { Change } from './state-tree.js'

/** Default number of changes kept for resume. */
export const DEFAULT_HISTORY_SIZE = DEFAULTS.historySize

/** Options of {@link History}. */
export interface HistoryOptions {
  /** Changes kept; default {@link DEFAULTS}.historySize. */
  size?: number
  /** Bytes of the changes kept (their JSON text); default {@link DEFAULTS}.historyBytes. */
  bytes?: number
}

/** One change as kept: its revision and `[patch, inverse]` as JSON text. */
interface Kept {
  readonly rev: number
  readonly json: string
}

/** Bytes a kept change holds besides its text: the record and the string's header. */
const KEPT_OVERHEAD = 64

function restore(kept: Kept): Change {
  const [patch, inverse] = JSON.parse(kept.json) as [Json, Json]
  return { rev: kept.rev, effect: { patch, inverse } }
}

/** A ring buffer of the most recent changes. */
export class History {
  readonly capacity: number
  readonly maxBytes: number
  private readonly ring: (Kept | undefined)[]
  private readonly sizes: number[]
  private start = 0
  private size = 0
  private heldBytes = 0
  private cacheRev = -1
  private readonly catchUps = new Map<string, Effect | null | undefined>()

  constructor(options: HistoryOptions = {}) {
    this.capacity = Math.max(1, options.size ?? DEFAULTS.historySize)
    this.maxBytes = options.bytes ?? DEFAULTS.historyBytes
    this.ring = new Array(this.capacity)
    this.sizes = new Array(this.capacity).fill(0)
  }

  /** Bytes held (the changes' JSON text, one byte a character, plus a little per change). */
  get bytes(): number {
    return this.heldBytes
  }

  /** Number of changes held. */
  get length(): number {
    return this.size
  }

  /** Appends a change; revisions must be consecutive. Older changes go past either bound. */
  push(change: Change): void {
    const json = JSON.stringify([change.effect.patch, change.effect.inverse])
    const bytes = json.length + KEPT_OVERHEAD
    const cap = this.ring.length
    if (this.size === cap) this.dropOldest()
    const at = (this.start + this.size) % cap
    this.ring[at] = { rev: change.rev, json }
    this.sizes[at] = bytes
    this.size++
    this.heldBytes += bytes
    // The newest change stays even when it alone is over the bound: the next one pushes it out.
    while (this.heldBytes > this.maxBytes && this.size > 1) this.dropOldest()
  }

  /** Forgets every change (the tree was replaced: nothing before can be resumed). */
  clear(): void {
    while (this.size > 0) this.dropOldest()
    this.start = 0
    this.cacheRev = -1
    this.catchUps.clear()
  }

  /** The oldest revision retained, or undefined when empty. */
  get oldest(): number | undefined {
    return this.size === 0 ? undefined : this.ring[this.start]!.rev
  }

  /**
   * The changes after `revision` up to `current`, oldest first; undefined when
   * some of them are no longer retained.
   */
  since(revision: number, current: number): Change[] | undefined {
    if (!this.covers(revision, current)) return undefined
    const out: Change[] = []
    const cap = this.ring.length
    for (let i = revision + 1 - this.oldest!; i < this.size; i++)
      out.push(restore(this.ring[(this.start + i) % cap]!))
    return out
  }

  /**
   * What a reader of `path` missed after `revision`, up to `current`, as one
   * effect: null when nothing touched the path, undefined when the history
   * no longer covers it (the reader gets a reset). `viewKey` names the view
   * `filter` applies, so readers of one (path, view) share one result per
   * revision.
   */
  catchUp(
    path: TreePath,
    revision: number,
    current: number,
    viewKey = '',
    filter?: (effect: Effect) => Effect | undefined,
  ): Effect | null | undefined {
    if (revision === current && revision >= 0) return null
    if (!this.covers(revision, current)) return undefined
    if (this.cacheRev !== current) {
      this.catchUps.clear()
      this.cacheRev = current
    }
    const key = `${revision}\u0000${viewKey}\u0000${path.segments.join('\u0000')}`
    if (this.catchUps.has(key)) return this.catchUps.get(key)
    let effect: Effect | undefined
    const cap = this.ring.length
    for (let i = revision + 1 - this.oldest!; i < this.size; i++) {
      const change = restore(this.ring[(this.start + i) % cap]!)
      let scoped = scopeEffect(change.effect, path)
      if (scoped !== undefined && filter !== undefined) scoped = filter(scoped)
      if (scoped !== undefined) effect = effect ? composeEffects(effect, scoped) : scoped
    }
    const result = effect ?? null
    // Bounded: one entry per (path, view, resume point) asked for within one revision.
    if (this.catchUps.size < 10_000) this.catchUps.set(key, result)
    return result
  }

  private covers(revision: number, current: number): boolean {
    if (revision > current || revision < 0) return false
    if (revision === current) return true
    const oldest = this.oldest
    return oldest !== undefined && revision + 1 >= oldest
  }

  private dropOldest(): void {
    const cap = this.ring.length
    this.heldBytes -= this.sizes[this.start]!
    this.ring[this.start] = undefined
    this.sizes[this.start] = 0
    this.start = (this.start + 1) % cap
    this.size--
  }
}
