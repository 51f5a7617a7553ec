/**
 * Reading a data dir's journal back (SPEC §9): its segments and checkpoints
 * listed in order, and each segment's records checked one by one. A record
 * cut short at the very end of the last segment (or followed by nothing but
 * zeros, the pages of a torn write) is a torn tail: the write it belonged to
 * was never acknowledged, and a start drops it. Anything else that is not a
 * record, or a revision out of sequence, is damage: a start refuses it,
 * naming the file and offset, as etcd's WAL does.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  checkpointRev,
  type JournalRecord,
  readFrame,
  segmentName,
  segmentRev,
  zerosFrom,
} from './format.js'

/** A journal that cannot be read past a point: which file, where, and why. */
export class JournalDamage extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly why: string,
  ) {
    super(
      `the journal is damaged: ${file} at offset ${offset}: ${why}. ` +
        `"keelson journal check DIR" shows it; "keelson journal repair DIR" cuts the journal there (what follows is lost).`,
    )
    this.name = 'JournalDamage'
  }
}

/** The journal files of a data dir, oldest first. */
export interface Listing {
  /** First revision of each segment. */
  readonly segments: number[]
  /** Revision of each checkpoint. */
  readonly checkpoints: number[]
}

/** The segments and checkpoints in `dir`, in revision order. */
export function listJournal(dir: string): Listing {
  const segments: number[] = []
  const checkpoints: number[] = []
  for (const name of readdirSync(dir)) {
    const seg = segmentRev(name)
    if (seg !== undefined) segments.push(seg)
    const cp = checkpointRev(name)
    if (cp !== undefined) checkpoints.push(cp)
  }
  segments.sort((a, b) => a - b)
  checkpoints.sort((a, b) => a - b)
  return { segments, checkpoints }
}

/** What {@link scanSegment} found. */
export interface SegmentScan {
  readonly file: string
  readonly size: number
  /** The records read (those after `afterRev` when given). */
  readonly records: JournalRecord[]
  /** The last revision in the segment (its first revision − 1 when empty). */
  readonly lastRev: number
  /** The time of its last record, if any. */
  readonly lastTime: number | undefined
  /** Offset after the last whole record. */
  readonly end: number
  /** A torn tail from `end` to the end of the file (last segment only). */
  readonly torn: boolean
}

/**
 * Reads and checks every record of segment `first` in `dir` (from `from`,
 * the offset of revision `from.rev`, when given: a start does not parse
 * what its checkpoint already holds). `last`: the newest segment, where a
 * torn tail is allowed. Keeps the records after `afterRev` (all when
 * undefined; none when `afterRev` is Infinity). Throws {@link JournalDamage}.
 */
export function scanSegment(
  dir: string,
  first: number,
  last: boolean,
  afterRev = -1,
  from?: { readonly offset: number; readonly rev: number },
): SegmentScan {
  const name = segmentName(first)
  const file = join(dir, name)
  const bytes = readFileSync(file)
  const records: JournalRecord[] = []
  let expected = from?.rev ?? first
  let lastTime: number | undefined
  let offset = from?.offset ?? 0
  while (offset < bytes.length) {
    const frame = readFrame(bytes, offset)
    if (frame.kind === 'record') {
      if (frame.record.r !== expected) {
        throw new JournalDamage(
          file,
          offset,
          `revision ${frame.record.r} where ${expected} was due`,
        )
      }
      if (frame.record.r > afterRev) records.push(frame.record)
      lastTime = frame.record.t
      expected++
      offset = frame.end
      continue
    }
    const endOfFile =
      frame.kind === 'short' ||
      zerosFrom(bytes, offset) ||
      // A record whose declared length ends exactly at the end of the file: its write was cut.
      offset + 12 + bytes.readUInt32LE(offset) === bytes.length
    if (last && endOfFile) {
      return {
        file,
        size: bytes.length,
        records,
        lastRev: expected - 1,
        lastTime,
        end: offset,
        torn: true,
      }
    }
    throw new JournalDamage(
      file,
      offset,
      frame.kind === 'short' ? 'a record cut short in a segment that is not the last' : frame.why,
    )
  }
  return {
    file,
    size: bytes.length,
    records,
    lastRev: expected - 1,
    lastTime,
    end: offset,
    torn: false,
  }
}
