/**
 * The journal's files in a data dir (SPEC §9) and how their bytes are laid
 * out. Shared by the journal, the compaction worker and `keelson journal`.
 *
 * - `meta.json`: the epoch of event ids and whether a run is open.
 * - `seg-<first revision>.log`: a segment of the append-only journal, one
 *   record per change. A record is a 12-byte header — payload length,
 *   CRC-32 of the payload, CRC-32 of those 8 bytes — then the payload, the
 *   JSON `{"r":rev,"t":time,"p":root merge patch}`. The header's own CRC
 *   tells a flipped length (damage) from a record cut short at the end of
 *   the file (a torn write), as etcd's WAL frames do.
 * - `cp-<revision>.json`: a checkpoint, the whole tree at a revision: one
 *   line of JSON header (revision, time, where the journal goes on, the
 *   body's length and CRC), then the tree as JSON. The newest is the
 *   snapshot a start loads; the others make a past moment cheap to rebuild.
 *   Written to a temporary file, fsynced, renamed, and the directory fsynced.
 */
import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import type { JsonObject } from '../core/json.js'

/** Bytes of a record's header. */
export const HEADER_BYTES = 12

/** Largest record payload accepted when reading (a larger length is damage). */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024

/** One recorded change. */
export interface JournalRecord {
  /** Its revision. */
  readonly r: number
  /** When it was applied, ms since 1970 (never less than the record before). */
  readonly t: number
  /** Its root RFC 7396 merge patch (the effect's patch). */
  readonly p: JsonObject
}

/** The header line of a checkpoint file. */
export interface CheckpointHeader {
  /** Format version. */
  readonly v: 1
  readonly epoch: string
  /** The revision of the tree it holds. */
  readonly rev: number
  /** The time of that revision's record (or of the checkpoint, at revision 0). */
  readonly time: number
  /** The first revision of the segment holding record `rev` (or rev + 1), and the offset after it there. */
  readonly seg: number
  readonly off: number
  /** Length and CRC-32 of the tree's JSON after the header line. */
  readonly bytes: number
  readonly crc: number
}

/** `meta.json`. */
export interface Meta {
  readonly epoch: string
  /** The mode of the run that has the journal open, or undefined when it closed cleanly. */
  readonly open?: 'sync' | 'async'
}

export const META_FILE = 'meta.json'

const SEGMENT = /^seg-(\d{16})\.log$/
const CHECKPOINT = /^cp-(\d{16})\.json$/

/** The name of the segment whose first record is `rev`. */
export function segmentName(rev: number): string {
  return `seg-${String(rev).padStart(16, '0')}.log`
}

/** The name of the checkpoint at `rev`. */
export function checkpointName(rev: number): string {
  return `cp-${String(rev).padStart(16, '0')}.json`
}

/** The first revision a segment file name declares, or undefined for another file. */
export function segmentRev(name: string): number | undefined {
  const m = SEGMENT.exec(name)
  return m ? Number(m[1]) : undefined
}

/** The revision a checkpoint file name declares, or undefined for another file. */
export function checkpointRev(name: string): number | undefined {
  const m = CHECKPOINT.exec(name)
  return m ? Number(m[1]) : undefined
}

/** One record framed: header and payload. */
export function encodeRecord(record: JournalRecord): Buffer {
  const payload = Buffer.from(JSON.stringify(record))
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length)
  frame.writeUInt32LE(payload.length, 0)
  frame.writeUInt32LE(crc32(payload), 4)
  frame.writeUInt32LE(crc32(frame.subarray(0, 8)), 8)
  payload.copy(frame, HEADER_BYTES)
  return frame
}

/** What is at an offset of a segment. */
export type Frame =
  /** A whole record, valid; `end` is the offset after it. */
  | { readonly kind: 'record'; readonly record: JournalRecord; readonly end: number }
  /** Fewer bytes than a whole record from here to `limit`: a write cut short, if this is the end. */
  | { readonly kind: 'short' }
  /** Bytes that are not a record: damage, or a torn write if only zeros follow. */
  | { readonly kind: 'bad'; readonly why: string }

/** Reads the frame at `offset` of `bytes` (the segment's bytes up to `limit`). */
export function readFrame(bytes: Buffer, offset: number, limit = bytes.length): Frame {
  if (limit - offset < HEADER_BYTES) return { kind: 'short' }
  const length = bytes.readUInt32LE(offset)
  if (crc32(bytes.subarray(offset, offset + 8)) !== bytes.readUInt32LE(offset + 8)) {
    return { kind: 'bad', why: 'the record header fails its CRC' }
  }
  if (length === 0 || length > MAX_RECORD_BYTES) {
    return { kind: 'bad', why: `a record length of ${length} bytes` }
  }
  const end = offset + HEADER_BYTES + length
  if (end > limit) return { kind: 'short' }
  const payload = bytes.subarray(offset + HEADER_BYTES, end)
  if (crc32(payload) !== bytes.readUInt32LE(offset + 4)) {
    return { kind: 'bad', why: 'the record fails its CRC' }
  }
  let record: JournalRecord
  try {
    record = JSON.parse(payload.toString('utf8')) as JournalRecord
  } catch {
    return { kind: 'bad', why: 'the record is not JSON' }
  }
  if (
    record === null ||
    typeof record !== 'object' ||
    !Number.isSafeInteger(record.r) ||
    !Number.isFinite(record.t) ||
    record.p === null ||
    typeof record.p !== 'object' ||
    Array.isArray(record.p)
  ) {
    return { kind: 'bad', why: 'the record lacks its revision, time or patch' }
  }
  return { kind: 'record', record, end }
}

/** Whether `bytes` from `offset` on are all zeros (pages of a torn write). */
export function zerosFrom(bytes: Buffer, offset: number, limit = bytes.length): boolean {
  for (let i = offset; i < limit; i++) if (bytes[i] !== 0) return false
  return true
}

/** A checkpoint file's bytes: the header line, then the tree's JSON. */
export function encodeCheckpoint(
  header: Omit<CheckpointHeader, 'v' | 'bytes' | 'crc'>,
  body: Buffer,
): Buffer {
  const line = JSON.stringify({ v: 1, ...header, bytes: body.length, crc: crc32(body) })
  return Buffer.concat([Buffer.from(`${line}\n`), body])
}

/** The header of a checkpoint file's bytes, or a reason it is not one. */
export function readCheckpointHeader(
  bytes: Buffer,
): { header: CheckpointHeader; bodyAt: number } | { why: string } {
  const nl = bytes.indexOf(10)
  if (nl < 0) return { why: 'no header line' }
  let header: CheckpointHeader
  try {
    header = JSON.parse(bytes.subarray(0, nl).toString('utf8')) as CheckpointHeader
  } catch {
    return { why: 'the header is not JSON' }
  }
  if (
    header?.v !== 1 ||
    !Number.isSafeInteger(header.rev) ||
    !Number.isFinite(header.time) ||
    !Number.isSafeInteger(header.seg) ||
    !Number.isSafeInteger(header.off) ||
    typeof header.epoch !== 'string'
  ) {
    return { why: 'the header lacks its fields' }
  }
  return { header, bodyAt: nl + 1 }
}

/** A checkpoint file's header and tree, checked against its CRC; throws naming what is wrong. */
export function decodeCheckpoint(bytes: Buffer): { header: CheckpointHeader; root: JsonObject } {
  const head = readCheckpointHeader(bytes)
  if ('why' in head) throw new Error(head.why)
  const body = bytes.subarray(head.bodyAt)
  if (body.length !== head.header.bytes) throw new Error('the tree is cut short')
  if (crc32(body) !== head.header.crc) throw new Error('the tree fails its CRC')
  const root = JSON.parse(body.toString('utf8')) as JsonObject
  return { header: head.header, root }
}

/**
 * Writes `bytes` to `dir/name` atomically: a temporary file, fsynced,
 * renamed over the name, then the directory fsynced so the rename is kept.
 */
export function writeAtomic(dir: string, name: string, bytes: Buffer | string): void {
  const temp = join(dir, `.${name}.${process.pid}.tmp`)
  const fd = openSync(temp, 'w')
  try {
    const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes
    let at = 0
    while (at < data.length) at += writeSync(fd, data, at, data.length - at)
    fdatasyncSync(fd)
  } catch (err) {
    closeSync(fd)
    try {
      unlinkSync(temp)
    } catch {}
    throw err
  }
  closeSync(fd)
  renameSync(temp, join(dir, name))
  syncDir(dir)
}

/** fsyncs a directory, so a file created, renamed or removed in it stays so. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
