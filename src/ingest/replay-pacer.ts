/**
 * When each line of a replayed log is due. Two modes:
 *
 * - real time (no rate): the log's own clock. A line with a date and time
 *   (RMC, ZDA; see {@link sentenceTime}) is due when as much wall time has
 *   passed as log time since the first one; the lines after it follow at
 *   once. A jump back in log time, or forward by more than `maxGapMs`,
 *   starts the clock again, so loops and gaps in a log never stall the
 *   replay. Until the first timed line, lines go at `fallbackRate`.
 * - `rate` lines per second, evenly.
 *
 * Due times are absolute, so time lost to slow sleeps is made up and the
 * average rate holds.
 */
import { sentenceTime } from './sentence-time.js'

/** Lines per second before the first timed line of a real-time replay. Default 10. */
export const FALLBACK_RATE = 10

/** Log-time jump past which the real-time clock restarts, ms. Default 60000. */
export const MAX_GAP_MS = 60_000

/** Computes each line's delay. One pacer per pass over the file. */
export class ReplayPacer {
  private wallStart: number | undefined
  private logStart = 0
  private lastLog = 0
  private timed = false
  private count = 0

  /**
   * @param rate Lines per second; undefined for real time.
   * @param maxGapMs See {@link MAX_GAP_MS}.
   */
  constructor(
    private readonly rate: number | undefined,
    private readonly maxGapMs = MAX_GAP_MS,
  ) {}

  /** Milliseconds to wait from `now` before `line` is due (0: at once). */
  delay(line: string, now: number): number {
    if (this.wallStart === undefined) this.wallStart = now
    if (this.rate !== undefined) return this.evenly(this.rate, now)
    const t = sentenceTime(line)
    if (t === undefined) return this.timed ? 0 : this.evenly(FALLBACK_RATE, now)
    if (!this.timed || t < this.lastLog || t - this.lastLog > this.maxGapMs) {
      this.timed = true
      this.wallStart = now
      this.logStart = t
    }
    this.lastLog = t
    return Math.max(0, this.wallStart + (t - this.logStart) - now)
  }

  private evenly(rate: number, now: number): number {
    const due = this.wallStart! + (this.count++ * 1000) / rate
    return Math.max(0, due - now)
  }
}
