/**
 * The compaction worker (SPEC §9): folds a checkpoint and the journal
 * records after it into new checkpoints, off the main thread, so a 50 MB
 * tree is never serialised on the event loop (bench/journal.ts: loop delay
 * during compaction, bench/RESULTS.md). It reads only files: the live tree
 * is never touched. It keeps the tree it folded last, so the next job
 * starts from memory instead of re-reading its checkpoint.
 */
import { closeSync, fdatasyncSync, openSync, readFileSync } from 'node:fs'
import { setPriority } from 'node:os'
import { join } from 'node:path'
import { parentPort } from 'node:worker_threads'
import { crc32 } from 'node:zlib'
import type { JsonObject } from '../core/json.js'
import { applyPatch } from '../core/merge-patch.js'
import {
  type CheckpointHeader,
  checkpointName,
  decodeCheckpoint,
  encodeCheckpoint,
  readFrame,
  segmentName,
  writeAtomic,
} from './format.js'

/** A job: fold from checkpoint `from` through the segments' records up to their `limit` bytes. */
export interface CompactJob {
  readonly dir: string
  readonly epoch: string
  readonly from: CheckpointHeader
  /** Segments (first revision, bytes to read), ascending, the one of `from.seg` first. */
  readonly segments: readonly { readonly first: number; readonly limit: number }[]
  /** Write a checkpoint after this many bytes of records (and one at the end). */
  readonly every: number
}

/** What the worker posts back. */
export type CompactMessage =
  | { readonly kind: 'checkpoint'; readonly header: CheckpointHeader }
  | { readonly kind: 'done' }
  | { readonly kind: 'failed'; readonly message: string }

let kept: { rev: number; root: JsonObject } | undefined

// The lowest CPU priority for this thread alone (on Linux, setpriority of pid 0 is the
// calling thread): on a busy machine the event loop gets the cores first, compaction
// what is left (bench (j): loop delay during a 50 MB tree's checkpoint, bench/RESULTS.md).
try {
  setPriority(19)
} catch {}

function run(job: CompactJob): void {
  const post = (message: CompactMessage): void => parentPort!.postMessage(message)
  let root: JsonObject
  if (kept !== undefined && kept.rev === job.from.rev) root = kept.root
  else root = decodeCheckpoint(readFileSync(join(job.dir, checkpointName(job.from.rev)))).root
  kept = undefined
  let rev = job.from.rev
  let time = job.from.time
  let since = 0
  const write = (seg: number, off: number): void => {
    const body = Buffer.from(JSON.stringify(root))
    const header = { epoch: job.epoch, rev, time, seg, off }
    writeAtomic(job.dir, checkpointName(rev), encodeCheckpoint(header, body))
    post({ kind: 'checkpoint', header: { v: 1, ...header, bytes: body.length, crc: crc32(body) } })
    since = 0
  }
  let seg = job.from.seg
  let off = job.from.off
  for (const { first, limit } of job.segments) {
    const file = join(job.dir, segmentName(first))
    syncFile(file)
    const bytes = readFileSync(file).subarray(0, limit)
    let at = first === job.from.seg ? job.from.off : 0
    while (at < bytes.length) {
      const frame = readFrame(bytes, at)
      if (frame.kind !== 'record') {
        throw new Error(
          `${file} at offset ${at}: ${frame.kind === 'bad' ? frame.why : 'cut short'}`,
        )
      }
      const { record } = frame
      if (record.r > rev) {
        if (record.r !== rev + 1)
          throw new Error(`${file}: revision ${record.r} where ${rev + 1} was due`)
        applyPatch(root, record.p)
        rev = record.r
        time = record.t
        since += frame.end - at
        seg = first
        off = frame.end
      }
      at = frame.end
      if (since >= job.every) write(seg, off)
    }
  }
  if (rev > job.from.rev && since > 0) write(seg, off)
  kept = { rev, root }
}

/** fdatasync of a file through a descriptor of its own: the journal's records it folds are on disk first. */
function syncFile(file: string): void {
  const fd = openSync(file, 'r')
  try {
    fdatasyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

parentPort?.on('message', (job: CompactJob) => {
  try {
    run(job)
    parentPort!.postMessage({ kind: 'done' } satisfies CompactMessage)
  } catch (err) {
    kept = undefined
    parentPort!.postMessage({
      kind: 'failed',
      message: (err as Error).message,
    } satisfies CompactMessage)
  }
})
