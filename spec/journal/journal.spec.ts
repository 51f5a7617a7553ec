import { spawn } from 'node:child_process'
import {
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createApp, type Keelson } from '../../src/app.js'
import type { JsonObject } from '../../src/core/json.js'
import { parseUrlPath } from '../../src/core/path.js'
import { StateTree } from '../../src/core/state-tree.js'
import { type Operation, WritePort } from '../../src/core/write-port.js'
import { HEADER_BYTES, segmentName } from '../../src/journal/format.js'
import { Journal } from '../../src/journal/journal.js'
import { JournalDamage } from '../../src/journal/scan.js'
import { DEFAULTS, type KeelsonOptions } from '../../src/options.js'

const dirs: string[] = []
const apps: Keelson[] = []
afterEach(() => {
  for (const app of apps.splice(0)) app.close()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-journal-'))
  dirs.push(dir)
  return dir
}

/** A logger whose lines are kept. */
function logLines(): { log: pino.Logger; lines: () => string[] } {
  const lines: string[] = []
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk))
        done()
      },
    }),
  )
  return { log, lines: () => lines }
}

function open(dataDir: string, options: Partial<KeelsonOptions> = {}): Keelson {
  const app = createApp({ dataDir, ...options })
  apps.push(app)
  return app
}

function close(app: Keelson): void {
  apps.splice(apps.indexOf(app), 1)
  app.close()
}

const root = (app: Keelson): unknown => JSON.parse(JSON.stringify(app.tree.get(parseUrlPath('/'))))

/** Journal options as createApp gives them by default. */
function journalOptions(dir: string) {
  return {
    dir,
    mode: DEFAULTS.journal,
    retentionMs: DEFAULTS.retentionMs,
    historySize: DEFAULTS.historySize,
    segmentBytes: DEFAULTS.journalSegmentBytes,
    segmentMs: DEFAULTS.journalSegmentMs,
    checkpointBytes: DEFAULTS.journalCheckpointBytes,
    log: pino({ level: 'silent' }),
  }
}

/** The offsets where each record of a segment starts. */
function recordStarts(bytes: Buffer): number[] {
  const starts: number[] = []
  for (let at = 0; at < bytes.length; at += HEADER_BYTES + bytes.readUInt32LE(at)) starts.push(at)
  return starts
}

describe('the journal of a data dir', () => {
  it('brings back the tree, its revision and epoch after close and open', async () => {
    const dir = tempDir()
    const first = open(dir)
    for (let i = 1; i <= 5; i++)
      await first.writes.submit({
        kind: 'merge',
        path: ['vessels', first.tree.selfKey, 'n'],
        value: { i },
      })
    await first.writes.submit({ kind: 'delete', path: ['vessels', first.tree.selfKey, 'n', 'i'] })
    await first.writes.submit({
      kind: 'put',
      path: ['vessels', first.tree.selfKey, 'p'],
      value: [1, null, 'x'],
    })
    const expected = {
      root: root(first),
      rev: first.tree.rev,
      epoch: first.tree.epoch,
      self: first.tree.selfKey,
    }
    close(first)
    const second = open(dir)
    expect({
      root: root(second),
      rev: second.tree.rev,
      epoch: second.tree.epoch,
      self: second.tree.selfKey,
    }).toEqual(expected)
    // The resume history was rebuilt: a reader at revision 2 gets what it missed.
    expect(second.tree.history.since(2, second.tree.rev)?.map((c) => c.rev)).toEqual([
      3, 4, 5, 6, 7,
    ])
  })

  it('refuses a data dir another journal has open', async () => {
    const dir = tempDir()
    open(dir)
    expect(() => createApp({ dataDir: dir })).toThrow(
      `the data dir ${dir} is already open in this process`,
    )
  })

  it('refuses a data dir a live node process holds, and takes over the lock of a dead one', async () => {
    const dir = tempDir()
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'])
    try {
      await new Promise((resolve) => child.once('spawn', resolve))
      writeFileSync(join(dir, 'lock'), String(child.pid))
      expect(() => createApp({ dataDir: dir })).toThrow(
        `the data dir ${dir} is in use by keelson process ${child.pid}`,
      )
    } finally {
      child.kill('SIGKILL')
      await new Promise((resolve) => child.once('exit', resolve))
    }
    // The same pid, now dead (a kill -9 left its lock): the start goes on.
    const app = open(dir)
    expect(readFileSync(join(dir, 'lock'), 'utf8')).toBe(String(process.pid))
    close(app)
  })

  it('drops a torn last record, cut at every byte offset of it, and logs it', {
    timeout: 120_000,
  }, async () => {
    const dir = tempDir()
    const app = open(dir)
    for (let i = 1; i <= 4; i++) {
      await app.writes.submit({
        kind: 'merge',
        path: ['vessels', app.tree.selfKey, 'n'],
        value: { i, s: 'x'.repeat(i * 7) },
      })
    }
    close(app)
    const reference = open(dir)
    const kept = root(reference)
    close(reference)
    // The state before the last record, from a copy without it.
    const segment = join(dir, segmentName(1))
    const bytes = readFileSync(segment)
    const last = recordStarts(bytes).at(-1)!
    const without = tempDir()
    cpSync(dir, without, { recursive: true })
    truncateSync(join(without, segmentName(1)), last)
    const before = open(without)
    const expected = root(before)
    expect(before.tree.rev).toBe(3)
    close(before)
    expect(expected).not.toEqual(kept)

    for (let cut = last + 1; cut < bytes.length; cut++) {
      const copy = tempDir()
      cpSync(dir, copy, { recursive: true })
      truncateSync(join(copy, segmentName(1)), cut)
      const { log, lines } = logLines()
      // The journal alone (what createApp opens first), so 60 starts stay quick.
      const journal = Journal.open({ ...journalOptions(copy), log })
      const tree = new StateTree({ epoch: journal.epoch, restore: journal.restore })
      journal.attach(tree, new WritePort(tree))
      try {
        expect({ cut, rev: tree.rev, root: tree.get(parseUrlPath('/')) }).toEqual({
          cut,
          rev: 3,
          root: expected,
        })
        expect(readFileSync(join(copy, segmentName(1))).length).toBe(last)
        expect(
          lines().some(
            (line) => line.includes('torn last record') && line.includes(`"offset":${last}`),
          ),
        ).toBe(true)
        // It goes on from revision 3: the next write is revision 4 again, never seen by anyone.
        await WritePort.of(tree).submit({ kind: 'merge', path: ['after'], value: cut })
        expect(tree.rev).toBe(4)
      } finally {
        journal.close()
      }
    }
    // Zeros after the last whole record (the pages of a torn write) are dropped too.
    const zeros = tempDir()
    cpSync(dir, zeros, { recursive: true })
    writeFileSync(join(zeros, segmentName(1)), Buffer.concat([bytes, Buffer.alloc(4096)]))
    const zeroed = open(zeros)
    expect(root(zeroed)).toEqual(kept)
    close(zeroed)
  })

  it('refuses to start on a flipped bit in the middle, naming the file and offset', async () => {
    const dir = tempDir()
    const app = open(dir)
    for (let i = 1; i <= 6; i++) await app.writes.submit({ kind: 'merge', path: ['n'], value: i })
    close(app)
    const file = join(dir, segmentName(1))
    const bytes = readFileSync(file)
    const starts = recordStarts(bytes)
    // A bit of the payload of record 3, then a bit of the length of record 3.
    for (const [at, why] of [
      [starts[2]! + HEADER_BYTES + 3, 'the record fails its CRC'],
      [starts[2]! + 1, 'the record header fails its CRC'],
    ] as const) {
      const copy = tempDir()
      cpSync(dir, copy, { recursive: true })
      const damaged = Buffer.from(bytes)
      damaged[at]! ^= 0x10
      writeFileSync(join(copy, segmentName(1)), damaged)
      let error: unknown
      try {
        open(copy)
      } catch (err) {
        error = err
      }
      expect(error).toBeInstanceOf(JournalDamage)
      expect((error as JournalDamage).message).toContain(
        `${join(copy, segmentName(1))} at offset ${starts[2]}: ${why}`,
      )
      // The data dir is not left locked by the refused start.
      expect(readdirSync(copy)).not.toContain('lock')
    }
  })

  it('loses nothing when checkpoints are written during writes, and starts from a checkpoint', async () => {
    const dir = tempDir()
    const app = open(dir, { journalCheckpointBytes: 4096 })
    const states = new Map<number, unknown>()
    app.tree.onChange((change) => states.set(change.rev, root(app)))
    const key = app.tree.selfKey
    for (let i = 0; i < 1500; i++) {
      const op: Operation =
        i % 10 === 9
          ? { kind: 'put', path: ['vessels', key, 'w'], value: { reset: i } }
          : i % 10 === 5
            ? { kind: 'delete', path: ['vessels', key, 'w'] }
            : {
                kind: 'merge' as const,
                path: ['vessels', key, 'w', `k${i % 37}`],
                value: { i, at: [i, 'x'] },
              }
      // Several writes per turn, as concurrent writers make them.
      if (i % 3 === 2) await app.writes.submit(op)
      else void app.writes.submit(op)
    }
    await app.journal!.settled()
    const checkpoints = readdirSync(dir).filter((name) => name.startsWith('cp-'))
    expect(checkpoints.length).toBeGreaterThan(5)
    const expected = root(app)
    const rev = app.tree.rev

    // The past: every 37th revision's time answers that revision's tree (or a later one of the same ms).
    const times = new Map<number, number>()
    for await (const change of app.journal!.timeTravel.changesAfter(0))
      times.set(change.rev, change.time)
    expect(times.size).toBe(rev)
    for (let r = 1; r <= rev; r += 37) {
      const time = times.get(r)!
      let last = r
      while (times.get(last + 1) === time) last++
      const past = await app.journal!.timeTravel.stateAt(time)
      expect({ r, rev: past?.rev, root: past?.root }).toEqual({
        r,
        rev: last,
        root: states.get(last),
      })
    }
    close(app)

    // A start from the newest checkpoint (short resume history) and one from the oldest agree.
    for (const historySize of [10, 100_000]) {
      const again = open(dir, { historySize })
      expect({ rev: again.tree.rev, root: root(again) }).toEqual({ rev, root: expected })
      close(again)
    }
  }, 60_000)
})

describe('retention', () => {
  it('removes the segments and checkpoints older than the window, keeping the earliest moment answerable', async () => {
    const dir = tempDir()
    let clock = Date.UTC(2026, 0, 1)
    const options = {
      dir,
      mode: 'sync' as const,
      retentionMs: 60_000,
      historySize: 100,
      segmentBytes: 64 * 1024 * 1024,
      segmentMs: 10_000,
      checkpointBytes: 2048,
      log: pino({ level: 'silent' }),
      now: () => clock,
    }
    const journal = Journal.open(options)
    const tree = new StateTree({ epoch: journal.epoch })
    const writes = new WritePort(tree)
    journal.attach(tree, writes)
    try {
      // Ten minutes of one change a second.
      for (let i = 0; i < 600; i++) {
        clock += 1000
        await writes.submit({ kind: 'merge', path: ['n'], value: { i, pad: 'y'.repeat(40) } })
        if (i % 50 === 0) await journal.settled()
      }
      await journal.settled()
      // One more turn of writes: retention runs after each compaction.
      clock += 1000
      await writes.submit({ kind: 'merge', path: ['n'], value: { i: 600 } })
      await journal.settled()
      const now = clock
      const files = readdirSync(dir)
      const checkpoints = files
        .filter((f) => f.startsWith('cp-'))
        .map((f) => Number(f.slice(3, 19)))
      const segments = files.filter((f) => f.startsWith('seg-')).map((f) => Number(f.slice(4, 20)))
      const earliest = journal.timeTravel.earliest()!
      // The earliest moment is at the window's start (within one checkpoint interval), not the first write.
      expect(earliest).toBeLessThanOrEqual(now - options.retentionMs)
      expect(earliest).toBeGreaterThan(now - options.retentionMs - 30_000)
      expect(Math.min(...checkpoints)).toBeGreaterThan(400)
      // No segment holds only records from before the oldest checkpoint.
      const sorted = segments.sort((a, b) => a - b)
      expect(sorted[1] ?? Infinity).toBeGreaterThan(Math.min(...checkpoints) + 1)
      expect(sorted[0]).toBeGreaterThan(300)
      expect(await journal.timeTravel.stateAt(earliest - 1)).toBeUndefined()
      const past = await journal.timeTravel.stateAt(earliest)
      expect(past?.rev).toBe(Math.min(...checkpoints))
      const later = await journal.timeTravel.stateAt(now - 5000)
      expect((later!.root as JsonObject).n).toEqual({ i: 595, pad: 'y'.repeat(40) })
    } finally {
      journal.close()
    }
    // And it still opens.
    const again = Journal.open(options)
    expect(again.restore?.rev).toBeGreaterThan(400)
    again.close()
  }, 60_000)
})
