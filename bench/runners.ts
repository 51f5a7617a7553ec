/**
 * One scenario on one server: start the server, start the load generator,
 * read the server's CPU and memory from /proc around the measured window,
 * stop both. Returns the figures of that row.
 */
import { round } from './lib/histogram.js'
import { cpuPercent, type ProcSample, sampleProc } from './lib/proc-stats.js'
import { startTsChild } from './lib/spawn.js'
import type { LoadConfig } from './load/main.js'
import type { RestConfig } from './load/rest.js'
import type { IdleScenario, RestScenario, StreamScenario } from './scenarios.js'
import type { Running, Target } from './targets.js'

const MB = 1024 * 1024
/** Longest wait for N clients to connect and get their first event. */
const CONNECT_TIMEOUT_MS = 120_000

async function withServer<T>(
  target: Target,
  cpuProf: string | undefined,
  body: (server: Running) => Promise<T>,
): Promise<T> {
  const server = await target.start({ cpuProf })
  try {
    return await body(server)
  } finally {
    await server.stop()
  }
}

/** Scenarios (a) to (c): N clients, R changes/s for a fixed time. */
export function runStream(
  target: Target,
  scenario: StreamScenario,
  cpuProf?: string,
): Promise<Record<string, number>> {
  return withServer(target, cpuProf, async (server) => {
    // Profiled too, in its own folder: a generator near a full core shows as the server's latency.
    const nodeArgs = cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}/load`] : []
    const load = startTsChild('load generator', 'load/main.ts', [], { nodeArgs })
    try {
      const config: LoadConfig = {
        ...target.load(server.port),
        clients: scenario.clients,
        rate: scenario.rate,
        warmupMs: scenario.warmupMs,
        durationMs: scenario.durationMs,
        drainMs: scenario.drainMs,
      }
      load.send({ type: 'run', config })
      const connected = await load.next('connected', CONNECT_TIMEOUT_MS)
      const gcCounted = await startGcStats(server)
      load.send({ type: 'go' })
      await load.next('started', 30_000)
      const s0 = sampleProc(server.child.pid)
      await load.next('injected', scenario.durationMs + 30_000)
      const s1 = sampleProc(server.child.pid)
      const gc = gcCounted ? await readGcStats(server) : undefined
      const result = await load.next('result', scenario.drainMs + 30_000)
      const latency = result.latency as { p50: number; p99: number; max: number }
      console.error(`  p99 by second of the run (ms): ${JSON.stringify(result.p99BySecond)}`)
      const serverCpu = s0 && s1 ? round(cpuPercent(s0, s1), 1) : Number.NaN
      return {
        clients: result.clients as number,
        connectFailures: connected.failures as number,
        connectMs: connected.connectMs as number,
        sent: result.sent as number,
        rejected: result.rejected as number,
        injectRate: result.injectRate as number,
        eventsPerSec: result.eventsPerSec as number,
        deliveredRatio: result.deliveredRatio as number,
        worstClientRatio: result.worstClientRatio as number,
        drainMs: result.drainMs as number,
        p50: latency.p50,
        p99: latency.p99,
        max: latency.max,
        serverCpu,
        // Server CPU time per delivered event: the efficiency figure once every server keeps up.
        cpuUsPerEvent: round((serverCpu / 100 / (result.eventsPerSec as number)) * 1e6, 3),
        peakRssMB: round((sampleProc(server.child.pid)?.peakRss ?? Number.NaN) / MB, 1),
        loadCpu: result.loadCpu as number,
        // The server's GC pauses while the changes were written (lib/gc-stats.ts).
        gcMinorMs: gc ? round(gc.minor.totalMs, 1) : Number.NaN,
        gcMinorMaxMs: gc ? round(gc.minor.maxMs, 1) : Number.NaN,
        gcMajorMs: gc ? round(gc.major.totalMs, 1) : Number.NaN,
        gcMajorMaxMs: gc ? round(gc.major.maxMs, 1) : Number.NaN,
      }
    } finally {
      await load.stop()
    }
  })
}

interface GcPauses {
  totalMs: number
  maxMs: number
}

/** Starts counting the server's GC pauses; false for a server that does not count them (signalk-server). */
async function startGcStats(server: Running): Promise<boolean> {
  server.child.send({ type: 'gc-stats-start' })
  try {
    await server.child.next('gc-stats-started', 2000)
    return true
  } catch {
    return false
  }
}

async function readGcStats(server: Running): Promise<{ minor: GcPauses; major: GcPauses }> {
  server.child.send({ type: 'gc-stats-read' })
  const stats = await server.child.next('gc-stats', 10_000)
  return { minor: stats.minor as GcPauses, major: stats.major as GcPauses }
}

/** Scenario (d): N idle streams; the server's RSS growth per stream, both read after a full GC. */
export function runIdle(target: Target, scenario: IdleScenario): Promise<Record<string, number>> {
  return withServer(target, undefined, async (server) => {
    const load = startTsChild('load generator', 'load/main.ts', [])
    try {
      const before = await settledSample(server)
      const config: LoadConfig = {
        ...target.load(server.port),
        clients: scenario.clients,
        rate: 0,
        durationMs: 0,
        drainMs: 0,
      }
      load.send({ type: 'run', config })
      const connected = await load.next('connected', CONNECT_TIMEOUT_MS)
      const after = await settledSample(server)
      const clients = connected.clients as number
      load.send({ type: 'go' })
      await load.next('result', 10_000)
      return {
        clients,
        connectFailures: connected.failures as number,
        connectMs: connected.connectMs as number,
        rssBeforeMB: round(before.rss / MB, 1),
        rssAfterMB: round(after.rss / MB, 1),
        kibPerStream: round((after.rss - before.rss) / 1024 / Math.max(1, clients), 2),
      }
    } finally {
      await load.stop()
    }
  })
}

/** Scenario (e): GET, then GET with the ETag (304), of the self vessel. */
export function runRest(
  target: Target,
  scenario: RestScenario,
  cpuProf?: string,
): Promise<Record<string, number>> {
  return withServer(target, cpuProf, async (server) => {
    const url = `http://127.0.0.1:${server.port}${target.restPath}`
    const etag = (await fetch(url)).headers.get('etag') ?? ''
    const s0 = sampleProc(server.child.pid)
    const get = await autocannon({
      url,
      connections: scenario.connections,
      durationMs: scenario.durationMs,
      headers: {},
    })
    const cond = await autocannon({
      url,
      connections: scenario.connections,
      durationMs: scenario.durationMs,
      headers: { 'if-none-match': etag },
    })
    const s1 = sampleProc(server.child.pid)
    return {
      getRps: get.requestsPerSec!,
      getP99: get.p99!,
      condRps: cond.requestsPerSec!,
      cond304: cond.status3xx!,
      condP99: cond.p99!,
      serverCpu: s0 && s1 ? round(cpuPercent(s0, s1), 1) : Number.NaN,
      loadCpu: Math.max(get.loadCpu!, cond.loadCpu!),
    }
  })
}

async function autocannon(config: RestConfig): Promise<Record<string, number>> {
  const child = startTsChild('autocannon', 'load/rest.ts', [])
  try {
    child.send({ type: 'run', config })
    return (await child.next('result', config.durationMs + 30_000)) as unknown as Record<
      string,
      number
    >
  } finally {
    await child.stop()
  }
}

/** The server's memory after a quiet moment and a full GC (SIGUSR2, see lib/gc-on-signal.ts). */
export async function settledSample(server: Running): Promise<ProcSample> {
  await settle(1000)
  server.child.proc.kill('SIGUSR2')
  await settle(500)
  return sampleProc(server.child.pid)!
}

function settle(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
