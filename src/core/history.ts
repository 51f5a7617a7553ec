/**
 * The bounded history of changes that lets a stream resume (SPEC §4): the
 * last `capacity` changes, in revision order, in a ring buffer.
 */
import type { Change } from './state-tree.js'

/** Default number of changes kept for resume. */
export const DEFAULT_HISTORY_SIZE = 10_000

/** A ring buffer of the most recent changes. */
export class History {
  private readonly ring: (Change | undefined)[]
  private start = 0
  private size = 0

  /** @param capacity - changes kept; default {@link DEFAULT_HISTORY_SIZE}. */
  constructor(readonly capacity: number = DEFAULT_HISTORY_SIZE) {
    this.ring = new Array(Math.max(1, capacity))
  }

  /** Appends a change; revisions must be consecutive. */
  push(change: Change): void {
    const cap = this.ring.length
    if (this.size < cap) {
      this.ring[(this.start + this.size) % cap] = change
      this.size++
    } else {
      this.ring[this.start] = change
      this.start = (this.start + 1) % cap
    }
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
    if (revision > current) return undefined
    if (revision === current) return []
    const oldest = this.oldest
    if (oldest === undefined || revision + 1 < oldest) return undefined
    const out: Change[] = []
    const cap = this.ring.length
    for (let i = revision + 1 - oldest; i < this.size; i++)
      out.push(this.ring[(this.start + i) % cap]!)
    return out
  }
}
