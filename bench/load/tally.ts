/**
 * What the load generator's clients count: every `"value":<send time>` they
 * receive that was sent during the run, and its latency. Clients and the
 * injector share one process, so `performance.now()` is one clock for both.
 */
import { Histogram } from '../lib/histogram.js'
import { VALUE_MARKER } from './changes.js'

const MARKER_LENGTH = VALUE_MARKER.length

/** Counts of the whole run, shared by every client. */
export class Tally {
  /** Values sent before this time (the snapshot, cached values) are not counted. */
  since = Number.POSITIVE_INFINITY
  delivered = 0
  readonly latency = new Histogram()
}

/**
 * Counts the values in `text` received at `now` into `tally` and returns
 * how many; `carry` receives where the unscanned tail starts (a marker or
 * number cut by the end of the chunk).
 */
export function scanValues(
  text: string,
  tally: Tally,
  now: number,
  carry: { from: number },
): number {
  const length = text.length
  let found = 0
  let keepFrom = length > MARKER_LENGTH - 1 ? length - (MARKER_LENGTH - 1) : 0
  let at = text.indexOf(VALUE_MARKER)
  while (at >= 0) {
    const start = at + MARKER_LENGTH
    let end = start
    while (end < length) {
      const c = text.charCodeAt(end)
      // digits, '.', '-', 'e', '+'
      if ((c >= 48 && c <= 57) || c === 46 || c === 45 || c === 101 || c === 43) end++
      else break
    }
    if (end === length) {
      keepFrom = at
      break
    }
    if (end > start) {
      const sent = +text.slice(start, end)
      if (sent >= tally.since) {
        found++
        tally.latency.record(now - sent)
      }
    }
    at = text.indexOf(VALUE_MARKER, end)
  }
  tally.delivered += found
  carry.from = keepFrom
  return found
}
