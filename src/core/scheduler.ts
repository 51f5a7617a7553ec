/**
 * One shared timer for many due times (throttled streams, `minPeriod`), so
 * no stream owns a timer of its own: a binary heap of (due, task), and one
 * `setTimeout` armed for the earliest.
 */

/** Something to run at a due time. */
export interface Task {
  run(now: number): void
}

interface Entry {
  due: number
  task: Task
}

/** A min-heap of due tasks behind a single timer. */
export class Scheduler {
  private readonly heap: Entry[] = []
  private timer: NodeJS.Timeout | undefined
  private armedFor = Number.POSITIVE_INFINITY

  /** Runs `task` at `due` (epoch ms) or soon after; a task may be queued more than once. */
  at(due: number, task: Task): void {
    const heap = this.heap
    heap.push({ due, task })
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (heap[parent]!.due <= heap[i]!.due) break
      ;[heap[parent], heap[i]] = [heap[i]!, heap[parent]!]
      i = parent
    }
    if (due < this.armedFor) this.arm()
  }

  /** Drops every pending task and the timer. */
  close(): void {
    this.heap.length = 0
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
    this.timer = setTimeout(() => this.fire(), Math.max(0, next.due - Date.now()))
    this.timer.unref()
  }

  private fire(): void {
    const now = Date.now()
    while (this.heap.length > 0 && this.heap[0]!.due <= now) this.pop().task.run(now)
    this.arm()
  }

  private pop(): Entry {
    const heap = this.heap
    const top = heap[0]!
    const last = heap.pop()!
    if (heap.length > 0) {
      heap[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let min = i
        if (l < heap.length && heap[l]!.due < heap[min]!.due) min = l
        if (r < heap.length && heap[r]!.due < heap[min]!.due) min = r
        if (min === i) break
        ;[heap[min], heap[i]] = [heap[i]!, heap[min]!]
        i = min
      }
    }
    return top
  }
}
