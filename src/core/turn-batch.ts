/**
 * The end-of-turn write batch shared by every stream transport: writers
 * queue frames during an event-loop turn, mark themselves dirty, and are
 * flushed by a `setImmediate`, each in a single write. Writers of one scope
 * flush one after the other with the very same frame Buffers, so the last
 * join is kept and reused: one copy per scope, then one `write` per socket
 * (bench b2, bench/RESULTS.md).
 *
 * A flush writes at most `sliceSize` writers, then yields to the event loop
 * and goes on in the next turn: a change that arrives while a large fan-out
 * is being written (10,000 sockets take ~100 ms of `write` calls here) is
 * applied at once and reaches the writers not yet written in that same pass,
 * in the write they were due anyway, instead of waiting for the whole pass.
 */

/**
 * Called at the start of every flush, before any frame is written: the sync
 * journal makes this turn's changes durable there (SPEC §9), so no stream
 * ever carries a change a crash could still lose.
 */
const barriers: (() => void)[] = []

/** Runs `barrier` before every flush of every batch; returns the function that removes it. */
export function addFlushBarrier(barrier: () => void): () => void {
  barriers.push(barrier)
  return () => {
    const at = barriers.indexOf(barrier)
    if (at >= 0) barriers.splice(at, 1)
  }
}

/**
 * Runs every barrier now: for a writer that writes outside the batch (a
 * connection past its high-water mark writes at once), so those frames too
 * go out only after the journal's flush.
 */
export function runFlushBarriers(): void {
  for (const barrier of barriers) barrier()
}

/** Something with frames queued for this turn. */
export interface TurnWriter {
  flush(): void
}

/** Writers flushed in one turn before the batch yields. Bench (c), bench/RESULTS.md. */
export const SLICE_SIZE = 256

/** One batch per transport: no timer, no closure per writer or per event. */
export class TurnBatch<W extends TurnWriter> {
  private dirty: W[] = []
  /** Where the flush in progress has got to in `dirty`. */
  private next = 0
  private queued = false
  private lastJoin: { frames: Buffer[]; bytes: Buffer } | undefined
  private readonly flushTurn = (): void => this.flush()

  constructor(private readonly sliceSize = SLICE_SIZE) {}

  /** Flushes `writer` in a coming turn (call once, when its first frame is queued). */
  markDirty(writer: W): void {
    this.dirty.push(writer)
    if (this.queued) return
    this.queued = true
    setImmediate(this.flushTurn)
  }

  /** `frames` as one Buffer, joined once for every writer due the same frames in this slice. */
  joined(frames: readonly Buffer[]): Buffer {
    const last = this.lastJoin
    if (last !== undefined && sameFrames(last.frames, frames)) return last.bytes
    const bytes = Buffer.concat(frames)
    this.lastJoin = { frames: frames.slice(), bytes }
    return bytes
  }

  private flush(): void {
    const dirty = this.dirty
    runFlushBarriers()
    const end = Math.min(dirty.length, this.next + this.sliceSize)
    this.lastJoin = undefined
    for (let i = this.next; i < end; i++) dirty[i]!.flush()
    this.lastJoin = undefined
    if (end < dirty.length) {
      // Writers marked during this pass were pushed behind it; the rest go in the next turn.
      // The written part is dropped once it is most of the array, so a batch that never
      // runs dry does not grow.
      if (end > dirty.length / 2) {
        this.dirty = dirty.slice(end)
        this.next = 0
      } else this.next = end
      setImmediate(this.flushTurn)
      return
    }
    this.dirty = []
    this.next = 0
    this.queued = false
  }
}

function sameFrames(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
