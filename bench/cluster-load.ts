/**
 * The load generator of the cluster benches (bench/cluster.ts), a child
 * process of the bench: stream clients spread over several nodes.
 *
 * - `run-j`: N SSE clients (bench/load/stream-clients.ts) spread over the
 *   nodes' ports; on `go`, the injector writes R changes/s to one node for
 *   the duration; reports deliveries per node and write-to-delivery latency.
 * - `kill-open` / `kill-go`: SSE clients on one node that keep their last
 *   event id and fold every patch (SPEC §4); the bench kills that node with
 *   SIGKILL while the injector writes; each client reconnects to another
 *   node with `Last-Event-ID`; reports the time from the kill until each
 *   client had its catch-up event, resets, and whether every fold ends
 *   equal to the node's GET at the client's last id.
 */
import { connect, type Socket } from 'node:net'
import { Histogram, round } from './lib/histogram.js'
import { type JsonValue, jsonEqual, mergePatch } from './lib/merge-patch.js'
import { monoMs } from './lib/mono-clock.js'
import { type Injector, type InjectResult, openInjector } from './load/injector.js'
import { openSse, type StreamClient } from './load/stream-clients.js'
import { Tally } from './load/tally.js'

type Message = Record<string, unknown> & { type: string }

function send(message: Record<string, unknown>): void {
  process.send?.(message)
}

const CONNECT_CONCURRENCY = 200

/** Opens `count` clients, 200 at a time; none started after `deadline` (Date.now()). */
async function inParallel(
  count: number,
  open: (i: number) => Promise<void>,
  deadline = Number.POSITIVE_INFINITY,
): Promise<number> {
  let next = 0
  let failures = 0
  const worker = async (): Promise<void> => {
    while (next < count && Date.now() < deadline) {
      const i = next++
      try {
        await open(i)
      } catch {
        failures++
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, count) }, worker))
  return failures
}

/**
 * The writer: the injector (bench/load/injector.ts) sending Signal K deltas
 * over one WebSocket, as instruments and gateways write. Not HTTP PATCH: node's
 * HTTP server answers a socket's pipelined requests one after the other,
 * and a cluster node answers a write only once it came back from Redis, so
 * one socket of PATCHes measures that round trip, not the fan-out.
 */
class Writers {
  private constructor(private readonly injectors: Injector[]) {}

  static async open(port: number): Promise<Writers> {
    const url = `ws://127.0.0.1:${port}/signalk/v1/stream?subscribe=none`
    return new Writers([await openInjector({ kind: 'ws-delta', url })])
  }

  async run(rate: number, durationMs: number, onStart: (t: number) => void): Promise<InjectResult> {
    const share = rate / this.injectors.length
    let first = true
    const results = await Promise.all(
      this.injectors.map((injector) =>
        injector.run(share, durationMs, (t) => {
          if (first) onStart(t)
          first = false
        }),
      ),
    )
    return {
      sent: results.reduce((sum, r) => sum + r.sent, 0),
      acked: results.reduce((sum, r) => sum + r.acked, 0),
      failed: results.reduce((sum, r) => sum + r.failed, 0),
      startedAt: Math.min(...results.map((r) => r.startedAt)),
      elapsedMs: Math.max(...results.map((r) => r.elapsedMs)),
    }
  }

  result(): { acked: number; failed: number } {
    let acked = 0
    let failed = 0
    for (const injector of this.injectors) {
      const r = injector.result()
      acked += r.acked
      failed += r.failed
    }
    return { acked, failed }
  }

  close(): void {
    for (const injector of this.injectors) injector.close()
  }
}

// ---- (j) ---------------------------------------------------------------------------------------

interface RunJ {
  ports: number[]
  writePort: number
  clients: number
  rate: number
  durationMs: number
  drainMs: number
  path: string
}

async function runJ(config: RunJ, go: Promise<void>): Promise<void> {
  const all = new Tally()
  const perNode = config.ports.map(() => [] as StreamClient[])
  const t0 = performance.now()
  const failures = await inParallel(config.clients, async (i) => {
    const node = i % config.ports.length
    perNode[node]!.push(await openSse(config.ports[node]!, config.path, all))
  })
  send({ type: 'connected', failures, connectMs: round(performance.now() - t0) })
  await go
  const injector = await Writers.open(config.writePort)
  const cpu0 = process.cpuUsage()
  const wall0 = performance.now()
  const injected = await injector.run(config.rate, config.durationMs, (t) => {
    all.since = t
    send({ type: 'started' })
  })
  const cpu = process.cpuUsage(cpu0)
  send({ type: 'injected' })
  const clients = perNode.flat()
  const expected = injected.sent * clients.length
  const drainStart = performance.now()
  while (all.delivered < expected && performance.now() - drainStart < config.drainMs) {
    await new Promise((r) => setTimeout(r, 20))
  }
  const drainMs = performance.now() - drainStart
  const seconds = injected.elapsedMs / 1000 + drainMs / 1000
  send({
    type: 'result',
    clients: clients.length,
    sent: injected.sent,
    acked: injector.result().acked,
    rejected: injector.result().failed,
    injectRate: round(injected.sent / (injected.elapsedMs / 1000)),
    deliveredRatio: round(all.delivered / expected, 4),
    deliveredPerS: Math.round(all.delivered / seconds),
    perNodePerS: perNode.map((group) =>
      Math.round(group.reduce((sum, c) => sum + c.received, 0) / seconds),
    ),
    latency: all.latency.summary(),
    drainMs: round(drainMs),
    loadCpu: round(((cpu.user + cpu.system) / 1000 / (performance.now() - wall0)) * 100, 1),
  })
  injector.close()
  for (const c of clients) c.close()
}

// ---- the kill phase of (j) ------------------------------------------------------------------

/** An SSE client that keeps its last id and folds every patch, and resumes elsewhere when cut. */
class ResumeClient {
  lastId: string | undefined
  doc: JsonValue | undefined = undefined
  resets = 0
  /** monoMs() of the first event after reconnecting. */
  exactAt: number | undefined
  resumed = false
  private socket: Socket | undefined
  private buffer = ''
  /** Received body bytes (latin1) not yet taken out of their chunks. */
  private chunked = ''
  private headDone = false

  constructor(private readonly path: string) {}

  open(port: number, lastId?: string): Promise<void> {
    return new Promise((resolve, reject) => {
      let opened = false
      const socket = connect({ port, host: '127.0.0.1' })
      this.socket = socket
      this.buffer = ''
      this.chunked = ''
      this.headDone = false
      socket.setEncoding('latin1')
      socket.on('connect', () => {
        const resume = lastId === undefined ? '' : `Last-Event-ID: ${lastId}\r\n`
        socket.write(
          `GET ${this.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n${resume}\r\n`,
        )
      })
      socket.on('data', (text: string) => {
        this.chunked += text
        if (!this.headDone) {
          const end = this.chunked.indexOf('\r\n\r\n')
          if (end < 0) return
          if (!this.chunked.startsWith('HTTP/1.1 200')) {
            socket.destroy()
            reject(new Error(this.chunked.slice(0, 80)))
            return
          }
          this.headDone = true
          this.chunked = this.chunked.slice(end + 4)
          opened = true
          resolve()
        }
        this.dechunk()
        this.parse()
      })
      socket.on('error', (err) => {
        if (!opened) reject(err)
      })
      socket.on('close', () => this.onClose?.())
    })
  }

  onClose: (() => void) | undefined

  close(): void {
    this.onClose = undefined
    this.socket?.destroy()
  }

  /** Moves the payload of every whole chunk (`<hex size>\r\n<payload>\r\n`) to the SSE buffer. */
  private dechunk(): void {
    for (;;) {
      const line = this.chunked.indexOf('\r\n')
      if (line < 0) return
      const size = Number.parseInt(this.chunked.slice(0, line), 16)
      if (this.chunked.length < line + 2 + size + 2) return
      this.buffer += this.chunked.slice(line + 2, line + 2 + size)
      this.chunked = this.chunked.slice(line + 2 + size + 2)
    }
  }

  private parse(): void {
    for (;;) {
      const end = this.buffer.indexOf('\n\n')
      if (end < 0) return
      const block = this.buffer.slice(0, end)
      this.buffer = this.buffer.slice(end + 2)
      let id: string | undefined
      let data: string | undefined
      for (const raw of block.split('\n')) {
        const line = raw.replace(/\r$/, '')
        if (line.startsWith('id:')) id = line.slice(3).trim()
        else if (line.startsWith('data:'))
          data = (data === undefined ? '' : `${data}\n`) + line.slice(5).replace(/^ /, '')
      }
      if (data === undefined) {
        if (id !== undefined) this.lastId = id
        continue
      }
      if (data === 'null' && this.doc !== undefined) this.resets++
      this.doc = mergePatch(this.doc, JSON.parse(data) as JsonValue)
      if (id !== undefined) this.lastId = id
      if (this.resumed && this.exactAt === undefined && data !== 'null') this.exactAt = monoMs()
    }
  }
}

interface KillOpen {
  port: number
  fallbackPort: number
  clients: number
  path: string
  writePort: number
  rate: number
  /** How long the injector writes; the bench kills the node within it. */
  durationMs: number
}

async function killPhase(
  config: KillOpen,
  next: (type: string) => Promise<Message>,
): Promise<void> {
  const clients: ResumeClient[] = []
  const failures = await inParallel(config.clients, async () => {
    const client = new ResumeClient(config.path)
    await client.open(config.port)
    clients.push(client)
  })
  let killedAt = 0
  let reconnectFailures = 0
  for (const client of clients) {
    client.onClose = () => {
      client.onClose = undefined
      client.resumed = true
      client.open(config.fallbackPort, client.lastId).catch(() => reconnectFailures++)
    }
  }
  const injector = await Writers.open(config.writePort)
  send({ type: 'opened', failures })
  const injecting = injector.run(config.rate, config.durationMs, () => undefined)
  killedAt = Number((await next('killed')).at)
  const deadline = Date.now() + 30_000
  while (clients.some((c) => c.exactAt === undefined) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20))
  }
  await injecting
  // Let the last changes arrive, then compare every fold with the node's read at the client's id.
  await new Promise((r) => setTimeout(r, 1000))
  const res = await fetch(`http://127.0.0.1:${config.fallbackPort}${config.path}`)
  const body = (await res.json()) as JsonValue
  const id = res.headers.get('x-keelson-event-id')
  const times = new Histogram()
  for (const c of clients) if (c.exactAt !== undefined) times.record(c.exactAt - killedAt)
  send({
    type: 'killed-result',
    clients: clients.length,
    failures,
    reconnectFailures,
    resumed: clients.filter((c) => c.exactAt !== undefined).length,
    resets: clients.reduce((sum, c) => sum + c.resets, 0),
    exactAtEnd: clients.filter((c) => c.lastId === id && jsonEqual(c.doc, body)).length,
    timeToExact: times.summary(),
  })
  injector.close()
  for (const c of clients) c.close()
}

// ---- (k) ----------------------------------------------------------------------------------------

// ---- IPC ----------------------------------------------------------------------------------------

const inbox: Message[] = []
let wake: (() => void) | undefined
process.on('message', (m: Message) => {
  inbox.push(m)
  wake?.()
})

async function next(type: string): Promise<Message> {
  for (;;) {
    const at = inbox.findIndex((m) => type === '*' || m.type === type)
    if (at >= 0) return inbox.splice(at, 1)[0]!
    await new Promise<void>((resolve) => {
      wake = resolve
    })
  }
}

try {
  const first = await next('*')
  if (first.type === 'run-j')
    await runJ(
      first as unknown as RunJ,
      next('go').then(() => undefined),
    )
  else if (first.type === 'kill-open') await killPhase(first as unknown as KillOpen, next)
  else throw new Error(`unknown run ${first.type}`)
} catch (err) {
  send({ type: 'error', message: (err as Error).message })
}
process.disconnect?.()
