/**
 * A log-linear latency histogram: 10 µs buckets below 1 ms, then 1 % wide
 * buckets up to a minute. Recording is one Math.log and one array increment,
 * cheap enough for a million events a second in the load generator.
 */

const LINEAR = 100
const GROWTH = Math.log(1.01)
const SIZE = LINEAR + Math.ceil(Math.log(60_000) / GROWTH) + 1

/** Latency summary in milliseconds. */
export interface LatencySummary {
  count: number
  p50: number
  p99: number
  max: number
}

/** Counts latencies (ms) into fixed buckets. */
export class Histogram {
  private readonly buckets = new Float64Array(SIZE)
  private total = 0
  private maximum = 0

  /** Records `count` samples of latency `ms`. */
  record(ms: number, count = 1): void {
    if (ms < 0) ms = 0
    if (ms > this.maximum) this.maximum = ms
    const i = ms < 1 ? Math.floor(ms * LINEAR) : LINEAR + Math.floor(Math.log(ms) / GROWTH)
    this.buckets[i < SIZE ? i : SIZE - 1]! += count
    this.total += count
  }

  /** The upper bound (ms) of the bucket holding quantile `q` (0..1). */
  quantile(q: number): number {
    if (this.total === 0) return 0
    const rank = q * this.total
    let seen = 0
    for (let i = 0; i < SIZE; i++) {
      seen += this.buckets[i]!
      if (seen >= rank) {
        const upper = i < LINEAR ? (i + 1) / LINEAR : Math.exp((i - LINEAR + 1) * GROWTH)
        return Math.min(upper, this.maximum)
      }
    }
    return this.maximum
  }

  /** p50, p99 and max. */
  summary(): LatencySummary {
    return {
      count: this.total,
      p50: round(this.quantile(0.5)),
      p99: round(this.quantile(0.99)),
      max: round(this.maximum),
    }
  }
}

/** `x` rounded to 2 decimals, for reports. */
export function round(x: number, digits = 2): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}
