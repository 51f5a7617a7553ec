/**
 * The storm's load process, a child of the bench: N SSE clients on one path
 * that fold what they receive with RFC 7396 (lib/merge-patch.ts, not the
 * server's code) and know when they are exact: their state equals a `GET`
 * of the path taken once the writes have stopped.
 *
 * 1. The clients connect (snapshot), a few warm-up writes reach them, and
 *    every one must be exact against a GET (this checks the fold itself).
 * 2. They all disconnect; `changes` PATCHes are written, as fast as the
 *    server answers them; a GET gives the final state and its event id.
 * 3. On `go`, all reconnect at once (one synchronous loop of connects), each
 *    with its `Last-Event-ID`; the time until every one is exact again, and
 *    what each received on the way: one catch-up patch, or a reset.
 *
 * Messages in: `run` ({@link StormConfig}), `go`. Out: `connected`, `away`,
 * `result`, `error`.
 */
import { connect, type Socket } from 'node:net'
import { round } from '../lib/histogram.js'
import { type JsonValue, jsonEqual, mergePatch } from '../lib/merge-patch.js'
import { type InjectVia, openInjector } from './injector.js'
import { type SseEvent, SseReader } from './sse-reader.js'

/** What one storm does. */
export interface StormConfig {
  port: number
  /** Path of the streams and of the GET. */
  path: string
  clients: number
  /** Writes while the clients are away. */
  changes: number
  /** Writes before, that the clients receive live. */
  warmup: number
  /** PATCHes unanswered at a time. */
  window: number
  exactTimeoutMs: number
  inject: InjectVia
}

/** The state every client must reach, and the event id a GET gave with it. */
interface Goal {
  state: JsonValue
  id: string
}

const CONNECT_CONCURRENCY = 100
const CONNECT_TIMEOUT_MS = 20_000

let goal: Goal | undefined
let exactCount = 0
let onExact: (() => void) | undefined

/** One client; its counters are those of its current connection. */
class StormClient {
  state: JsonValue | undefined
  reader = new SseReader('', () => {})
  /** This connection sent a `Last-Event-ID`. */
  resumed = false
  dataEvents = 0
  resets = 0
  /** Bytes of the first `data` of a resumed connection: the catch-up patch. */
  catchUpBytes = 0
  startedAt = 0
  firstEventAt = Number.NaN
  exactAt = Number.NaN
  idAtExact = ''
  failure: string | undefined
  private socket: Socket | undefined

  constructor(
    private readonly port: number,
    private readonly path: string,
  ) {}

  /**
   * Connects (resuming from `lastEventId` when given); resolves on the first
   * event, fails when none came within `timeoutMs`.
   */
  open(lastEventId?: string, timeoutMs = CONNECT_TIMEOUT_MS): Promise<void> {
    this.resumed = lastEventId !== undefined
    this.dataEvents = 0
    this.resets = 0
    this.catchUpBytes = 0
    this.firstEventAt = Number.NaN
    this.exactAt = Number.NaN
    this.failure = undefined
    this.startedAt = performance.now()
    return new Promise((resolve, reject) => {
      // Only this connection's own failure before its first event counts (not an earlier one's).
      const fail = (reason: string) => {
        if (this.socket !== socket || this.failure !== undefined) return
        if (!Number.isNaN(this.firstEventAt)) return
        clearTimeout(timer)
        this.failure = reason
        socket.destroy()
        reject(new Error(reason))
      }
      this.reader = new SseReader(lastEventId ?? '', (event) => {
        if (Number.isNaN(this.firstEventAt)) {
          this.firstEventAt = performance.now()
          clearTimeout(timer)
          resolve()
        }
        this.onEvent(event)
      })
      const socket = connect({ port: this.port, host: '127.0.0.1' })
      const timer = setTimeout(() => fail('timeout'), timeoutMs)
      this.socket = socket
      socket.setNoDelay(true)
      const resume = lastEventId === undefined ? '' : `Last-Event-ID: ${lastEventId}\r\n`
      socket.on('connect', () =>
        socket.write(
          `GET ${this.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n${resume}\r\n`,
        ),
      )
      socket.on('data', (bytes: Buffer) => {
        this.reader.feed(bytes)
        if (this.reader.status > 0 && this.reader.status !== 200)
          fail(`status ${this.reader.status}`)
      })
      socket.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message))
      socket.on('close', () => fail('closed before the first event'))
    })
  }

  close(): void {
    this.socket?.destroy()
  }

  private onEvent(event: SseEvent): void {
    if (event.data !== undefined) {
      this.dataEvents++
      if (event.data === 'null') this.resets++
      const value = JSON.parse(event.data) as JsonValue
      if (this.resumed && this.dataEvents === 1) this.catchUpBytes = event.data.length
      // A fresh stream's first event is the snapshot; every other one is a merge patch.
      this.state = !this.resumed && this.dataEvents === 1 ? value : mergePatch(this.state, value)
    }
    if (goal === undefined || !Number.isNaN(this.exactAt) || !jsonEqual(this.state, goal.state))
      return
    this.exactAt = performance.now()
    this.idAtExact = event.lastEventId
    exactCount++
    onExact?.()
  }
}

function send(message: Record<string, unknown>): void {
  process.send?.(message)
}

/** GET of the path: the state every client must reach and the event id it is at. */
async function getGoal(config: StormConfig): Promise<Goal> {
  const res = await fetch(`http://127.0.0.1:${config.port}${config.path}`)
  if (!res.ok) throw new Error(`GET ${config.path}: ${res.status}`)
  return {
    state: (await res.json()) as JsonValue,
    id: res.headers.get('x-keelson-event-id') ?? '',
  }
}

/** Sets the goal and waits until every client is exact (or `timeoutMs`); returns how many are. */
function waitExact(clients: StormClient[], next: Goal, timeoutMs: number): Promise<number> {
  goal = next
  exactCount = 0
  // Clients already there (nothing to receive) count at once.
  for (const c of clients) {
    if (Number.isNaN(c.exactAt) && jsonEqual(c.state, next.state)) {
      c.exactAt = performance.now()
      c.idAtExact = c.reader.lastEventId
      exactCount++
    }
  }
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      clearInterval(poll)
      onExact = undefined
      resolve(exactCount)
    }
    const timer = setTimeout(done, timeoutMs)
    // Failed clients never get exact: stop once every client is exact or failed.
    const poll = setInterval(() => {
      if (clients.every((c) => !Number.isNaN(c.exactAt) || c.failure !== undefined)) done()
    }, 50)
    onExact = () => {
      if (exactCount >= clients.length) done()
    }
    onExact()
  })
}

function revOf(id: string): number {
  return Number(id.slice(id.lastIndexOf('.') + 1))
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return Number.NaN
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

function failuresOf(clients: StormClient[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const c of clients) if (c.failure) out[c.failure] = (out[c.failure] ?? 0) + 1
  return out
}

let goResolve: (() => void) | undefined
const clients: StormClient[] = []

async function run(config: StormConfig): Promise<void> {
  // 1. Connect, warm up live, check every client's fold against a GET.
  const t0 = performance.now()
  for (let i = 0; i < config.clients; i++) clients.push(new StormClient(config.port, config.path))
  let next = 0
  const opener = async () => {
    while (next < clients.length) await clients[next++]!.open().catch(() => {})
  }
  await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, opener))
  const failed = failuresOf(clients)
  if (Object.keys(failed).length > 0) throw new Error(`connect failures: ${JSON.stringify(failed)}`)
  send({ type: 'connected', clients: clients.length, connectMs: round(performance.now() - t0) })
  const injector = await openInjector(config.inject)
  await injector.burst(config.warmup, config.window)
  const warm = await getGoal(config)
  const warmExact = await waitExact(clients, warm, 30_000)
  if (warmExact < clients.length) {
    const off = clients.find((c) => Number.isNaN(c.exactAt))
    throw new Error(
      `warm-up: ${clients.length - warmExact} clients not exact against GET (one holds ${JSON.stringify(off?.state).slice(0, 300)}, GET ${JSON.stringify(warm.state).slice(0, 300)})`,
    )
  }
  const warmIds = clients.filter((c) => c.reader.lastEventId === warm.id).length

  // 2. Away: every client disconnects; the writes land; the state they must reach.
  const lastIds = clients.map((c) => c.reader.lastEventId)
  for (const c of clients) c.close()
  await new Promise((r) => setTimeout(r, 1000))
  const writes = await injector.burst(config.changes, config.window)
  injector.close()
  const final = await getGoal(config)
  const missed = Math.max(...lastIds.map((id) => revOf(final.id) - revOf(id)))
  send({
    type: 'away',
    writesPerSec: Math.round(writes.sent / (writes.elapsedMs / 1000)),
    writesAcked: writes.acked,
    writesFailed: writes.failed,
  })
  await new Promise<void>((resolve) => {
    goResolve = resolve
  })

  // 3. The storm: every client reconnects in one loop, each with its Last-Event-ID.
  goal = undefined
  const start = performance.now()
  clients.forEach((c, i) => {
    c.open(lastIds[i], config.exactTimeoutMs).catch(() => {})
  })
  const exact = await waitExact(clients, final, config.exactTimeoutMs)
  const exactMs = clients.filter((c) => !Number.isNaN(c.exactAt)).map((c) => c.exactAt - start)
  const firstMs = clients
    .filter((c) => !Number.isNaN(c.firstEventAt))
    .map((c) => c.firstEventAt - start)
  const failures = failuresOf(clients)
  send({
    type: 'result',
    clients: clients.length,
    warmIdsMatchGet: warmIds,
    changesAway: missed,
    reconnectFailures: Object.values(failures).reduce((a, b) => a + b, 0),
    failures,
    exact,
    allExactMs: exact === clients.length ? round(Math.max(...exactMs)) : Number.NaN,
    exactP50: round(quantile(exactMs, 0.5)),
    exactP99: round(quantile(exactMs, 0.99)),
    firstEventP99: round(quantile(firstMs, 0.99)),
    oneCatchUp: clients.filter(
      (c) => !Number.isNaN(c.exactAt) && c.dataEvents === 1 && c.resets === 0,
    ).length,
    resets: clients.filter((c) => c.resets > 0).length,
    atFinalId: clients.filter((c) => c.idAtExact === final.id).length,
    catchUpBytes: round(
      quantile(
        clients.map((c) => c.catchUpBytes),
        0.5,
      ),
    ),
  })
}

process.on('message', (message: { type: string; config?: StormConfig }) => {
  if (message.type === 'run' && message.config) {
    run(message.config).catch((error: Error) => send({ type: 'error', message: error.message }))
  } else if (message.type === 'go') {
    goResolve?.()
  }
})
const quit = () => {
  for (const c of clients) c.close()
  process.exit(0)
}
process.on('disconnect', quit)
process.on('SIGTERM', quit)
