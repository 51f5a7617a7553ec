/**
 * Fleet telemetry bench (issue 11), `npx tsx bench/telemetry.ts [--quick]`:
 *
 * (i) 1,000 telemetry streams over SSE, each subscribed (unit token, then
 * POST subscribe, as the vendor guide's client does) to 10 of 100 units;
 * 100 position updates/s spread over the units for 10 s. Every `gps`
 * message counted, p99 latency (send time in the message's `timestamp` to
 * arrival), server CPU per delivered message — against the ceiling server
 * (bench/telemetry-server.ts `ceiling`) writing the same frames pre-built,
 * in the same run. Goal: keelson delivers ≥ 90 % of the ceiling's rate.
 *
 * (idle) 10,000 telemetry streams connected and idle: server RSS per stream
 * after a full GC, against the RSS before they connected. Goal ≤ 8 KiB.
 *
 * Servers run in their own processes (under --expose-gc); this process is
 * the load generator. Figures are printed as JSON.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { Agent, request } from 'node:http'
import { sampleProc } from './lib/proc-stats.js'

const quick = process.argv.includes('--quick')
const STREAMS = quick ? 200 : 1000
const PER_STREAM = 10
const UNITS = Array.from({ length: 100 }, (_, i) => String(200_000_100 + i))
const RATE = 100
const DURATION_MS = quick ? 3000 : 10_000
const IDLE = quick ? 2000 : 10_000

interface Server {
  child: ChildProcess
  port: number
}

async function startServer(mode: string): Promise<Server> {
  const child = fork(new URL('./telemetry-server.ts', import.meta.url).pathname, [mode], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const port = await new Promise<number>((resolve) =>
    child.on(
      'message',
      (m: { type: string; port: number }) => m.type === 'ready' && resolve(m.port),
    ),
  )
  return { child, port }
}

function stop(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.child.once('exit', () => resolve())
    server.child.kill('SIGKILL')
  })
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

/** One stream reader: counts gps messages and their latency. */
interface Reader {
  streamId: Promise<string>
  close(): void
}

const latencies: number[] = []
let gps = 0

function connect(port: number, count: boolean, path = '/sse/telemetry/connect'): Reader {
  let resolveId: (id: string) => void
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
        } else if (path !== '/sse/telemetry/connect') {
          resolveId('')
        } else if (count && line.startsWith('data: {"type":"gps"')) {
          gps++
          const at = line.indexOf('"timestamp":"')
          latencies.push(Date.now() - Date.parse(line.slice(at + 13, at + 37)))
        }
      }
    })
  })
  req.on('error', () => {})
  req.end()
  return { streamId, close: () => req.destroy() }
}

async function fanOut(mode: string) {
  const server = await startServer(mode)
  const readers: Reader[] = []
  for (let i = 0; i < STREAMS; i++) readers.push(connect(server.port, true))
  const ids = await Promise.all(readers.map((r) => r.streamId))
  const jobs: (() => Promise<unknown>)[] = []
  ids.forEach((id, i) => {
    for (let k = 0; k < PER_STREAM; k++) {
      const unit = UNITS[(i * 7 + k * 10) % UNITS.length]!
      jobs.push(async () => {
        const { data } = JSON.parse(
          await call(server.port, 'GET', `/api/v1/monitoring/unit/${unit}`),
        )
        await call(server.port, 'POST', `/sse/telemetry/subscribe/${id}/${data.token}`)
      })
    }
  })
  for (let i = 0; i < jobs.length; i += 64) await Promise.all(jobs.slice(i, i + 64).map((j) => j()))
  await new Promise((resolve) => setTimeout(resolve, 1000))
  gps = 0
  latencies.length = 0
  const before = sampleProc(server.child.pid!)!
  const started = performance.now()
  const injected = await new Promise<number>((resolve) => {
    server.child.on('message', (m: { type: string; count: number }) => {
      if (m.type === 'injected') resolve(m.count)
    })
    server.child.send({ type: 'inject', rate: RATE, durationMs: DURATION_MS })
  })
  // Each update goes to the streams watching its unit: STREAMS × PER_STREAM / units of them.
  const expected = (injected * STREAMS * PER_STREAM) / UNITS.length
  const deadline = performance.now() + 5000
  while (gps < expected && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const seconds = (performance.now() - started) / 1000
  const after = sampleProc(server.child.pid!)!
  for (const r of readers) r.close()
  await stop(server)
  latencies.sort((a, b) => a - b)
  return {
    server: mode,
    streams: STREAMS,
    injected,
    expected,
    delivered: gps,
    deliveredPerS: Math.round(gps / seconds),
    p50Ms: latencies[Math.floor(latencies.length * 0.5)] ?? null,
    p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? null,
    serverCpuUsPerMessage: Number((((after.cpu - before.cpu) * 1e6) / Math.max(1, gps)).toFixed(2)),
  }
}

/** Idle streams at `path`: telemetry streams, or plain SSE streams of the tree for comparison. */
async function idle(path: string) {
  const server = await startServer('keelson')
  const rss = async () => {
    const sample = new Promise((resolve) => server.child.once('message', resolve))
    server.child.kill('SIGUSR2')
    await sample
    await new Promise((resolve) => setTimeout(resolve, 200))
    return sampleProc(server.child.pid!)!.rss
  }
  const base = await rss()
  const readers: Reader[] = []
  for (let i = 0; i < IDLE; i += 500) {
    const batch: Reader[] = []
    for (let k = 0; k < 500 && i + k < IDLE; k++) batch.push(connect(server.port, false, path))
    await Promise.all(batch.map((r) => r.streamId))
    readers.push(...batch)
  }
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const held = await rss()
  for (const r of readers) r.close()
  await stop(server)
  const perStream = (held - base) / IDLE
  return {
    streams: IDLE,
    rssBeforeMiB: base / 2 ** 20,
    rssAfterMiB: held / 2 ** 20,
    perStreamKiB: Number((perStream / 1024).toFixed(2)),
    goal: '≤ 8 KiB',
    met: perStream <= 8192,
  }
}

const idleOnly = process.argv.includes('--idle-only')
const ceiling = idleOnly ? undefined : await fanOut('ceiling')
const keelson = idleOnly ? undefined : await fanOut('keelson')
const ratio = keelson && ceiling ? keelson.deliveredPerS / ceiling.deliveredPerS : 0
console.log(
  JSON.stringify(
    {
      i: keelson && {
        ceiling,
        keelson,
        ratio: Number(ratio.toFixed(3)),
        goal: '≥ 0.9',
        met: ratio >= 0.9 && keelson.delivered >= keelson.expected,
      },
      idle: await idle('/sse/telemetry/connect'),
      idleSseForComparison: await idle('/signalk/v1/api/vessels/self'),
    },
    null,
    2,
  ),
)
process.exit(0)
