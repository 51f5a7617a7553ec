/**
 * Reads records from a data dir's segments without holding a segment in
 * memory: what time travel reads (./past.ts), chunk by chunk, off the
 * event loop's back (async file reads).
 */
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { HEADER_BYTES, type JournalRecord, readFrame, segmentName } from './format.js'
import { JournalDamage } from './scan.js'

/** Bytes read at a time. */
const CHUNK_BYTES = 256 * 1024

/** Where reading starts: a segment (its first revision) and an offset in it. */
export interface Position {
  readonly seg: number
  readonly off: number
}

/**
 * The records after revision `after`, in order, from `start` on through
 * every later segment of `segments` (first revisions, ascending), up to the
 * end of the data each segment holds when it is read. Throws
 * {@link JournalDamage} for a record that is not one, or a revision gap.
 */
export async function* readRecords(
  dir: string,
  segments: readonly number[],
  after: number,
  start: Position,
): AsyncGenerator<JournalRecord> {
  let expected = after + 1
  for (const first of segments) {
    if (first < start.seg) continue
    const file = join(dir, segmentName(first))
    const handle = await open(file, 'r')
    try {
      let buffer = Buffer.alloc(0)
      // Offset in the file of buffer[0].
      let base = first === start.seg ? start.off : 0
      let eof = false
      while (true) {
        let at = 0
        while (true) {
          const frame = readFrame(buffer, at)
          if (frame.kind !== 'record') {
            if (frame.kind === 'bad') throw new JournalDamage(file, base + at, frame.why)
            break
          }
          at = frame.end
          const record = frame.record
          if (record.r < expected) continue
          if (record.r > expected) {
            throw new JournalDamage(
              file,
              base + at,
              `revision ${record.r} where ${expected} was due`,
            )
          }
          expected++
          yield record
        }
        if (eof) break
        // Keep the unread part and read on.
        const rest = buffer.subarray(at)
        const wanted =
          rest.length >= HEADER_BYTES
            ? Math.max(CHUNK_BYTES, HEADER_BYTES + rest.readUInt32LE(0))
            : CHUNK_BYTES
        const chunk = Buffer.allocUnsafe(wanted)
        const { bytesRead } = await handle.read(chunk, 0, wanted, base + at + rest.length)
        if (bytesRead === 0) eof = true
        base += at
        buffer =
          rest.length === 0
            ? chunk.subarray(0, bytesRead)
            : Buffer.concat([rest, chunk.subarray(0, bytesRead)])
      }
    } finally {
      await handle.close()
    }
  }
}
