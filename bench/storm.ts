/**
 * The reconnect storm on one server (keelson: the ceiling has no resume):
 * the clients of load/storm-clients.ts disconnect, the writes land, and all
 * reconnect at once with their `Last-Event-ID`. The bench reads, around the
 * burst alone, the server's CPU, its event-loop stall (lib/loop-delay.ts,
 * inside the server) and the kernel's listen-queue counters.
 */
import { round } from './lib/histogram.js'
import { cpuPercent, sampleProc } from './lib/proc-stats.js'
import { startTsChild } from './lib/spawn.js'
import { counterDelta, listenCounters } from './lib/tcp-stats.js'
import type { StormConfig } from './load/storm-clients.js'
import type { StormScenario } from './scenarios.js'
import type { Target } from './targets.js'

/** Live writes the clients receive before they go away (their fold is checked on them). */
const WARMUP_CHANGES = 16

/** Runs the storm on `target`; the figures of its row. */
export async function runStorm(
  target: Target,
  scenario: StormScenario,
): Promise<Record<string, number>> {
  const server = await target.start({})
  const pid = server.child.pid
  const load = startTsChild('storm clients', 'load/storm-clients.ts', [])
  try {
    const via = target.load(server.port)
    if (via.transport !== 'sse' || via.inject.kind !== 'http-patch')
      throw new Error('the storm needs SSE streams and PATCH writes')
    const config: StormConfig = {
      port: server.port,
      path: via.streamPath,
      clients: scenario.clients,
      changes: scenario.changes,
      warmup: WARMUP_CHANGES,
      window: scenario.window,
      exactTimeoutMs: scenario.exactTimeoutMs,
      inject: via.inject,
    }
    load.send({ type: 'run', config })
    const connected = await load.next('connected', 60_000)
    const away = await load.next('away', 120_000)
    server.child.send({ type: 'loop-delay-start' })
    await server.child.next('loop-delay-started', 5000)
    const tcp0 = listenCounters()
    const s0 = sampleProc(pid)
    load.send({ type: 'go' })
    const result = await load.next('result', scenario.exactTimeoutMs + 30_000)
    if (process.env.BENCH_DEBUG) console.error(`  storm result ${JSON.stringify(result)}`)
    const s1 = sampleProc(pid)
    const tcp = counterDelta(tcp0, listenCounters())
    server.child.send({ type: 'loop-delay-read' })
    // Answered once the server's loop is free again.
    const loop = await server.child.next('loop-delay', 60_000)
    const failures = result.failures as Record<string, number>
    if (Object.keys(failures).length > 0)
      console.error(`  reconnect failures: ${JSON.stringify(failures)}`)
    return {
      clients: result.clients as number,
      connectMs: connected.connectMs as number,
      changesAway: result.changesAway as number,
      writesPerSec: away.writesPerSec as number,
      writesFailed: away.writesFailed as number,
      warmIdsMatchGet: result.warmIdsMatchGet as number,
      reconnectFailures: result.reconnectFailures as number,
      exact: result.exact as number,
      allExactMs: result.allExactMs as number,
      exactP50: result.exactP50 as number,
      exactP99: result.exactP99 as number,
      firstEventP99: result.firstEventP99 as number,
      oneCatchUp: result.oneCatchUp as number,
      resets: result.resets as number,
      atFinalId: result.atFinalId as number,
      catchUpBytes: result.catchUpBytes as number,
      loopMaxMs: round(loop.maxMs as number),
      loopP99Ms: round(loop.p99Ms as number),
      serverCpu: s0 && s1 ? round(cpuPercent(s0, s1), 1) : Number.NaN,
      serverCpuS: s0 && s1 ? round(s1.cpu - s0.cpu, 2) : Number.NaN,
      listenOverflows: tcp.listenOverflows,
    }
  } finally {
    await server.stop()
    await load.stop()
  }
}
