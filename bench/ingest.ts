/**
 * NMEA 0183 ingest throughput (issue 4, bench scenario f), two figures from
 * the same lines in the same run:
 *
 * - parser alone: `@signalk/nmea0183-signalk`'s `parse()` in a loop;
 * - whole path: a TCP gateway (a net server in this process) streams the
 *   lines to keelson's TCP provider, which splits, parses, labels and
 *   applies each delta to the tree, while SSE subscribers on a real
 *   listening server read their streams over real sockets.
 *
 * The lines are a 2-hour voyage from the demo generator (own boat and AIS),
 * so values and timestamps keep changing. Target: path ≥ 50% of parser alone.
 *
 * The two are measured in alternating rounds (parser, path, parser, path…)
 * and each figure is the median of its rounds, so both see the same machine:
 * on a shared 2-core box, one figure measured a few seconds after the other
 * moved the ratio by ±10 points.  The parser rounds block the event loop,
 * so the path stands still during them and runs alone in its own rounds.
 *
 *     npx tsx bench/ingest.ts [--duration MS] [--subscribers N]
 */
import { createServer as createHttpServer, get, type IncomingMessage } from 'node:http'
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { Parser } from '@signalk/nmea0183-signalk'
import { generateVoyage } from '../fixtures/generate-demo-voyage.js'
import { createApp } from '../src/app.js'
import { startTcpProvider } from '../src/ingest/tcp-provider.js'
import { applyDelta, type Delta } from '../src/signalk/delta.js'

/** Options of {@link runIngestBench}. */
export interface IngestBenchOptions {
  /** Measuring time of each figure, ms. Default 5000. */
  durationMs?: number
  /** SSE subscribers on the whole path. Default 12. */
  subscribers?: number
}

/** The figures of {@link runIngestBench}. */
export interface IngestBenchResult {
  parserLinesPerSec: number
  pathLinesPerSec: number
  /** pathLinesPerSec / parserLinesPerSec. */
  ratio: number
  /** Tree revisions per second on the whole path. */
  revisionsPerSec: number
  /** SSE bytes the subscribers received per second. */
  sseBytesPerSec: number
}

// Subscribers spread over scopes a front-end would watch: all vessels, the own boat, its navigation.
const SSE_PATHS = [
  '/signalk/v1/api/vessels',
  '/signalk/v1/api/vessels/self',
  '/signalk/v1/api/vessels/self/navigation',
]

const WARMUP_MS = 500
/** Rounds of each figure; the measuring time is split between them. */
const ROUNDS = 5

/** Runs both measurements and returns the figures. */
export async function runIngestBench(options: IngestBenchOptions = {}): Promise<IngestBenchResult> {
  const roundMs = (options.durationMs ?? 5000) / ROUNDS
  const lines = generateVoyage({ seconds: 7200, seed: 3 })
  parserAlone(lines, WARMUP_MS)
  const path = await startWholePath(lines, options.subscribers ?? 12)
  try {
    await sleep(WARMUP_MS)
    const parser: number[] = []
    const rounds: PathRound[] = []
    for (let i = 0; i < ROUNDS; i++) {
      parser.push(parserAlone(lines, roundMs))
      // Let the path pick up again after the parser held the loop, then measure it.
      await sleep(50)
      rounds.push(await path.measure(roundMs))
    }
    const pathLinesPerSec = median(rounds.map((r) => r.linesPerSec))
    const parserLinesPerSec = median(parser)
    return {
      parserLinesPerSec,
      pathLinesPerSec,
      ratio: pathLinesPerSec / parserLinesPerSec,
      revisionsPerSec: median(rounds.map((r) => r.revisionsPerSec)),
      sseBytesPerSec: median(rounds.map((r) => r.sseBytesPerSec)),
    }
  } finally {
    await path.close()
  }
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/** The shape bench/run.ts calls (scenario f). */
export async function benchIngest(o: {
  quick: boolean
  durationMs: number
}): Promise<Record<string, number>> {
  return { ...(await runIngestBench({ durationMs: o.durationMs, subscribers: o.quick ? 4 : 12 })) }
}

function parserAlone(lines: string[], durationMs: number): number {
  const parser = new Parser({ validateChecksum: true })
  let count = 0
  const start = performance.now()
  let elapsed = 0
  while (elapsed < durationMs) {
    for (const line of lines) parser.parse(line)
    count += lines.length
    elapsed = performance.now() - start
  }
  return (count / elapsed) * 1000
}

/** One measuring round of the whole path. */
interface PathRound {
  linesPerSec: number
  revisionsPerSec: number
  sseBytesPerSec: number
}

/** The whole path, running until closed; `measure` reads its counters over a window. */
async function startWholePath(
  lines: string[],
  subscribers: number,
): Promise<{ measure(ms: number): Promise<PathRound>; close(): Promise<void> }> {
  const keelson = createApp()
  const http = createHttpServer(keelson.app)
  keelson.attach(http)
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const httpPort = (http.address() as AddressInfo).port

  let sseBytes = 0
  const streams: IncomingMessage[] = []
  for (let i = 0; i < subscribers; i++) {
    const path = SSE_PATHS[i % SSE_PATHS.length]!
    streams.push(
      await new Promise<IncomingMessage>((resolve, reject) => {
        get(
          { port: httpPort, host: '127.0.0.1', path, headers: { Accept: 'text/event-stream' } },
          resolve,
        ).on('error', reject)
      }),
    )
  }
  for (const res of streams) {
    res.on('data', (chunk: Buffer) => {
      sseBytes += chunk.length
    })
  }

  // The gateway writes the log again and again, as fast as the provider reads it.
  const payload = Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1')
  let gatewaySocket: Socket | undefined
  const gateway = createNetServer((socket) => {
    gatewaySocket = socket
    const pump = (): void => {
      while (!socket.destroyed && socket.write(payload));
    }
    socket.on('drain', pump)
    socket.on('error', () => {})
    pump()
  })
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve))
  const provider = startTcpProvider({
    host: '127.0.0.1',
    port: (gateway.address() as AddressInfo).port,
    // As src/ingest/ingest.ts applies decoded deltas.
    sink: (delta) => void applyDelta(keelson.tree, delta as Delta, { builtInProcess: true }),
    log: keelson.log,
  })

  return {
    async measure(ms) {
      const lines0 = provider.counters.lines
      const rev0 = keelson.tree.rev
      const bytes0 = sseBytes
      const start = performance.now()
      await sleep(ms)
      const elapsed = (performance.now() - start) / 1000
      return {
        linesPerSec: (provider.counters.lines - lines0) / elapsed,
        revisionsPerSec: (keelson.tree.rev - rev0) / elapsed,
        sseBytesPerSec: (sseBytes - bytes0) / elapsed,
      }
    },
    async close() {
      await provider.close()
      gatewaySocket?.destroy()
      gateway.close()
      for (const res of streams) res.destroy()
      keelson.close()
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '5000' },
      subscribers: { type: 'string', default: '12' },
    },
  })
  const r = await runIngestBench({
    durationMs: Number(values.duration),
    subscribers: Number(values.subscribers),
  })
  const k = (n: number) => `${(n / 1000).toFixed(1)}k`
  process.stdout.write(
    [
      `NMEA 0183 ingest, ${values.subscribers} SSE subscribers, ${values.duration} ms each`,
      `  parser alone : ${k(r.parserLinesPerSec)} lines/s`,
      `  whole path   : ${k(r.pathLinesPerSec)} lines/s  (${k(r.revisionsPerSec)} revisions/s, ${(r.sseBytesPerSec / 1e6).toFixed(1)} MB/s of SSE)`,
      `  ratio        : ${(r.ratio * 100).toFixed(0)}% (target ≥ 50%)`,
      '',
    ].join('\n'),
  )
}
