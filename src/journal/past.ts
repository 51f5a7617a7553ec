/**
 * Time travel from the journal (SPEC §9): the tree at a past moment is the
 * newest checkpoint at or before it plus the records after that checkpoint
 * up to the moment. Checkpoints are written every `checkpointBytes` of
 * journal (or every tree's size, when larger), so a moment costs one
 * checkpoint read and at most that many bytes of records, wherever it falls
 * in the retention window (bench/journal.ts: stateAt p99, bench/RESULTS.md).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { JsonObject } from '../core/json.js'
import { applyPatch } from '../core/merge-patch.js'
import { type CheckpointHeader, checkpointName, decodeCheckpoint } from './format.js'
import { readRecords } from './segment-reader.js'
import type { PastChange, PastState, TimeTravel } from './time-travel.js'

/** What the reader needs of the journal that keeps the files. */
export interface JournalFiles {
  readonly dir: string
  /** The retained checkpoints, by revision (and so by time). */
  checkpoints(): readonly CheckpointHeader[]
  /** The first revision of each retained segment, ascending. */
  segments(): readonly number[]
  /** Writes what is still in memory to the files (not necessarily to disk). */
  writePending(): void
}

/** {@link TimeTravel} over a journal's files. */
export class PastReader implements TimeTravel {
  constructor(private readonly files: JournalFiles) {}

  earliest(): number | undefined {
    return this.files.checkpoints()[0]?.time
  }

  async stateAt(time: number): Promise<PastState | undefined> {
    const checkpoints = this.files.checkpoints()
    const at = lastAtOrBefore(checkpoints, time)
    if (at < 0) return undefined
    const checkpoint = checkpoints[at]!
    this.files.writePending()
    const bytes = await readFile(join(this.files.dir, checkpointName(checkpoint.rev)))
    const { root } = decodeCheckpoint(bytes)
    let rev = checkpoint.rev
    let when = checkpoint.time
    for await (const record of readRecords(
      this.files.dir,
      this.files.segments(),
      checkpoint.rev,
      checkpoint,
    )) {
      if (record.t > time) break
      applyPatch(root, record.p)
      rev = record.r
      when = record.t
    }
    return { root, rev, time: when }
  }

  async *changesAfter(rev: number): AsyncIterable<PastChange> {
    this.files.writePending()
    const segments = this.files.segments()
    // The segment holding rev + 1: the last one starting at or before it.
    let seg = segments[0] ?? 0
    for (const first of segments) if (first <= rev + 1) seg = first
    for await (const record of readRecords(this.files.dir, segments, rev, { seg, off: 0 })) {
      yield { rev: record.r, time: record.t, patch: record.p as JsonObject }
    }
  }
}

/** Index of the last checkpoint whose time is at or before `time`, or −1. */
function lastAtOrBefore(checkpoints: readonly CheckpointHeader[], time: number): number {
  let lo = 0
  let hi = checkpoints.length - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (checkpoints[mid]!.time <= time) {
      found = mid
      lo = mid + 1
    } else hi = mid - 1
  }
  return found
}
