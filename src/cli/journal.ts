/**
 * `keelson journal check DIR` and `keelson journal repair DIR` (SPEC §9):
 * read a data dir's journal whole, as a start does not (a start reads the
 * records after the checkpoint it loads), and cut it at its first bad record.
 * Like etcd's WAL repair and Redis's `redis-check-aof --fix`: what follows
 * the damage is lost, and it is said how much.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, truncateSync } from 'node:fs'
import { join } from 'node:path'
import { newEpoch } from '../core/event-id.js'
import {
  checkpointName,
  decodeCheckpoint,
  META_FILE,
  type Meta,
  segmentName,
  writeAtomic,
} from '../journal/format.js'
import { JournalDamage, listJournal, scanSegment } from '../journal/scan.js'
import type { Command } from './commands.js'
import { ConfigError } from './values.js'

/** What reading a journal whole found. */
interface Report {
  epoch: string | undefined
  checkpoints: { rev: number; time: number }[]
  badCheckpoints: { rev: number; why: string }[]
  segments: number
  bytes: number
  firstRev: number | undefined
  lastRev: number | undefined
  lastTime: number | undefined
  torn: { file: string; offset: number; size: number } | undefined
  /** The first damage: the segment (index) and where it is. */
  damage: { index: number; error: JournalDamage } | undefined
  segmentList: number[]
}

function inspect(dir: string): Report {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ConfigError(`${dir} is not a directory`)
  }
  let epoch: string | undefined
  try {
    epoch = (JSON.parse(readFileSync(join(dir, META_FILE), 'utf8')) as Meta).epoch
  } catch {}
  const listing = listJournal(dir)
  const report: Report = {
    epoch,
    checkpoints: [],
    badCheckpoints: [],
    segments: listing.segments.length,
    bytes: 0,
    firstRev: listing.segments[0],
    lastRev: undefined,
    lastTime: undefined,
    torn: undefined,
    damage: undefined,
    segmentList: listing.segments,
  }
  for (const rev of listing.checkpoints) {
    try {
      const { header } = decodeCheckpoint(readFileSync(join(dir, checkpointName(rev))))
      if (header.rev !== rev) throw new Error(`it holds revision ${header.rev}`)
      report.checkpoints.push({ rev, time: header.time })
    } catch (err) {
      report.badCheckpoints.push({ rev, why: (err as Error).message })
    }
  }
  let expected: number | undefined
  for (let i = 0; i < listing.segments.length; i++) {
    const first = listing.segments[i]!
    const file = join(dir, segmentName(first))
    report.bytes += statSync(file).size
    try {
      if (expected !== undefined && first !== expected) {
        throw new JournalDamage(file, 0, `it starts at revision ${first} where ${expected} was due`)
      }
      const scan = scanSegment(dir, first, i === listing.segments.length - 1, Infinity)
      if (scan.lastRev >= first) {
        report.lastRev = scan.lastRev
        report.lastTime = scan.lastTime
      }
      expected = scan.lastRev + 1
      if (scan.torn) report.torn = { file, offset: scan.end, size: scan.size }
    } catch (err) {
      if (!(err instanceof JournalDamage)) throw err
      report.damage = { index: i, error: err }
      break
    }
  }
  return report
}

function summary(dir: string, r: Report): string {
  const lines = [`journal in ${dir}: epoch ${r.epoch ?? '(meta.json missing or unreadable)'}`]
  const cps = r.checkpoints
  lines.push(
    cps.length === 0
      ? '  checkpoints: none'
      : `  checkpoints: ${cps.length}, revisions ${cps[0]!.rev} to ${cps.at(-1)!.rev}, ` +
          `from ${new Date(cps[0]!.time).toISOString()}`,
  )
  for (const bad of r.badCheckpoints) {
    lines.push(`  BAD checkpoint ${join(dir, checkpointName(bad.rev))}: ${bad.why}`)
  }
  lines.push(
    `  segments: ${r.segments} (${r.bytes} bytes)` +
      (r.lastRev === undefined
        ? ', no records'
        : `, revisions ${r.firstRev} to ${r.lastRev}, last at ${new Date(r.lastTime!).toISOString()}`),
  )
  if (r.torn) {
    lines.push(
      `  torn last record: ${r.torn.file} at offset ${r.torn.offset} (${r.torn.size - r.torn.offset} bytes, ` +
        'never acknowledged; dropped at the next start)',
    )
  }
  if (r.damage) {
    const { error } = r.damage
    lines.push(`  DAMAGED: ${error.file} at offset ${error.offset}: ${error.why}`)
  }
  return `${lines.join('\n')}\n`
}

function dirArg(args: readonly string[], name: string): string {
  if (args.length !== 1 || args[0]!.startsWith('-')) {
    throw new ConfigError(`Usage: keelson journal ${name} DIR`)
  }
  return args[0]!
}

/** `keelson journal check DIR`: exit 0 when the journal reads whole (a torn tail is fine), 1 when damaged. */
const check: Command = {
  summary: "DIR  read a data dir's journal whole: records, checkpoints, damage (exit 1)",
  async run(args) {
    const dir = dirArg(args, 'check')
    const report = inspect(dir)
    process.stdout.write(summary(dir, report))
    if (report.damage || report.badCheckpoints.length > 0) process.exitCode = 1
  },
}

/**
 * `keelson journal repair DIR`: cuts the journal at its first bad record;
 * later segments, and checkpoints past the cut or damaged, are moved to
 * `DIR/damaged-<time>/`. When records were lost the epoch changes, so
 * clients that saw them reset instead of resuming.
 */
const repair: Command = {
  summary: 'DIR  cut a damaged journal at its first bad record (what follows is moved aside)',
  async run(args) {
    const dir = dirArg(args, 'repair')
    const lock = join(dir, 'lock')
    if (existsSync(lock)) {
      const pid = Number(readFileSync(lock, 'utf8'))
      let alive = false
      try {
        process.kill(pid, 0)
        alive = pid !== process.pid
      } catch {}
      if (alive) throw new ConfigError(`${dir} is in use by keelson process ${pid}; stop it first`)
    }
    const report = inspect(dir)
    process.stdout.write(summary(dir, report))
    const aside = join(dir, `damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`)
    const moveAside = (name: string): void => {
      mkdirSync(aside, { recursive: true })
      renameSync(join(dir, name), join(aside, name))
      process.stdout.write(`  moved ${name} to ${aside}\n`)
    }
    let lostFrom: number | undefined
    if (report.damage) {
      const { index, error } = report.damage
      truncateSync(error.file, error.offset)
      process.stdout.write(`  cut ${error.file} at offset ${error.offset}\n`)
      for (const first of report.segmentList.slice(index + 1)) moveAside(segmentName(first))
      // The last good revision: what the cut segment still holds.
      const first = report.segmentList[index]!
      lostFrom = scanSegment(dir, first, true, Infinity).lastRev + 1
      if (lostFrom < first) lostFrom = first
    } else if (report.torn) {
      truncateSync(report.torn.file, report.torn.offset)
      process.stdout.write(`  dropped the torn last record of ${report.torn.file}\n`)
    }
    for (const bad of report.badCheckpoints) moveAside(checkpointName(bad.rev))
    if (lostFrom !== undefined) {
      for (const cp of report.checkpoints) if (cp.rev >= lostFrom) moveAside(checkpointName(cp.rev))
      const epoch = newEpoch()
      writeAtomic(dir, META_FILE, `${JSON.stringify({ epoch } satisfies Meta)}\n`)
      process.stdout.write(
        `  revisions from ${lostFrom} on are lost; new epoch ${epoch}: clients reset instead of resuming\n`,
      )
    }
    if (!report.damage && !report.torn && report.badCheckpoints.length === 0) {
      process.stdout.write('  nothing to repair\n')
    }
  },
}

/** `journal check` and `journal repair`. */
export const JOURNAL_COMMANDS: Readonly<Record<string, Command>> = {
  'journal check': check,
  'journal repair': repair,
}
