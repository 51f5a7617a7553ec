/**
 * A time series kept for a plot: samples at least `minIntervalMs` apart,
 * none older than `windowMs`. Memory stays bounded: at most
 * `windowMs / minIntervalMs` samples.
 */
export class Series {
  /**
   * @param {number} windowMs how far back samples are kept
   * @param {number} minIntervalMs the shortest time between two samples
   */
  constructor(windowMs, minIntervalMs) {
    this.windowMs = windowMs
    this.minIntervalMs = minIntervalMs
    /** @type {{ t: number, v: any }[]} */
    this.samples = []
  }

  /** Adds a sample at time `t` unless the last one is too recent. */
  push(t, v) {
    const last = this.samples.at(-1)
    if (last && t - last.t < this.minIntervalMs) return false
    this.samples.push({ t, v })
    this.prune(t)
    return true
  }

  /** Drops the samples older than the window. */
  prune(now) {
    let drop = 0
    while (drop < this.samples.length && now - this.samples[drop].t > this.windowMs) drop++
    if (drop > 0) this.samples.splice(0, drop)
  }
}
