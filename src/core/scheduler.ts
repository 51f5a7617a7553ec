/**
 * One shared timer for many due times (throttled streams, `minPeriod`,
 * Signal K `period`s), so no stream owns a timer of its own: a binary heap
 * of entries and one `setTimeout` armed for the earliest. An entry can be
 * cancelled, which takes it out of the heap at once: a closed stream leaves
 * nothing behind, however far away its due time was.
 *
 * Times are monotonic milliseconds ({@link monotonicNow}), so a wall clock
 * stepped back (a Pi setting its clock from GPS) holds nothing.
 */
/**
 * Milliseconds on a clock that never goes back (`performance.now()`), read
 * from the global each time so test clocks (`vi.useFakeTimers()`) drive it too.
 */
export function monotonicNow(): number {
  return globalThis.performance.now()
}

/** Something to run at a due time. */
export interface Task {
  run(now: number): void
}

/** A queued run of a task: pass it to {@link Scheduler.cancel}. */
export class Timer {
  /** Index in the heap, -1 once it ran or was cancelled. */
  index = -1
  constructor(
    readonly due: number,
    readonly task: Task,
  ) {}

  /** True while the run is queued. */
  get pending(): boolean {
    return this.index >= 0
  }
}

/** A min-heap of due tasks behind a single timer. */
export class Scheduler {
  private readonly heap: Timer[] = []
  private timer: NodeJS.Timeout | undefined
  private armedFor = Number.POSITIVE_INFINITY
  private readonly fireTurn = (): void => this.fire()

  /** Number of queued runs. */
  get size(): number {
    return this.heap.length
  }

  /** Runs `task` at `due` ({@link monotonicNow} ms) or soon after. */
  at(due: number, task: Task): Timer {
    const entry = new Timer(due, task)
    entry.index = this.heap.length
    this.heap.push(entry)
    this.up(entry.index)
    if (due < this.armedFor) this.arm()
    return entry
  }

  /** Takes `entry` out of the queue; nothing happens when it already ran or was cancelled. */
  cancel(entry: Timer | undefined): void {
    if (entry === undefined || entry.index < 0) return
    const heap = this.heap
    const at = entry.index
    const last = heap.pop()!
    entry.index = -1
    if (last !== entry) {
      heap[at] = last
      last.index = at
      this.down(at)
      this.up(last.index)
    }
    if (heap.length === 0) this.disarm()
  }

  /** Drops every pending task and the timer. */
  close(): void {
    for (const entry of this.heap) entry.index = -1
    this.heap.length = 0
    this.disarm()
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.armedFor = Number.POSITIVE_INFINITY
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer)
    const next = this.heap[0]
    if (!next) {
      this.timer = undefined
      this.armedFor = Number.POSITIVE_INFINITY
      return
    }
    this.armedFor = next.due
    this.timer = setTimeout(this.fireTurn, Math.max(0, Math.ceil(next.due - monotonicNow())))
    this.timer.unref()
  }

  private fire(): void {
    const now = monotonicNow()
    this.armedFor = Number.POSITIVE_INFINITY
    while (this.heap.length > 0 && this.heap[0]!.due <= now) {
      const entry = this.heap[0]!
      this.cancel(entry)
      entry.task.run(now)
    }
    this.arm()
  }

  private up(i: number): void {
    const heap = this.heap
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (heap[parent]!.due <= heap[i]!.due) break
      this.swap(i, parent)
      i = parent
    }
  }

  private down(i: number): void {
    const heap = this.heap
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let min = i
      if (l < heap.length && heap[l]!.due < heap[min]!.due) min = l
      if (r < heap.length && heap[r]!.due < heap[min]!.due) min = r
      if (min === i) return
      this.swap(i, min)
      i = min
    }
  }

  private swap(a: number, b: number): void {
    const heap = this.heap
    const x = heap[a]!
    const y = heap[b]!
    heap[a] = y
    heap[b] = x
    y.index = a
    x.index = b
  }
}
