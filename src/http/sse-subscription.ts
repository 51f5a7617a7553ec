/**
 * The subscription of an SSE stream (SPEC §4): the path's scoped merge
 * patches, sent as they come, or — throttled by `minPeriod` or held while
 * the connection is congested — composed into one exact patch
 * (src/core/merge-patch.ts `composeEffects`) and sent when the period and
 * the socket allow. Memory per client stays one composed patch, whatever
 * the ingest rate.
 */
import type { ScopedUpdate } from '../core/hub.js'
import { composeEffects, type Effect } from '../core/merge-patch.js'
import type { TreePath } from '../core/path.js'
import { monotonicNow } from '../core/scheduler.js'
import type { View } from '../core/view.js'
import { StreamSubscriber } from '../stream/subscriber.js'
import type { SseConnection } from './sse-connection.js'

/** How an SSE subscription gets its shared frames. */
export interface SseFrames {
  /** The bytes of `update`'s event, built once per (scope, view) and transfer coding. */
  frameOf(update: ScopedUpdate, chunked: boolean): Buffer
  /** The event id of a revision. */
  idOf(rev: number): string
}

/** One path of one SSE stream. */
export class SseSubscription extends StreamSubscriber {
  /** Changes held back, composed into one. */
  private pending: Effect | undefined
  private pendingRev = 0

  constructor(
    private readonly sse: SseConnection,
    path: TreePath,
    view: View,
    private readonly frames: SseFrames,
    /** At most one event per this many ms after the first; 0 = no throttle. */
    private readonly minPeriod: number,
  ) {
    super(sse, path, view)
  }

  get holding(): boolean {
    return this.pending !== undefined
  }

  /** Queues an event built for this subscription alone (snapshot, resume). */
  sendEvent(rev: number, data: string | undefined): void {
    if (this.minPeriod > 0) this.nextAt = monotonicNow() + this.minPeriod
    this.sse.sendEvent(this.frames.idOf(rev), data)
  }

  deliver(update: ScopedUpdate): void {
    if (this.pending !== undefined || this.sse.congested) {
      this.hold(update)
      return
    }
    if (this.minPeriod > 0) {
      const now = monotonicNow()
      if (now < this.nextAt) {
        this.hold(update)
        return
      }
      this.nextAt = now + this.minPeriod
    }
    this.sse.send(this.frames.frameOf(update, this.sse.chunked))
  }

  run(now: number): void {
    const pending = this.pending
    if (this.closed || pending === undefined || this.sse.congested) return
    if (now < this.nextAt) {
      this.wake(this.nextAt)
      return
    }
    this.pending = undefined
    this.sendEvent(this.pendingRev, JSON.stringify(pending.patch))
  }

  protected dropHeld(): void {
    this.pending = undefined
  }

  private hold(update: ScopedUpdate): void {
    if (this.pending !== undefined) this.sse.stats.coalesced++
    this.pending = this.pending ? composeEffects(this.pending, update.effect) : update.effect
    this.pendingRev = update.rev
    // A congested connection resumes its subscriptions itself when it drains.
    if (this.sse.draining) this.wake(this.nextAt)
  }
}
