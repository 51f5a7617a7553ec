/**
 * Scenario (j), the journal of SPEC §9 (issue 12), as ratios in one run:
 * - acknowledged PATCHes per second, 64 connections (autocannon), with no
 *   data dir, `--journal sync` (group commit), sync with an fsync per
 *   write, and async; one connection's p99 latency;
 * - (b2) fan-out, 1,000 SSE clients × 1,000 changes/s, journal off and on;
 * - restart: the server's start to listening with a large journal and a
 *   10 MB tree, against a start with no data dir;
 * - time travel: `stateAt(random time)` over a synthetic journal at the
 *   demo voyage's rate (1.45 changes/s of ~1.7 KB patches, measured on
 *   the demo) with its disk use per day;
 * - compaction: the event loop's longest delay while the worker writes a
 *   checkpoint of a 50 MB tree, writes going on.
 * The in-process parts run in this process (nothing else runs meanwhile).
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import autocannon from 'autocannon'
import pino from 'pino'
import type { Json, JsonObject } from '../src/core/json.js'
import { StateTree } from '../src/core/state-tree.js'
import { WritePort } from '../src/core/write-port.js'
import { Journal, type JournalMode } from '../src/journal/journal.js'
import { DEFAULTS } from '../src/options.js'
import { startTsChild } from './lib/spawn.js'
import type { Row } from './report.js'
import { runStream } from './runners.js'
import type { JournalScenario, StreamScenario } from './scenarios.js'
import { TARGETS, type Target } from './targets.js'

const SELF = '/signalk/v1/api/vessels/self'
const silent = pino({ level: 'silent' })

/** The bench server (bench/servers/keelson.ts) with `BENCH_JOURNAL` = none | sync | each | async. */
async function startServer(journal: string, dataDir?: string) {
  const started = Date.now()
  const child = startTsChild('keelson', 'servers/keelson.ts', [], {
    env: { BENCH_JOURNAL: journal, ...(dataDir && { BENCH_DATA_DIR: dataDir }) },
  })
  const ready = await child.next('ready', 120_000)
  return {
    child,
    port: ready.port as number,
    startMs: Date.now() - started,
    stop: () => child.stop(),
  }
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'keelson-bench-journal-'))
}

/** Bytes of the files in `dir` whose names start with `prefix` (`seg-`: the journal's segments). */
function dirBytes(dir: string, prefix = ''): number {
  return readdirSync(dir)
    .filter((name) => name.startsWith(prefix))
    .reduce((sum, name) => sum + statSync(join(dir, name)).size, 0)
}

const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits

/** PATCHes of a changing value, `connections` at a time, for `ms`. */
async function writeLoad(port: number, connections: number, ms: number) {
  let n = 0
  const result = await autocannon({
    url: `http://127.0.0.1:${port}${SELF}/bench`,
    connections,
    duration: ms / 1000,
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ n: ++n }) }),
      },
    ],
  })
  return {
    writesPerS: Math.round(result['2xx'] / (ms / 1000)),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors + result.timeouts,
  }
}

/** A patch shaped like the demo voyage's (one NMEA burst: RMC, GGA, HDT, VHW, DPT, MWV; AIS every third). */
function demoPatch(i: number, time: number, self: string): JsonObject {
  const ts = new Date(time).toISOString()
  const v = (value: number) => ({ value, timestamp: ts })
  const t = { timestamp: ts }
  const patch: JsonObject = {
    sources: {
      demo: {
        GP: { sentences: { RMC: ts, GGA: ts } },
        HE: { sentences: { HDT: ts } },
        VW: { sentences: { VHW: ts } },
        SD: { sentences: { DPT: ts } },
        WI: { sentences: { MWV: ts } },
      },
    },
    vessels: {
      [self]: {
        navigation: {
          position: {
            value: { latitude: 47.5 + i * 1e-6, longitude: -3.03 + i * 1e-6 },
            timestamp: ts,
          },
          courseOverGroundTrue: v(1.45 + (i % 100) * 1e-4),
          speedOverGround: v(3.4 + (i % 50) * 1e-3),
          magneticVariation: t,
          magneticVariationAgeOfService: v(1782032400 + i),
          datetime: v(1782032400 + i),
          gnss: {
            methodQuality: t,
            satellites: t,
            antennaAltitude: t,
            horizontalDilution: t,
            geoidalSeparation: t,
            differentialAge: t,
            differentialReference: t,
          },
          headingTrue: v(1.43 + (i % 70) * 1e-4),
          speedThroughWater: v(3.3 + (i % 30) * 1e-3),
        },
        environment: {
          depth: { belowTransducer: t, surfaceToTransducer: t, belowSurface: t },
          wind: {
            speedApparent: t,
            angleApparent: v(2.74 + (i % 20) * 1e-3),
            speedTrue: v(7.3 + (i % 10) * 1e-2),
            angleTrueWater: v(2.92 + (i % 40) * 1e-3),
          },
        },
      },
    },
  }
  if (i % 3 === 0) {
    const ais = `urn:mrn:imo:mmsi:2271234${String(i % 10).padStart(2, '0')}`
    const a = (value: Json) => ({ value, $source: 'demo.AI', timestamp: ts, sentence: 'VDM' })
    ;(patch.vessels as JsonObject)[ais] = {
      navigation: {
        speedOverGround: a(2.98 + (i % 9) * 0.01),
        courseOverGroundTrue: a(5.32),
        position: a({ longitude: -3.01 + i * 1e-6, latitude: 47.49 }),
      },
    }
  }
  return patch
}

/** A journal written in this process with a clock of its own. */
function openJournal(
  dir: string,
  mode: JournalMode,
  now: () => number,
  retentionMs = DEFAULTS.retentionMs,
) {
  const journal = Journal.open({
    dir,
    mode,
    retentionMs,
    historySize: DEFAULTS.historySize,
    segmentBytes: DEFAULTS.journalSegmentBytes,
    segmentMs: DEFAULTS.journalSegmentMs,
    checkpointBytes: DEFAULTS.journalCheckpointBytes,
    log: silent,
    now,
  })
  const tree = new StateTree({
    epoch: journal.epoch,
    ...(journal.restore && { restore: journal.restore }),
  })
  const writes = new WritePort(tree)
  journal.attach(tree, writes)
  return { journal, tree, writes }
}

/** Lets the journal's end-of-turn flush (and the worker's messages) run. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

/** A tree of about `mb` MB: 1,000 keys of strings under vessels.self.big, written in 100 KB patches. */
async function bigTree(writes: WritePort, self: string, mb: number): Promise<void> {
  const keys = 1000
  const value = 'x'.repeat(Math.round((mb * 1024 * 1024) / keys) - 20)
  for (let k = 0; k < keys; k += 10) {
    const part: JsonObject = {}
    for (let j = k; j < k + 10; j++) part[`k${j}`] = `${j}${value}`
    writes.commit({ kind: 'merge', path: ['vessels', self, 'big'], value: part })
    await turn()
  }
}

export async function runJournal(scenario: JournalScenario, cpuProf?: string): Promise<Row[]> {
  const rows: Row[] = []
  const row = (target: string, metrics: Record<string, number>, transport = 'http'): void => {
    rows.push({
      scenario: scenario.id,
      title: scenario.title,
      target,
      role: 'keelson',
      transport,
      metrics,
    })
    console.error(`  ${target}: ${JSON.stringify(metrics)}`)
  }
  // BENCH_JOURNAL_PARTS=restart,compaction runs only those parts (a rerun of one figure).
  const parts = process.env.BENCH_JOURNAL_PARTS?.split(',')
  const guard = async (target: string, part: () => Promise<void>): Promise<void> => {
    if (parts && !parts.includes(target.replace(' ', ''))) return
    console.error(`(${scenario.id}) ${target}…`)
    try {
      await part()
    } catch (error) {
      console.error(`  error: ${(error as Error).message}`)
      rows.push({
        scenario: scenario.id,
        title: scenario.title,
        target,
        role: 'keelson',
        transport: 'http',
        error: (error as Error).message,
        metrics: {},
      })
    }
  }

  // 1. Acknowledged writes per second.
  await guard('writes', async () => {
    let base = 0
    for (const [journal, label] of [
      ['none', 'no data dir'],
      ['sync', '--journal sync (group commit)'],
      ['each', 'sync, fsync per write'],
      ['async', '--journal async'],
    ] as const) {
      const dir = journal === 'none' ? undefined : tempDir()
      const server = await startServer(journal, dir)
      try {
        const many = await writeLoad(server.port, 64, scenario.writeMs)
        const one =
          journal === 'none' || journal === 'sync'
            ? await writeLoad(server.port, 1, scenario.writeMs)
            : undefined
        if (journal === 'none') base = many.writesPerS
        row(`writes: ${label}`, {
          writesPerS: many.writesPerS,
          vsNoDataDir: round(many.writesPerS / base, 2),
          p50: many.p50,
          p99: many.p99,
          errors: many.errors,
          ...(one && { oneWriterPerS: one.writesPerS, oneWriterP99: one.p99 }),
        })
      } finally {
        await server.stop()
        if (dir) rmSync(dir, { recursive: true, force: true })
      }
    }
  })

  // 2. (b2) fan-out, journal off and on.
  await guard('b2', async () => {
    const sse = TARGETS.find((t) => t.id === 'keelson-sse')!
    const b2: StreamScenario = {
      kind: 'stream',
      id: 'b2',
      title: 'b2',
      clients: scenario.fanOutClients,
      rate: 1000,
      warmupMs: 2000,
      durationMs: scenario.fanOutMs,
      drainMs: 5000,
    }
    let off: Record<string, number> | undefined
    for (const on of [false, true]) {
      const dir = on ? tempDir() : undefined
      const target: Target = {
        ...sse,
        id: on ? 'keelson-sse + journal' : 'keelson-sse',
        start: async () => {
          const server = await startServer(on ? 'sync' : 'none', dir)
          return { child: server.child, port: server.port, stop: server.stop }
        },
      }
      try {
        const m = await runStream(target, b2, cpuProf)
        off ??= m
        row(
          `(b2) ${scenario.fanOutClients} clients × 1000 changes/s, journal ${on ? 'sync' : 'off'}`,
          {
            eventsPerSec: m.eventsPerSec!,
            p99: m.p99!,
            cpuUsPerEvent: m.cpuUsPerEvent!,
            vsOff: round(m.eventsPerSec! / off.eventsPerSec!, 3),
            p99VsOff: round(m.p99! / off.p99!, 2),
          },
          'sse',
        )
      } finally {
        if (dir) rmSync(dir, { recursive: true, force: true })
      }
    }
  })

  // 3. Restart with a large journal and a 10 MB tree.
  await guard('restart', async () => {
    const dir = tempDir()
    try {
      let clock = Date.now() - 3_600_000
      const { journal, tree, writes } = openJournal(dir, 'async', () => clock)
      await bigTree(writes, tree.selfKey, 10)
      const target = scenario.restartJournalMB * 1024 * 1024
      for (let i = 0; dirBytes(dir, 'seg-') < target; i++) {
        for (let j = 0; j < 200; j++) {
          clock += 10
          writes.commit({
            kind: 'merge',
            path: [],
            value: demoPatch(i * 200 + j, clock, tree.selfKey),
          })
        }
        await turn()
      }
      await journal.settled()
      const records = tree.rev
      journal.close()
      const journalMB = dirBytes(dir, 'seg-') / 1024 / 1024
      const checkpointsMB = dirBytes(dir, 'cp-') / 1024 / 1024
      const cold = await startServer('none')
      await cold.stop()
      const warm = await startServer('sync', dir)
      await warm.stop()
      row('restart', {
        journalMB: Math.round(journalMB),
        checkpointsMB: Math.round(checkpointsMB),
        records,
        restartMs: warm.startMs,
        noDataDirMs: cold.startMs,
        journalCostMs: warm.startMs - cold.startMs,
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  // 4. Time travel over days at the demo voyage's rate.
  await guard('time travel', async () => {
    const dir = tempDir()
    try {
      const days = scenario.days
      const start = Date.now() - days * 86_400_000
      let clock = start
      const { journal, tree, writes } = openJournal(
        dir,
        'async',
        () => clock,
        (days + 1) * 86_400_000,
      )
      const rate = 1.45
      const total = Math.round(days * 86_400 * rate)
      const built = Date.now()
      for (let i = 0; i < total; ) {
        for (let j = 0; j < 500 && i < total; j++, i++) {
          clock = start + Math.round((i / rate) * 1000)
          writes.commit({ kind: 'merge', path: [], value: demoPatch(i, clock, tree.selfKey) })
        }
        await turn()
      }
      await journal.settled()
      const buildS = (Date.now() - built) / 1000
      const bytes = dirBytes(dir)
      const times: number[] = []
      const cpu: number[] = []
      const tt = journal.timeTravel
      const earliest = tt.earliest()!
      for (let q = 0; q < scenario.stateAtQueries; q++) {
        const at = earliest + Math.random() * (clock - earliest)
        const t0 = performance.now()
        const c0 = process.cpuUsage()
        const past = await tt.stateAt(at)
        times.push(performance.now() - t0)
        const c = process.cpuUsage(c0)
        cpu.push((c.user + c.system) / 1000)
        if (past === undefined) throw new Error(`no state at ${new Date(at).toISOString()}`)
      }
      journal.close()
      times.sort((a, b) => a - b)
      cpu.sort((a, b) => a - b)
      row(`time travel: ${days} day(s) at the demo rate`, {
        days,
        records: total,
        mbPerDay: round(bytes / 1024 / 1024 / days, 1),
        buildS: round(buildS, 0),
        stateAtP50: round(times[times.length >> 1]!, 1),
        stateAtP99: round(times[Math.floor(times.length * 0.99)]!, 1),
        stateAtMax: round(times.at(-1)!, 1),
        // CPU time of the process per query: what the query costs, without waiting for a core.
        stateAtCpuP99: round(cpu[Math.floor(cpu.length * 0.99)]!, 1),
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  // 5. The event loop while a 50 MB tree's checkpoint is written.
  await guard('compaction', async () => {
    const dir = tempDir()
    try {
      // Async: the sync journal's fdatasync on the event loop would measure the disk, not compaction.
      const { journal, tree, writes } = openJournal(dir, 'async', Date.now)
      await bigTree(writes, tree.selfKey, scenario.compactionTreeMB)
      await journal.settled()
      let n = 0
      // Writes go on meanwhile: 200 a second.
      const ticker = setInterval(() => {
        void writes.submit({ kind: 'merge', path: ['vessels', tree.selfKey, 'live'], value: ++n })
      }, 5)
      await new Promise((resolve) => setTimeout(resolve, 500))
      const during = monitorEventLoopDelay({ resolution: 1 })
      during.enable()
      const t0 = Date.now()
      journal.compactNow()
      await journal.settled()
      const compactionMs = Date.now() - t0
      during.disable()
      // The same writes for as long again without compaction: what the machine does to the loop anyway.
      const quiet = monitorEventLoopDelay({ resolution: 1 })
      quiet.enable()
      await new Promise((resolve) => setTimeout(resolve, compactionMs))
      quiet.disable()
      clearInterval(ticker)
      journal.close()
      row(`compaction of a ${scenario.compactionTreeMB} MB tree`, {
        compactionMs,
        loopMax: round(during.max / 1e6, 1),
        loopP99: round(during.percentile(99) / 1e6, 1),
        quietLoopMax: round(quiet.max / 1e6, 1),
        quietLoopP99: round(quiet.percentile(99) / 1e6, 1),
        writesDuring: n,
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
  return rows
}
