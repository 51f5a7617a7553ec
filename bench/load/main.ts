/**
 * The load generator, a child process of the bench (never the server's):
 * opens N stream clients, waits for a `go`, injects changes at the rate for
 * the duration, waits for the deliveries to drain, and reports counts,
 * latency and its own CPU use over IPC.
 *
 * Messages in: `run` (a {@link LoadConfig}), `go`. Out: `connected`,
 * `started`, `injected`, `result`, `error`.
 */
import { round } from '../lib/histogram.js'
import { type InjectVia, openInjector } from './injector.js'
import { openSse, openWs, type StreamClient } from './stream-clients.js'
import { Tally } from './tally.js'

/** What one load-generator run does. */
export interface LoadConfig {
  /** `sse` opens `GET streamPath` with `Accept: text/event-stream`; `ws` upgrades `GET streamUrl` (a path). */
  transport: 'sse' | 'ws'
  port: number
  streamPath: string
  streamUrl: string
  clients: number
  /** Changes per second; 0 for idle streams. */
  rate: number
  /** An injection at `rate` for this long first, not counted (scenarios.ts StreamScenario). */
  warmupMs?: number
  durationMs: number
  /** Longest wait after the last change for every client to have everything. */
  drainMs: number
  inject: InjectVia
}

const CONNECT_CONCURRENCY = 200

const tally = new Tally()
const clients: StreamClient[] = []
let failures = 0

function send(message: Record<string, unknown>): void {
  process.send?.(message)
}

async function connectAll(config: LoadConfig): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < config.clients) {
      next++
      try {
        clients.push(
          config.transport === 'sse'
            ? await openSse(config.port, config.streamPath, tally)
            : await openWs(config.port, config.streamUrl, tally),
        )
      } catch {
        failures++
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, config.clients) }, worker))
}

async function run(config: LoadConfig): Promise<void> {
  const t0 = performance.now()
  await connectAll(config)
  send({
    type: 'connected',
    clients: clients.length,
    failures,
    connectMs: round(performance.now() - t0),
  })
  await nextGo()
  if (config.rate === 0) {
    send({ type: 'result', clients: clients.length })
    return
  }
  const injector = await openInjector(config.inject)
  if (config.warmupMs) {
    // Not counted: values sent before `tally.since` (set by the measured run) are skipped.
    await injector.run(config.rate, config.warmupMs, () => {})
    await new Promise((r) => setTimeout(r, 500))
  }
  const before = injector.result()
  const cpu0 = process.cpuUsage()
  const wall0 = performance.now()
  const injected = await injector.run(config.rate, config.durationMs, (t) => {
    tally.since = t
    send({ type: 'started' })
  })
  const cpu = process.cpuUsage(cpu0)
  const loadCpu = ((cpu.user + cpu.system) / 1000 / (performance.now() - wall0)) * 100
  send({ type: 'injected' })
  const expected = injected.sent * clients.length
  const drainStart = performance.now()
  while (tally.delivered < expected && performance.now() - drainStart < config.drainMs) {
    await new Promise((r) => setTimeout(r, 20))
  }
  let minRatio = 1
  for (const c of clients) minRatio = Math.min(minRatio, c.received / injected.sent)
  const seconds = injected.elapsedMs / 1000
  const drainMs = performance.now() - drainStart
  send({
    type: 'result',
    clients: clients.length,
    failures,
    sent: injected.sent,
    acked: injector.result().acked - before.acked,
    rejected: injector.result().failed - before.failed,
    injectRate: round(injected.sent / seconds),
    expected,
    delivered: tally.delivered,
    deliveredRatio: round(tally.delivered / expected, 4),
    worstClientRatio: round(minRatio, 4),
    // Late deliveries count against the rate: the window runs until the last one arrived.
    eventsPerSec: Math.round(tally.delivered / (seconds + drainMs / 1000)),
    drainMs: round(drainMs),
    latency: tally.latency.summary(),
    p99BySecond: tally.bySecond.map((h) => h.summary().p99),
    loadCpu: round(loadCpu, 1),
  })
  injector.close()
}

let goResolve: (() => void) | undefined
function nextGo(): Promise<void> {
  return new Promise((resolve) => {
    goResolve = resolve
  })
}

process.on('message', (message: { type: string; config?: LoadConfig }) => {
  if (message.type === 'run' && message.config) {
    run(message.config).catch((error: Error) => send({ type: 'error', message: error.message }))
  } else if (message.type === 'go') {
    goResolve?.()
  }
})
process.on('disconnect', () => {
  for (const c of clients) c.close()
  process.exit(0)
})
// A clean exit on the bench's stop, so a --cpu-prof profile is written.
process.on('SIGTERM', () => process.exit(0))
