/**
 * Fleet telemetry bench (issue 11), scenarios (i) and (i-idle) of
 * `npm run bench -- --only i` / `--only i-idle` (bench/scenarios.ts), or on
 * its own: `npx tsx bench/telemetry.ts [--quick] [--idle-only]` (JSON).
 *
 * (i) 1,000 telemetry streams over SSE, each subscribed (unit token, then
 * POST subscribe, as the vendor guide's client does) to 10 of 100 units;
 * 100 position updates/s spread over the units for 10 s. Every `gps`
 * message counted, p99 latency (send time in the message's `timestamp` to
 * arrival), server CPU per delivered `gps` message (each comes with its
 * `telemetry` message) — against the ceiling server
 * (bench/telemetry-server.ts `ceiling`) writing the same frames pre-built,
 * in the same run. Goal: keelson delivers ≥ 90 % of the ceiling's rate.
 *
 * (i-idle) 10,000 telemetry streams connected and idle: server RSS per
 * stream after a full GC, against the RSS before they connected, beside the
 * same number of plain SSE streams of the tree. Goal ≤ 8 KiB.
 *
 * Servers run in their own processes (under --expose-gc, file limit
 * raised); this process is the load generator.
 */
import { Agent, request } from 'node:http'
import { pathToFileURL } from 'node:url'
import { round } from './lib/histogram.js'
import { cpuPercent, sampleProc } from './lib/proc-stats.js'
import { type Child, startTsChild } from './lib/spawn.js'
import type { Row } from './report.js'
import type { TelemetryIdleScenario, TelemetryScenario } from './scenarios.js'

/** The unit ids both bench servers hold: 100 MMSIs (bench/telemetry-server.ts). */
const UNITS = Array.from({ length: 100 }, (_, i) => String(200_000_100 + i))
const CONNECT_PATH = '/sse/telemetry/connect'
/** Plain SSE of the tree, the comparison of (i-idle). */
const TREE_SSE_PATH = '/signalk/v1/api/vessels/self'

/** Sizes of (i) and (i-idle), full or `--quick` (also used by bench/scenarios.ts). */
export function telemetrySizes(quick: boolean) {
  return {
    streams: quick ? 200 : 1000,
    perStream: 10,
    units: UNITS.length,
    rate: 100,
    durationMs: quick ? 3000 : 10_000,
    drainMs: 5000,
    idleStreams: quick ? 2000 : 10_000,
  }
}

interface Server {
  child: Child
  port: number
}

async function startServer(mode: 'keelson' | 'ceiling', cpuProf?: string): Promise<Server> {
  const nodeArgs = ['--expose-gc', ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] : [])]
  const child = startTsChild(`telemetry ${mode}`, 'telemetry-server.ts', [mode], { nodeArgs })
  try {
    const ready = await child.next('ready', 30_000)
    return { child, port: ready.port as number }
  } catch (error) {
    await child.stop()
    throw error
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 })

function call(port: number, method: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        body += d
      })
      res.on('end', () => (res.statusCode! < 300 ? resolve(body) : reject(new Error(body))))
    })
    req.on('error', reject)
    req.end()
  })
}

/** What the stream readers of one run count: `gps` messages and their latency. */
interface Tally {
  gps: number
  latencies: number[]
}

/** One stream reader. */
interface Reader {
  /** The `stream_id` (or "" for a plain SSE stream, at its first event). */
  streamId: Promise<string>
  close(): void
}

function connect(port: number, tally: Tally | undefined, path = CONNECT_PATH): Reader {
  let resolveId: (id: string) => void = () => {}
  const streamId = new Promise<string>((resolve) => {
    resolveId = resolve
  })
  const req = request({
    host: '127.0.0.1',
    port,
    path,
    agent: false,
    headers: { Accept: 'text/event-stream' },
  })
  req.on('response', (res) => {
    res.setEncoding('utf8')
    let rest = ''
    res.on('data', (text: string) => {
      const lines = (rest + text).split('\n')
      rest = lines.pop()!
      for (const line of lines) {
        if (!line.startsWith('data: ')) continue
        if (line.startsWith('data: {"type":"stream_id"')) {
          resolveId(JSON.parse(line.slice(6)).stream_id)
        } else if (path !== CONNECT_PATH) {
          resolveId('')
        } else if (tally && line.startsWith('data: {"type":"gps"')) {
          tally.gps++
          const at = line.indexOf('"timestamp":"')
          tally.latencies.push(Date.now() - Date.parse(line.slice(at + 13, at + 37)))
        }
      }
    })
  })
  req.on('error', () => {})
  req.end()
  return { streamId, close: () => req.destroy() }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Sizes of one fan-out run. */
export type FanOutSizes = Pick<
  TelemetryScenario,
  'streams' | 'perStream' | 'rate' | 'durationMs' | 'drainMs'
>

/** (i) on one server: `keelson` (the real telemetry stream) or `ceiling` (pre-built frames). */
export async function fanOut(
  mode: 'keelson' | 'ceiling',
  sizes: FanOutSizes,
  cpuProf?: string,
): Promise<Record<string, number>> {
  const server = await startServer(mode, cpuProf)
  const readers: Reader[] = []
  try {
    const tally: Tally = { gps: 0, latencies: [] }
    for (let i = 0; i < sizes.streams; i++) readers.push(connect(server.port, tally))
    const ids = await Promise.all(readers.map((r) => r.streamId))
    const jobs: (() => Promise<unknown>)[] = []
    ids.forEach((id, i) => {
      // Stream i takes the 10 units ending in digit 7i mod 10: each unit gets streams × 10 / 100.
      for (let k = 0; k < sizes.perStream; k++) {
        const unit = UNITS[(i * 7 + k * 10) % UNITS.length]!
        jobs.push(async () => {
          const { data } = JSON.parse(
            await call(server.port, 'GET', `/api/v1/monitoring/unit/${unit}`),
          )
          await call(server.port, 'POST', `/sse/telemetry/subscribe/${id}/${data.token}`)
        })
      }
    })
    for (let i = 0; i < jobs.length; i += 64) {
      await Promise.all(jobs.slice(i, i + 64).map((j) => j()))
    }
    await sleep(1000)
    tally.gps = 0
    tally.latencies.length = 0
    const before = sampleProc(server.child.pid)!
    const started = performance.now()
    server.child.send({ type: 'inject', rate: sizes.rate, durationMs: sizes.durationMs })
    const injected = (await server.child.next('injected', sizes.durationMs + 30_000))
      .count as number
    // Each update goes to the streams watching its unit: streams × perStream / units of them.
    const expected = (injected * sizes.streams * sizes.perStream) / UNITS.length
    const deadline = performance.now() + sizes.drainMs
    while (tally.gps < expected && performance.now() < deadline) await sleep(20)
    const seconds = (performance.now() - started) / 1000
    const after = sampleProc(server.child.pid)!
    const sorted = tally.latencies.sort((a, b) => a - b)
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]
    return {
      streams: sizes.streams,
      injected,
      expected,
      delivered: tally.gps,
      missing: Math.max(0, expected - tally.gps),
      deliveredPerS: Math.round(tally.gps / seconds),
      p50: at(0.5) ?? Number.NaN,
      p99: at(0.99) ?? Number.NaN,
      max: sorted.at(-1) ?? Number.NaN,
      serverCpu: round(cpuPercent(before, after), 1),
      cpuUsPerMessage: round(((after.cpu - before.cpu) * 1e6) / Math.max(1, tally.gps), 2),
      peakRssMB: round(after.peakRss / 2 ** 20, 1),
    }
  } finally {
    for (const r of readers) r.close()
    await server.child.stop(2000)
  }
}

/** (i-idle) `count` idle streams at `path` on keelson: server memory per stream. */
export async function idle(path: string, count: number): Promise<Record<string, number>> {
  const server = await startServer('keelson')
  const readers: Reader[] = []
  try {
    /** RSS after a full GC (SIGUSR2, bench/lib/gc-on-signal.ts), and V8's heapUsed. */
    const memory = async () => {
      server.child.proc.kill('SIGUSR2')
      const gc = await server.child.next('gc', 30_000)
      await sleep(200)
      return { rss: sampleProc(server.child.pid)!.rss, heap: gc.heapUsed as number }
    }
    const base = await memory()
    const started = performance.now()
    for (let i = 0; i < count; i += 500) {
      const batch: Reader[] = []
      for (let k = 0; k < 500 && i + k < count; k++)
        batch.push(connect(server.port, undefined, path))
      await Promise.all(batch.map((r) => r.streamId))
      readers.push(...batch)
    }
    const connectMs = Math.round(performance.now() - started)
    await sleep(1000)
    const held = await memory()
    return {
      clients: count,
      kibPerStream: round((held.rss - base.rss) / count / 1024, 2),
      heapKibPerStream: round((held.heap - base.heap) / count / 1024, 2),
      rssBeforeMB: round(base.rss / 2 ** 20, 1),
      rssAfterMB: round(held.rss / 2 ** 20, 1),
      connectMs,
    }
  } finally {
    for (const r of readers) r.close()
    await server.child.stop(2000)
  }
}

/** (i) as bench rows: the ceiling, then keelson with its rate against the ceiling's. */
export async function runTelemetry(scenario: TelemetryScenario, cpuProf?: string): Promise<Row[]> {
  const rows: Row[] = []
  const figures = new Map<string, Record<string, number>>()
  for (const mode of ['ceiling', 'keelson'] as const) {
    const target = mode === 'keelson' ? 'keelson-telemetry' : 'ceiling (pre-built frames)'
    const base = {
      scenario: scenario.id,
      title: scenario.title,
      target,
      role: mode,
      transport: 'sse',
    }
    console.error(`(${scenario.id}) ${scenario.title}: ${target}…`)
    try {
      const metrics = await fanOut(mode, scenario, mode === 'keelson' ? cpuProf : undefined)
      figures.set(mode, metrics)
      const ceiling = figures.get('ceiling')
      if (mode === 'keelson' && ceiling) {
        metrics.vsCeiling = round(metrics.deliveredPerS! / ceiling.deliveredPerS!, 3)
      }
      rows.push({ ...base, metrics })
      console.error(`  ${JSON.stringify(metrics)}`)
    } catch (error) {
      rows.push({ ...base, error: (error as Error).message, metrics: {} })
      console.error(`  error: ${(error as Error).message}`)
    }
  }
  return rows
}

/** (i-idle) as bench rows: telemetry streams, then plain SSE streams of the tree beside them. */
export async function runTelemetryIdle(scenario: TelemetryIdleScenario): Promise<Row[]> {
  const rows: Row[] = []
  const runs = [
    ['keelson-telemetry', CONNECT_PATH],
    ['keelson-sse (tree, for comparison)', TREE_SSE_PATH],
  ] as const
  for (const [target, path] of runs) {
    const base = {
      scenario: scenario.id,
      title: scenario.title,
      target,
      role: 'keelson' as const,
      transport: 'sse',
    }
    console.error(`(${scenario.id}) ${scenario.title}: ${target}…`)
    try {
      const metrics = await idle(path, scenario.clients)
      rows.push({ ...base, metrics })
      console.error(`  ${JSON.stringify(metrics)}`)
    } catch (error) {
      rows.push({ ...base, error: (error as Error).message, metrics: {} })
      console.error(`  error: ${(error as Error).message}`)
    }
  }
  return rows
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const sizes = telemetrySizes(process.argv.includes('--quick'))
  const idleOnly = process.argv.includes('--idle-only')
  const ceiling = idleOnly ? undefined : await fanOut('ceiling', sizes)
  const keelson = idleOnly ? undefined : await fanOut('keelson', sizes)
  const ratio = keelson && ceiling ? keelson.deliveredPerS! / ceiling.deliveredPerS! : 0
  console.log(
    JSON.stringify(
      {
        i: keelson && {
          ceiling,
          keelson,
          ratio: round(ratio, 3),
          goal: '≥ 0.9',
          met: ratio >= 0.9 && keelson.missing === 0,
        },
        idle: await idle(CONNECT_PATH, sizes.idleStreams),
        idleSseForComparison: await idle(TREE_SSE_PATH, sizes.idleStreams),
      },
      null,
      2,
    ),
  )
  process.exit(0)
}
