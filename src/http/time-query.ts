/**
 * What every time-travel request shares (SPEC §9): its times and rates
 * read from the query, the journal it reads through ({@link TimeTravel}),
 * the retained window checked before anything is opened, and a bound on
 * the time-travel work in progress at once (`maxTimeTravel`): a snapshot
 * read or a playback holds a copy of the past tree.
 */
import { Errors, KeelsonError } from '../core/errors.js'
import type { PastState, TimeTravel } from '../journal/time-travel.js'
import { PLAYBACK_RATES } from '../options.js'

/**
 * ISO 8601 date and time with a zone (`Z` or `±hh:mm`), seconds and a
 * fraction optional. A time without a zone is refused: read on a server in
 * another zone it would name another moment.
 */
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):(\d{2}))$/

/** Longest time text looked at (the longest valid form is 35 characters). */
const MAX_TIME_TEXT = 64

/**
 * The moment `raw` (a query value) names, ms since 1970. Throws `BAD_TIME`
 * when it is missing, repeated, malformed, not a real date (`02-30`), or
 * later than the server's clock: the future is not recorded yet.
 */
export function parseTime(raw: unknown, name: string, now = Date.now()): number {
  if (raw === undefined || raw === '') {
    throw new KeelsonError(
      Errors.BAD_TIME,
      `${name} is required: an ISO 8601 time such as ${example()}`,
    )
  }
  if (typeof raw !== 'string') throw new KeelsonError(Errors.BAD_TIME, `Give ${name} once`)
  const m = raw.length <= MAX_TIME_TEXT ? ISO_TIME.exec(raw) : null
  const ms = m === null ? Number.NaN : timeOf(m)
  if (Number.isNaN(ms)) {
    throw new KeelsonError(
      Errors.BAD_TIME,
      `${name} must be an ISO 8601 time with a zone, such as ${example()}`,
    )
  }
  if (ms > now) {
    throw new KeelsonError(
      Errors.BAD_TIME,
      `${name} ${raw} is in the future (the server's clock reads ${new Date(now).toISOString()})`,
    )
  }
  return ms
}

/** The moment of a matched time, or NaN when a field is out of its range. */
function timeOf(m: RegExpExecArray): number {
  const year = Number(m[1])
  const month = Number(m[2])
  const day = Number(m[3])
  const hour = Number(m[4])
  const minute = Number(m[5])
  const second = m[6] === undefined ? 0 : Number(m[6])
  const millis = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'))
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate()
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return Number.NaN
  if (hour > 23 || minute > 59 || second > 59) return Number.NaN
  let offset = 0
  if (m[8] === undefined) {
    const hours = Number(m[10])
    const minutes = Number(m[11])
    if (hours > 23 || minutes > 59) return Number.NaN
    offset = (m[9] === '-' ? -1 : 1) * (hours * 60 + minutes) * 60_000
  }
  // Date.UTC reads a year below 100 as 19xx; setUTCFullYear takes it as it is.
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, millis))
  date.setUTCFullYear(year)
  return date.getTime() - offset
}

function example(): string {
  return '2026-12-02T10:00:00Z'
}

/**
 * `playbackRate` from a query: 1 when absent; a finite number from
 * {@link PLAYBACK_RATES}.min to .max (0, negative, NaN, `1e999` and the
 * like are `BAD_QUERY`).
 */
export function parseRate(raw: unknown): number {
  if (raw === undefined) return 1
  const text = typeof raw === 'string' ? raw.trim() : ''
  const rate = /^[0-9.eE+-]{1,32}$/.test(text) ? Number(text) : Number.NaN
  if (!(rate >= PLAYBACK_RATES.min && rate <= PLAYBACK_RATES.max)) {
    throw new KeelsonError(
      Errors.BAD_QUERY,
      `playbackRate must be a number from ${PLAYBACK_RATES.min} to ${PLAYBACK_RATES.max} (1 is the recorded pace)`,
    )
  }
  return rate
}

/** The journal's history as the time-travel APIs read it, and their bound. */
export class TimeTravelGate {
  private inUse = 0

  constructor(
    /** The journal (it may be opened after the app is built), or undefined without `--data-dir`. */
    private readonly source: () => TimeTravel | undefined,
    /** Time-travel work at once (`maxTimeTravel`). */
    private readonly limit: number,
  ) {}

  /** Snapshot reads and playbacks in progress. */
  get active(): number {
    return this.inUse
  }

  /** The journal; throws `NO_HISTORY` (501) when there is none. */
  journal(): TimeTravel {
    const journal = this.source()
    if (journal === undefined) {
      throw new KeelsonError(
        Errors.NO_HISTORY,
        'This server keeps no history: time travel needs --data-dir',
      )
    }
    return journal
  }

  /** Throws `NOT_RETAINED` unless `time` is within the retained history of `journal`. */
  checkRetained(journal: TimeTravel, time: number): void {
    const earliest = journal.earliest()
    if (earliest === undefined || time < earliest) {
      throw new KeelsonError(
        Errors.NOT_RETAINED,
        earliest === undefined
          ? 'Nothing is recorded yet'
          : `The retained history starts at ${new Date(earliest).toISOString()}`,
      )
    }
  }

  /**
   * Takes one unit of time-travel work, or throws 429 with `Retry-After`
   * when `maxTimeTravel` are in progress. Call the returned function once
   * done (calling it again does nothing).
   */
  acquire(): () => void {
    if (this.inUse >= this.limit) {
      throw new KeelsonError(
        Errors.TOO_MANY_CONNECTIONS,
        `${this.limit} time-travel reads and playbacks are in progress; retry later`,
        1,
      )
    }
    this.inUse++
    let held = true
    return () => {
      if (!held) return
      held = false
      this.inUse--
    }
  }

  /** The tree at `time` from `journal`; throws `NOT_RETAINED` when it is before the history. */
  async stateAt(journal: TimeTravel, time: number): Promise<PastState> {
    const past = await journal.stateAt(time)
    if (past === undefined) {
      throw new KeelsonError(
        Errors.NOT_RETAINED,
        `Nothing is retained at ${new Date(time).toISOString()}`,
      )
    }
    return past
  }
}
