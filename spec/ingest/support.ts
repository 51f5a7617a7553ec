/**
 * Helpers of the ingest specs: loggers, a wait that works under fake timers,
 * and small NMEA logs written to a temporary directory.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino, { type Logger } from 'pino'

/** A logger that drops everything. */
export const silent: Logger = pino({ level: 'silent' })

/** A logger that keeps every record (parsed) in `records`. */
export function capturingLog(): { log: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = []
  const log = pino(
    { level: 'info' },
    { write: (line: string) => void records.push(JSON.parse(line)) },
  )
  return { log, records }
}

/**
 * Resolves when `predicate` holds, polling between I/O turns with
 * setImmediate, so it works whether or not timers are faked (the deadline is
 * read from the real monotonic clock). Rejects after `ms`.
 */
export async function until(predicate: () => boolean, ms = 3000): Promise<void> {
  const deadline = process.hrtime.bigint() + BigInt(ms) * 1_000_000n
  while (!predicate()) {
    if (process.hrtime.bigint() > deadline) throw new Error('timed out waiting for a condition')
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

/** A temporary directory removed by the returned function. */
export function tempDir(): {
  dir: string
  file(name: string, lines: string[]): string
  remove(): void
} {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-ingest-'))
  return {
    dir,
    file(name, lines) {
      const path = join(dir, name)
      writeFileSync(path, `${lines.join('\r\n')}\r\n`)
      return path
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
