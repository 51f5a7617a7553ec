/**
 * One provider's NMEA 0183 decoding: each line is parsed by
 * `@signalk/nmea0183-signalk` (checksums validated), its updates are labelled
 * with the provider, and the deltas of each chunk go to the sink (in keelson:
 * `applyDelta` on the tree) as one batch per context. Bad input is counted, logged at a limited rate and skipped;
 * nothing a line holds can stop the provider.
 *
 * @see https://github.com/SignalK/nmea0183-signalk
 * @see https://signalk.org/specification/1.7.0/doc/data_model_multiple_values.html
 */
import { Parser } from '@signalk/nmea0183-signalk'
import type { Logger } from 'pino'
import type { Delta } from '../signalk/delta.js'
import { AisFragments } from './ais-fragments.js'
import type { LineHandler } from './line-splitter.js'

/** Where decoded deltas go. It may throw to refuse one (counted as `rejected`). */
export type DeltaSink = (delta: Delta) => void

/** What one provider has seen since it started; read by `/metrics`. */
export interface IngestCounters {
  /** Lines received (overlong ones included). */
  lines: number
  /** Deltas handed to the sink and accepted. */
  deltas: number
  /** Known sentences that carried nothing to apply (the first fragments of an AIS message, a void fix). */
  empty: number
  /** Lines whose `*hh` checksum does not match. */
  badChecksum: number
  /** Truncated lines, binary garbage, lines without `$`/`!` or checksum, sentences the parser choked on. */
  malformed: number
  /** Well-formed sentences the parser has no decoder for. */
  unknown: number
  /** Lines past the length limit. */
  overlong: number
  /** Deltas the sink refused. */
  rejected: number
  /**
   * Fragments of multi-sentence AIS messages dropped unparsed: out of order,
   * without the rest of their set, or left incomplete (see {@link AisFragments}).
   */
  fragmentsDropped: number
}

/** Most updates in one batch handed to the sink (see {@link NmeaDecoder.flush}). */
const MAX_BATCH_UPDATES = 500

/** The problems among {@link IngestCounters}, in the order they are logged. */
const PROBLEMS = [
  'badChecksum',
  'malformed',
  'unknown',
  'overlong',
  'rejected',
  'fragmentsDropped',
] as const
type Problem = (typeof PROBLEMS)[number]

/** Options of {@link NmeaDecoder}. */
export interface NmeaDecoderOptions {
  /** The provider's label: the `source.label` of its updates, so `$source` is `<label>.<talker>`. */
  label: string
  sink: DeltaSink
  log: Logger
  /** Stamp every update with the time it is decoded (replay of old logs). Default false. */
  restamp?: boolean
  /** Shortest time between two summaries of bad lines in the log, ms. Default 10000. */
  reportEveryMs?: number
}

/** Decodes the lines of one provider. Use it as the {@link LineHandler} of its splitter. */
export class NmeaDecoder implements LineHandler {
  readonly label: string
  readonly counters: IngestCounters = {
    lines: 0,
    deltas: 0,
    empty: 0,
    badChecksum: 0,
    malformed: 0,
    unknown: 0,
    overlong: 0,
    rejected: 0,
    fragmentsDropped: 0,
  }
  // One parser per provider: its session joins multi-sentence AIS messages of that stream only,
  // and the reassembler in front of it hands it only whole sets in order.
  private readonly parser = new Parser({ validateChecksum: true })
  private readonly fragments = new AisFragments({
    onDrop: (line) => this.bad('fragmentsDropped', line),
  })
  private readonly sink: DeltaSink
  private readonly log: Logger
  private readonly restamp: boolean
  private readonly reportEveryMs: number
  /** Deltas decoded since the last flush, by context, with their lines (to report a refused one). */
  private pending = new Map<string, { deltas: Delta[]; lines: string[] }>()
  private pendingUpdates = 0
  private lastReport = Number.NEGATIVE_INFINITY
  private reported: Record<Problem, number> = { ...this.counters }

  constructor(options: NmeaDecoderOptions) {
    this.label = options.label
    this.sink = options.sink
    this.log = options.log
    this.restamp = options.restamp ?? false
    this.reportEveryMs = options.reportEveryMs ?? 10_000
  }

  /**
   * Decodes one line; its delta goes to the sink at the next {@link flush}.
   * A fragment of a multi-sentence AIS message is held until its set is
   * complete, then the set is decoded in order.
   */
  line(line: string): void {
    this.counters.lines++
    const set = this.fragments.accept(line)
    if (set === null) this.decode(line)
    else for (const fragment of set) this.decode(fragment)
  }

  private decode(line: string): void {
    let delta: Delta | null
    try {
      delta = this.parser.parse(line) as Delta | null
    } catch {
      this.bad(checksumMismatch(line) ? 'badChecksum' : 'malformed', line)
      return
    }
    if (delta === null || delta === undefined) {
      if (this.parser.hooks[sentenceId(line)]) this.counters.empty++
      else this.bad('unknown', line)
      return
    }
    const timestamp = this.restamp ? new Date().toISOString() : undefined
    for (const update of delta.updates) {
      // The parser fills {type, talker, sentence}; the label names the provider.
      if (update.source) update.source.label = this.label
      if (timestamp) update.timestamp = timestamp
    }
    if (this.pendingUpdates >= MAX_BATCH_UPDATES) this.flush()
    const key = delta.context ?? ''
    let batch = this.pending.get(key)
    if (!batch) {
      batch = { deltas: [], lines: [] }
      this.pending.set(key, batch)
    }
    batch.deltas.push(delta)
    batch.lines.push(line)
    this.pendingUpdates += delta.updates.length
  }

  /**
   * Hands the deltas decoded since the last flush to the sink, those of one
   * context as ONE delta with all their updates, in order: one tree write
   * and one revision per context for a whole TCP read or UDP datagram.
   * Providers call it after each chunk. When the sink refuses a batch, each
   * of its deltas is tried alone so only the bad ones are counted and lost.
   * AIS fragment sets open too long are dropped here too.
   */
  flush(): void {
    this.fragments.expire()
    if (this.pending.size === 0) return
    const batches = this.pending
    this.pending = new Map()
    this.pendingUpdates = 0
    for (const { deltas, lines } of batches.values()) this.apply(deltas, lines)
  }

  private apply(deltas: Delta[], lines: string[]): void {
    if (deltas.length > 1) {
      const updates: Delta['updates'] = []
      for (const delta of deltas) for (const update of delta.updates) updates.push(update)
      try {
        this.sink({ context: deltas[0]!.context, updates })
        this.counters.deltas += deltas.length
        return
      } catch {
        // One of them is bad: find it below.
      }
    }
    for (let i = 0; i < deltas.length; i++) {
      try {
        this.sink(deltas[i]!)
        this.counters.deltas++
      } catch (err) {
        this.bad('rejected', lines[i]!, err)
      }
    }
  }

  /** Counts a line dropped by the splitter for its length. */
  overlong(): void {
    this.counters.lines++
    this.bad('overlong', '')
  }

  private bad(problem: Problem, line: string, err?: unknown): void {
    this.counters[problem]++
    const now = Date.now()
    if (now - this.lastReport < this.reportEveryMs) return
    const skipped: Partial<Record<Problem, number>> = {}
    for (const key of PROBLEMS) {
      const n = this.counters[key] - this.reported[key]
      if (n > 0) skipped[key] = n
    }
    this.log.warn(
      {
        provider: this.label,
        skipped,
        last: { problem, line: line.slice(0, 120), error: (err as Error | undefined)?.message },
      },
      `NMEA 0183 ${this.label}: skipped bad lines (one summary per ${this.reportEveryMs / 1000} s at most)`,
    )
    this.lastReport = now
    this.reported = { ...this.counters }
  }
}

/** The hook key the parser looks a sentence up by: `RMC` for `$GPRMC`, the whole header for `$P...`. */
function sentenceId(line: string): string {
  const body = withoutTagBlock(line)
  const comma = body.indexOf(',')
  const header = comma < 0 ? body : body.slice(0, comma)
  return header.charAt(1).toUpperCase() === 'P' ? header.slice(1) : header.slice(3, 6).toUpperCase()
}

/** True when the line is framed as a sentence (`$`/`!` ... `*hh`) but the checksum is wrong. */
function checksumMismatch(line: string): boolean {
  const body = withoutTagBlock(line).trim()
  const star = body.length - 3
  if (star < 1 || body.charAt(star) !== '*' || !'$!'.includes(body.charAt(0))) return false
  const expected = Number.parseInt(body.slice(star + 1), 16)
  if (Number.isNaN(expected)) return false
  let sum = 0
  for (let i = 1; i < star; i++) sum ^= body.charCodeAt(i)
  return sum !== expected
}

/** The sentence after an NMEA 0183 v4 tag block (`\s:src,c:123*hh\$GPRMC...`). */
function withoutTagBlock(line: string): string {
  if (line.charAt(0) !== '\\') return line
  const end = line.indexOf('\\', 1)
  return end < 0 ? line : line.slice(end + 1)
}
