/**
 * Scenario (g) on one server: as many idle SSE streams as one server
 * process can hold here (the file limit is 20,000 and cannot be raised),
 * opened by several worker processes (load/idle-worker.ts), each from its
 * own 127.0.0.x; then one PATCH, timed to its arrival on every stream.
 *
 * Memory: the server's RSS after the streams opened minus before, each read
 * after a full GC (SIGUSR2), divided by the streams; the same of the V8 heap
 * in use, which V8's heap sizing (free space it keeps after a GC, all in
 * RSS) does not blur. Latency: the PATCH
 * carries its send time (CLOCK_MONOTONIC, lib/mono-clock.ts) as its value;
 * each stream's latency is its read time minus that, exact quantiles over
 * every stream. The kernel's listen-queue counters are read around the
 * connects: overflows or SYN cookies mean the pacing looked like a flood.
 */
import { round } from './lib/histogram.js'
import { monoMs } from './lib/mono-clock.js'
import { fileLimit, openFiles, sampleProc } from './lib/proc-stats.js'
import { type Child, startTsChild } from './lib/spawn.js'
import { counterDelta, listenCounters } from './lib/tcp-stats.js'
import { PATHS } from './load/changes.js'
import type { IdleWorkerConfig } from './load/idle-worker.js'
import { openInjector } from './load/injector.js'
import { settledSample } from './runners.js'
import type { IdleLimitScenario } from './scenarios.js'
import type { Running, Target } from './targets.js'

const MB = 1024 * 1024
/** Files the server needs besides the streams: stdio, IPC, epoll, the listener, the PATCH socket. */
const FD_MARGIN = 50
/** Longest wait for every worker to have opened its streams. */
const CONNECT_TIMEOUT_MS = 180_000

/** Runs (g) on `target`; the figures of its row. */
export async function runIdleLimit(
  target: Target,
  scenario: IdleLimitScenario,
): Promise<Record<string, number>> {
  const server = await target.start({})
  const pid = server.child.pid
  const workers: Child[] = []
  try {
    const load = target.load(server.port)
    if (load.inject.kind !== 'http-patch') throw new Error('(g) needs a server that takes PATCH')
    const limit = fileLimit(pid)
    const fds0 = openFiles(pid)
    if (fds0 + scenario.clients + FD_MARGIN > limit) {
      throw new Error(
        `${scenario.clients} streams do not fit the server's file limit (${limit}, ${fds0} open)`,
      )
    }
    const before = await settledSample(server)
    const heapBefore = await heapUsed(server)
    const tcp0 = listenCounters()
    const shares = split(scenario.clients, scenario.workers)
    shares.forEach((clients, i) => {
      const worker = startTsChild(`idle worker ${i}`, 'load/idle-worker.ts', [])
      workers.push(worker)
      const config: IdleWorkerConfig = {
        port: server.port,
        path: load.transport === 'sse' ? load.streamPath : '',
        clients,
        localAddress: `127.0.0.${2 + i}`,
        rate: scenario.connectRate / scenario.workers,
        concurrency: scenario.concurrency,
        connectTimeoutMs: 20_000,
      }
      worker.send({ type: 'run', config })
    })
    const connected = await Promise.all(workers.map((w) => w.next('connected', CONNECT_TIMEOUT_MS)))
    const tcp = counterDelta(tcp0, listenCounters())
    const connectMs = Math.max(...connected.map((c) => c.connectMs as number))
    const streams = connected.reduce((n, c) => n + (c.clients as number), 0)
    const failures: Record<string, number> = {}
    for (const c of connected) {
      for (const [reason, n] of Object.entries(c.failures as Record<string, number>))
        failures[reason] = (failures[reason] ?? 0) + n
    }
    const after = await settledSample(server)
    const heapAfter = await heapUsed(server)
    const serverFds = openFiles(pid)

    // The one change: workers armed with a time before it, then the PATCH with its send time.
    const injector = await openInjector(load.inject)
    const since = monoMs()
    for (const w of workers) w.send({ type: 'arm', since, timeoutMs: scenario.deliveryTimeoutMs })
    await Promise.all(workers.map((w) => w.next('armed', 10_000)))
    const cpu0 = sampleProc(pid)
    injector.send(PATHS[0], monoMs())
    const answered = await injector.answered(1, 10_000)
    const delivered = await Promise.all(
      workers.map((w) => w.next('delivered', scenario.deliveryTimeoutMs + 10_000)),
    )
    const cpu1 = sampleProc(pid)
    injector.close()
    const latencies = delivered.flatMap((d) => d.latencies as number[]).sort((a, b) => a - b)
    const missing = delivered.reduce((n, d) => n + (d.missing as number), 0)
    const closed = delivered.reduce((n, d) => n + (d.closed as number), 0)
    if (Object.keys(failures).length > 0)
      console.error(`  connect failures: ${JSON.stringify(failures)}`)
    return {
      clients: streams,
      connectFailures: Object.values(failures).reduce((a, b) => a + b, 0),
      connectMs,
      connectPerSec: Math.round(streams / (connectMs / 1000)),
      listenOverflows: tcp.listenOverflows,
      syncookiesSent: tcp.syncookiesSent,
      serverFds,
      serverFileLimit: limit,
      rssBeforeMB: round(before.rss / MB, 1),
      rssAfterMB: round(after.rss / MB, 1),
      kibPerStream: round((after.rss - before.rss) / 1024 / Math.max(1, streams), 2),
      heapKibPerStream: round((heapAfter - heapBefore) / 1024 / Math.max(1, streams), 2),
      patchAcked: answered && injector.result().acked === 1 ? 1 : 0,
      delivered: latencies.length,
      missing,
      closedDuring: closed,
      p50: round(quantile(latencies, 0.5)),
      p99: round(quantile(latencies, 0.99)),
      max: round(latencies[latencies.length - 1] ?? Number.NaN),
      serverCpuMs: cpu0 && cpu1 ? round((cpu1.cpu - cpu0.cpu) * 1000) : Number.NaN,
      peakRssMB: round((sampleProc(pid)?.peakRss ?? Number.NaN) / MB, 1),
    }
  } finally {
    // The server first: it closes the streams, so the TIME_WAITs are on its side and the
    // workers' source ports are free for the next run at once.
    await server.stop()
    await Promise.all(workers.map((w) => w.stop()))
  }
}

/** The V8 heap in use after the GC settledSample just ran (lib/gc-on-signal.ts); NaN if untold. */
async function heapUsed(server: Running): Promise<number> {
  try {
    return (await server.child.next('gc', 5000)).heapUsed as number
  } catch {
    return Number.NaN
  }
}

/** `total` split into `parts` shares differing by at most one. */
function split(total: number, parts: number): number[] {
  return Array.from(
    { length: parts },
    (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0),
  )
}

/** The `q` quantile of sorted `xs` (nearest rank); NaN when empty. */
function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return Number.NaN
  return xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(q * xs.length) - 1))]!
}
