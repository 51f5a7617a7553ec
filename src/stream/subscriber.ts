/**
 * One subscription of a stream connection: a path, the view it reads
 * through, what it holds back and its throttle. Protocols subclass it with
 * their own notion of "what is held" (SSE: one composed merge patch; the
 * Signal K WebSocket: the latest item per path); scheduling lives here, on
 * the app's one shared {@link Scheduler}, with a run that is cancelled when
 * the subscription closes — a closed subscription leaves nothing behind.
 */
import type { ScopedUpdate, Subscriber, Subscription } from '../core/hub.js'
import type { TreePath } from '../core/path.js'
import { monotonicNow, type Task, type Timer } from '../core/scheduler.js'
import type { View } from '../core/view.js'
import type { Connection } from './connection.js'

/** A subscription of one connection. */
export abstract class StreamSubscriber implements Subscriber, Task {
  /** Earliest time ({@link monotonicNow} ms) the next event may go out (`minPeriod`). */
  protected nextAt = 0
  private handle: Subscription | undefined
  private timer: Timer | undefined
  private closedFlag = false

  constructor(
    readonly connection: Connection,
    /** The path; once listening, the hub's shared copy of it. */
    public path: TreePath,
    readonly view: View,
  ) {}

  /** Called by the hub, synchronously, for each change that touches the path as the view sees it. */
  abstract deliver(update: ScopedUpdate): void

  /** True while changes are held back, not yet sent. */
  abstract get holding(): boolean

  /** Scheduler task: sends what is due. */
  abstract run(now: number): void

  /** True once closed. */
  get closed(): boolean {
    return this.closedFlag
  }

  /** Starts receiving changes; call once, after the first events are queued. */
  listen(): void {
    if (this.closedFlag) return
    this.handle = this.connection.streams.hub.subscribe(this.path, this, this.view)
    this.path = this.handle.path
  }

  /** The connection drained (or its turn's queue was written): send what is held. */
  resume(): void {
    if (!this.closedFlag) this.run(monotonicNow())
  }

  /** Stops for good: off the hub, its scheduled run cancelled. Idempotent. */
  close(): void {
    if (this.closedFlag) return
    this.closedFlag = true
    this.connection.streams.scheduler.cancel(this.timer)
    this.timer = undefined
    this.handle?.unsubscribe()
    this.handle = undefined
    this.dropHeld()
  }

  /** Lets go of what is held (on close). */
  protected abstract dropHeld(): void

  /** Runs at `at` unless a run is already queued no later. */
  protected wake(at: number): void {
    if (this.closedFlag) return
    const timer = this.timer
    if (timer?.pending && timer.due <= at) return
    const scheduler = this.connection.streams.scheduler
    scheduler.cancel(timer)
    this.timer = scheduler.at(at, this)
  }
}
