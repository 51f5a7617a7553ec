/**
 * Waits for the tree to reach a revision. A cluster replica (src/cluster)
 * applies the shared log a little after the node that took a write, so a
 * client that moves from one node to another can bring an event id this
 * replica has not reached yet (SPEC §9: `Last-Event-ID` from one node
 * resumes on any other). Its resume waits here until the replica has
 * applied that revision, instead of answering a reset for a change that is
 * only milliseconds away; after `timeoutMs` it goes on anyway (and gets the
 * reset SPEC §4 gives an id it cannot honour).
 *
 * Waits are kept sorted by revision, so a change looks at the first one
 * only; each holds one scheduler entry for its timeout, cancelled when it
 * ends.
 */
import { monotonicNow, type Scheduler, type Task, type Timer } from './scheduler.js'
import type { StateTree } from './state-tree.js'

/** One request waiting for a revision. */
class Wait implements Task {
  /** Its timeout in the scheduler. */
  timer: Timer | undefined
  constructor(
    readonly rev: number,
    private readonly owner: RevisionWaits,
    private readonly done: () => void,
  ) {}

  /** The timeout: go on without the revision. */
  run(): void {
    this.owner.end(this)
  }

  finish(): void {
    this.done()
  }
}

/** The waits of one tree. */
export class RevisionWaits {
  /** Sorted by revision, lowest first. */
  private readonly waits: Wait[] = []

  constructor(
    private readonly tree: StateTree,
    private readonly scheduler: Scheduler,
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    tree.onChange(() => this.reached())
  }

  /** Requests waiting now (for metrics and tests). */
  get size(): number {
    return this.waits.length
  }

  /**
   * Calls `done` once the tree's revision is `rev` or more, or after
   * `timeoutMs`, whichever comes first; at once (synchronously) when it
   * already is. Returns a function that cancels the wait (the client left):
   * `done` is then never called.
   */
  wait(rev: number, timeoutMs: number, done: () => void): () => void {
    if (this.tree.rev >= rev || timeoutMs <= 0) {
      done()
      return () => {}
    }
    const wait = new Wait(rev, this, done)
    let at = this.waits.length
    while (at > 0 && this.waits[at - 1]!.rev > rev) at--
    this.waits.splice(at, 0, wait)
    wait.timer = this.scheduler.at(monotonicNow() + timeoutMs, wait)
    return () => this.forget(wait)
  }

  /** Ends `wait`: out of the queue, its timer cancelled, its callback called. */
  end(wait: Wait): void {
    if (!this.forget(wait)) return
    try {
      wait.finish()
    } catch (err) {
      this.onError(err)
    }
  }

  private forget(wait: Wait): boolean {
    const at = this.waits.indexOf(wait)
    if (at < 0) return false
    this.waits.splice(at, 1)
    this.scheduler.cancel(wait.timer)
    return true
  }

  private reached(): void {
    const rev = this.tree.rev
    while (this.waits.length > 0 && this.waits[0]!.rev <= rev) this.end(this.waits[0]!)
  }
}
