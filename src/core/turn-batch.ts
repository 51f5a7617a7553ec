/**
 * The end-of-turn write batch shared by every stream transport: writers
 * queue frames during an event-loop turn, mark themselves dirty, and are all
 * flushed by one `setImmediate`, each in a single write. Writers of one scope
 * flush one after the other with the very same frame Buffers, so the last
 * join is kept for the turn and reused: one copy per scope, then one `write`
 * per socket (bench b2, bench/RESULTS.md).
 */

/** Something with frames queued for this turn. */
export interface TurnWriter {
  flush(): void
}

/** One batch per transport: no timer, no closure per writer or per event. */
export class TurnBatch<W extends TurnWriter> {
  private dirty: W[] = []
  private queued = false
  private lastJoin: { frames: Buffer[]; bytes: Buffer } | undefined
  private readonly flushTurn = (): void => this.flush()

  /** Flushes `writer` at the end of this turn (call once per turn, when its first frame is queued). */
  markDirty(writer: W): void {
    this.dirty.push(writer)
    if (this.queued) return
    this.queued = true
    setImmediate(this.flushTurn)
  }

  /** `frames` as one Buffer, joined once for every writer due the same frames this turn. */
  joined(frames: readonly Buffer[]): Buffer {
    const last = this.lastJoin
    if (last !== undefined && sameFrames(last.frames, frames)) return last.bytes
    const bytes = Buffer.concat(frames)
    this.lastJoin = { frames: frames.slice(), bytes }
    return bytes
  }

  private flush(): void {
    this.queued = false
    this.lastJoin = undefined
    const dirty = this.dirty
    this.dirty = []
    for (let i = 0; i < dirty.length; i++) dirty[i]!.flush()
    this.lastJoin = undefined
  }
}

function sameFrames(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
