/**
 * A playback (SPEC §9): one subscription of a stream connection that
 * replays the journal's recorded changes from a past moment at the
 * recorded pace scaled by a rate, whatever the protocol (SSE playback,
 * the Signal K WebSocket playback). The protocol subclass turns each
 * change into its messages and decides what happens once the replay has
 * caught up with the present.
 *
 * It holds the past tree — only the branch it reads — and one change
 * fetched ahead: changes are pulled from the journal's iterator one at a
 * time, when due and when the connection is not congested, so a client
 * that reads slowly slows its playback down instead of making keelson
 * buffer a week of history; a client that stops reading is closed by the
 * stall sweep like any stream. Waits run on the app's shared scheduler.
 */
import type { ScopedUpdate } from '../core/hub.js'
import { isObject, type Json, type JsonObject } from '../core/json.js'
import { applyPatch, type Effect } from '../core/merge-patch.js'
import { getAt, type TreePath } from '../core/path.js'
import { monotonicNow } from '../core/scheduler.js'
import type { View } from '../core/view.js'
import type { PastChange, TimeTravel } from '../journal/time-travel.js'
import type { Connection } from './connection.js'
import { StreamSubscriber } from './subscriber.js'

/** Longest single wait, ms: a longer one is taken in steps (node's timers stop at 2^31 ms). */
const MAX_WAIT_MS = 3_600_000
/**
 * The shortest wait of a playback that has replayed all that is recorded
 * before it asks the journal again (signalk-server's history providers ask
 * once a second too).
 */
export const PLAYBACK_POLL_MS = 1000
/** Changes replayed in one go before the event loop is yielded to other work. */
const BURST = 256

/** Where a playback starts. */
export interface PlaybackStart {
  /** The journal it replays. */
  readonly journal: TimeTravel
  /** The moment asked for, ms since 1970: the playback clock starts there. */
  readonly startTime: number
  /** The playback rate: 1 the recorded pace, 2 twice as fast. */
  readonly rate: number
  /** The past tree at {@link rev}, owned by the playback (see {@link prunedRoot}). */
  readonly root: JsonObject
  /** The revision of {@link root}. */
  readonly rev: number
  /**
   * The revision the client already holds, when it resumes a playback
   * (`Last-Event-ID`, at or after {@link rev}): the changes up to it are
   * applied without being sent, and the clock starts at its record's time.
   */
  readonly resumeAt?: number
  /** Gives back the playback's slot of time-travel work (idempotent). */
  readonly release: () => void
}

/**
 * The root of `root` keeping only the branch at `base` (the keys above
 * what a playback reads): the rest of the past tree is let go at once.
 */
export function prunedRoot(root: JsonObject, base: readonly string[]): JsonObject {
  if (base.length === 0) return root
  const node = getAt(root, base, 0, 1)
  return node === undefined ? {} : { [base[0]!]: prune(node, base, 1) }
}

function prune(node: Json, base: readonly string[], from: number): Json {
  if (from === base.length || !isObject(node)) return node
  const key = base[from]!
  return Object.hasOwn(node, key) ? { [key]: prune(node[key]!, base, from + 1) } : {}
}

/**
 * The part of a root merge patch that touches the branch at `base`, as a
 * root patch; undefined when it leaves the branch alone.
 */
export function patchOfBranch(patch: JsonObject, base: readonly string[]): JsonObject | undefined {
  if (base.length === 0) return patch
  let node: Json = patch
  let depth = 0
  for (; depth < base.length; depth++) {
    // A non-object replaces the node here, and the branch below it with it.
    if (!isObject(node)) break
    const key = base[depth]!
    if (!Object.hasOwn(node, key)) return undefined
    node = node[key]!
  }
  let out: Json = node
  for (let i = depth - 1; i >= 0; i--) out = { [base[i]!]: out }
  return out as JsonObject
}

/** A replay of the journal on one connection. */
export abstract class Playback extends StreamSubscriber {
  /** The revision the client's messages have brought it to (every change up to it is applied). */
  sentRev: number
  /** The revision of the past tree held. */
  protected rev: number
  protected readonly root: JsonObject
  protected readonly base: readonly string[]
  private readonly journal: TimeTravel
  private readonly rate: number
  private readonly release: () => void
  private resumeAt: number
  /** The playback clock: `clockTime` (ms since 1970) was current at `clockWall` (Date.now()). */
  private clockTime: number
  private clockWall = 0
  private iterator: AsyncIterator<PastChange> | undefined
  /** A change fetched from the journal, not applied yet. */
  private ahead: PastChange | undefined
  private fetching = false
  private burst = 0
  private replaying = true

  constructor(connection: Connection, path: TreePath, view: View, start: PlaybackStart) {
    super(connection, path, view)
    this.base = path.starAt < 0 ? path.segments : path.segments.slice(0, path.starAt)
    this.journal = start.journal
    this.rate = start.rate
    this.root = start.root
    this.rev = start.rev
    this.sentRev = Math.max(start.rev, start.resumeAt ?? start.rev)
    this.resumeAt = start.resumeAt ?? -1
    this.clockTime = start.startTime
    this.release = start.release
  }

  /** True while replaying: a keep-alive must not carry the live revision's id. */
  get holding(): boolean {
    return this.replaying
  }

  /** Not on the hub while replaying. */
  deliver(_update: ScopedUpdate): void {}

  /** Starts the replay; call once the first events are queued. */
  play(): void {
    this.clockWall = Date.now()
    this.pump()
  }

  run(_now: number): void {
    this.burst = 0
    this.pump()
  }

  /** Sends `change`, whose effect on the branch held is `effect`. */
  protected abstract emit(change: PastChange, effect: Effect): void

  /**
   * Everything recorded is replayed and the playback clock has reached the
   * server's: true when the subclass went live (this subscription is then
   * closed by it), false to go on asking the journal for new records (at
   * most once a second).
   */
  protected abstract caughtUp(): boolean

  /** The journal failed or a change could not be sent: the connection ends (the client resumes). */
  protected failed(err: unknown): void {
    this.connection.streams.log.error({ err }, 'playback failed; closing its stream')
    this.connection.destroy()
  }

  /**
   * When ({@link monotonicNow} ms) the subclass's throttle (`minPeriod`)
   * lets its next message out: what it holds back is sent then, and the
   * playback goes live no earlier. Undefined when nothing waits on it.
   */
  protected heldDue(): number | undefined {
    return undefined
  }

  /** Sends what the subclass holds back; called once {@link heldDue} has passed. */
  protected sendHeld(): void {}

  /** Ends the replay: the journal's iterator and the slot are let go. */
  protected finish(): void {
    this.replaying = false
    const iterator = this.iterator
    this.iterator = undefined
    this.ahead = undefined
    iterator?.return?.().catch(() => {})
    this.release()
  }

  protected dropHeld(): void {
    this.finish()
  }

  private pump(): void {
    if (this.closed || !this.replaying || this.fetching) return
    for (;;) {
      // A congested connection resumes its subscriptions itself when it drains.
      if (this.connection.congested) return
      const held = this.heldDue()
      if (held !== undefined && monotonicNow() >= held) this.sendHeld()
      const change = this.ahead
      if (change === undefined) {
        this.fetch()
        return
      }
      const skipping = change.rev <= this.resumeAt
      if (!skipping) {
        const wait = this.dueWall(change.time) - Date.now()
        if (wait > 0) {
          const at = monotonicNow() + Math.min(wait, MAX_WAIT_MS)
          this.wake(held === undefined ? at : Math.min(at, held))
          return
        }
      }
      if (++this.burst > BURST) {
        this.wake(monotonicNow())
        return
      }
      this.ahead = undefined
      try {
        this.apply(change, skipping)
      } catch (err) {
        this.failed(err)
        return
      }
      if (skipping && change.rev === this.resumeAt) {
        // The client holds this revision: the clock goes on from its record's time.
        this.clockTime = change.time
        this.clockWall = Date.now()
      }
    }
  }

  /** When (Date.now() ms) a change recorded at `time` is due. */
  private dueWall(time: number): number {
    return this.clockWall + (time - this.clockTime) / this.rate
  }

  private apply(change: PastChange, skipping: boolean): void {
    if (change.rev <= this.rev) return
    this.rev = change.rev
    const patch = patchOfBranch(change.patch, this.base)
    const effect = patch === undefined ? undefined : applyPatch(this.root, patch).effect
    if (!skipping) {
      if (effect !== undefined) this.emit(change, effect)
      if (change.rev > this.sentRev) this.sentRev = change.rev
    }
  }

  private fetch(): void {
    let next: Promise<IteratorResult<PastChange>>
    try {
      this.iterator ??= this.journal.changesAfter(this.rev)[Symbol.asyncIterator]()
      next = this.iterator.next()
    } catch (err) {
      this.iterator = undefined
      this.failed(err)
      return
    }
    this.fetching = true
    next.then(
      (result) => {
        this.fetching = false
        if (this.closed || !this.replaying) return
        if (result.done) {
          this.iterator = undefined
          this.exhausted()
        } else {
          this.ahead = result.value
          this.pump()
        }
      },
      (err: unknown) => {
        this.fetching = false
        this.iterator = undefined
        if (!this.closed) this.failed(err)
      },
    )
  }

  /** Everything recorded so far is replayed. */
  private exhausted(): void {
    const held = this.heldDue()
    if (held !== undefined) {
      // What is held goes out first (its run asks the journal again).
      this.wake(held)
      return
    }
    const now = Date.now()
    if (this.rev < this.resumeAt) {
      // The client holds revisions not recorded yet (it was live): it is at the present,
      // and the changes up to its revision, once recorded, are still not sent again.
      this.clockTime = now
      this.clockWall = now
    }
    const behind = now - (this.clockTime + (now - this.clockWall) * this.rate)
    if (behind <= 0 && this.caughtUp()) return
    // Nothing recorded later can be due before the clock reaches the present; and the
    // journal is asked again at most once a second (each ask reads its current segment).
    const wait = Math.max(behind / this.rate, PLAYBACK_POLL_MS)
    this.wake(monotonicNow() + Math.min(wait, MAX_WAIT_MS))
  }
}
