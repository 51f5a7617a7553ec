/**
 * What the load generator's clients count: every `"value":<send time>` they
 * receive that was sent during the run, and its latency. Clients and the
 * injector share one process, so `performance.now()` is one clock for both.
 *
 * The scan works on the received bytes themselves (no string per read): at a
 * million events a second the generator must stay well below one core, or
 * its own lag shows up as the server's latency (load-gen CPU % in the tables).
 */
import { Histogram } from '../lib/histogram.js'
import { VALUE_MARKER } from './changes.js'

const MARKER = Buffer.from(VALUE_MARKER, 'latin1')
const MARKER_LENGTH = MARKER.length

/** Counts of the whole run, shared by every client. */
export class Tally {
  /** Values sent before this time (the snapshot, cached values) are not counted. */
  since = Number.POSITIVE_INFINITY
  delivered = 0
  readonly latency = new Histogram()
  /** The latencies of the changes sent in each second of the run: where in the run the tail is. */
  readonly bySecond: Histogram[] = []

  record(sent: number, latency: number): void {
    this.latency.record(latency)
    const second = Math.floor((sent - this.since) / 1000)
    if (second < 0 || second >= 600) return
    let histogram = this.bySecond[second]
    if (histogram === undefined) {
      histogram = new Histogram()
      this.bySecond[second] = histogram
    }
    histogram.record(latency)
  }
}

/**
 * Counts the values in `bytes` received at `now` into `tally` and returns
 * how many; `carry` receives where the unscanned tail starts (a marker or
 * number cut by the end of the read).
 */
export function scanValues(
  bytes: Buffer,
  tally: Tally,
  now: number,
  carry: { from: number },
): number {
  const end = bytes.length
  let found = 0
  let keepFrom = cutMarkerAt(bytes)
  let at = bytes.indexOf(MARKER, 0)
  while (at >= 0) {
    const start = at + MARKER_LENGTH
    let i = start
    let whole = 0
    let fraction = 0
    let scale = 1
    let dot = false
    let plain = true
    for (; i < end; i++) {
      const c = bytes[i]!
      if (c >= 48 && c <= 57) {
        if (dot) {
          fraction = fraction * 10 + (c - 48)
          scale *= 10
        } else whole = whole * 10 + (c - 48)
      } else if (c === 46) dot = true
      else if (c === 45 || c === 101 || c === 43) plain = false
      else break
    }
    if (i === end) {
      keepFrom = at
      break
    }
    if (i > start) {
      const sent = plain ? whole + fraction / scale : Number(bytes.toString('latin1', start, i))
      if (sent >= tally.since) {
        found++
        tally.record(sent, now - sent)
      }
    }
    at = bytes.indexOf(MARKER, i)
  }
  tally.delivered += found
  carry.from = keepFrom
  return found
}

/**
 * Where a marker cut by the end of `bytes` starts (its first bytes end the
 * read), or `bytes.length` when none is: only then is a tail carried into
 * the next read. Keeping the last marker-length bytes of every read instead
 * made each next read a copy (`Buffer.concat`), a cost in the generator that
 * grew with the bytes per event, so with the protocol.
 */
function cutMarkerAt(bytes: Buffer): number {
  const end = bytes.length
  for (let from = Math.max(0, end - (MARKER_LENGTH - 1)); from < end; from++) {
    if (bytes[from] !== MARKER[0]) continue
    let i = 1
    while (from + i < end && bytes[from + i] === MARKER[i]) i++
    if (from + i === end) return from
  }
  return end
}
