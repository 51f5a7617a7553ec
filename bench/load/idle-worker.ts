/**
 * One worker of scenarios (g) and (cluster-k), a child process of the
 * bench: opens its share of the idle SSE streams (under its own file limit;
 * in (g) from its own source address, `localAddress`, so no single
 * 127.0.0.x runs out of ports to the one server), paced to a connect rate with a bounded number in flight (so the
 * server's accept queue never overflows: no SYN-flood look), then waits for
 * the one change and times its arrival on every stream.
 *
 * Time is CLOCK_MONOTONIC (lib/mono-clock.ts), the same in every process:
 * the change carries its send time as its value, each stream's latency is
 * its read time minus that value.
 *
 * Messages in: `run` ({@link IdleWorkerConfig}), `arm` (`since`, `timeoutMs`).
 * Out: `connected`, `armed`, `delivered`, `error`.
 */
import { connect, type Socket } from 'node:net'
import { round } from '../lib/histogram.js'
import { monoMs } from '../lib/mono-clock.js'

/** What one worker opens. */
export interface IdleWorkerConfig {
  port: number
  /** Path of the SSE GET. */
  path: string
  clients: number
  /** Source address of this worker's sockets (127.0.0.x). */
  /**
   * Source address of this worker's sockets (127.0.0.x), or none: the kernel
   * then picks the source port at connect, which stays fast however many are
   * in use; binding an address first makes it search its ports on every
   * connect, which slows to a crawl past some 10,000 sockets on one address.
   */
  localAddress?: string
  /** Connects started per second, at most. */
  rate: number
  /** Connects in flight (started, snapshot not yet received), at most. */
  concurrency: number
  /** A stream not open (snapshot received) within this is a failure, ms. */
  connectTimeoutMs: number
}

/** One idle stream: open once its first event (the snapshot) is in. */
interface Stream {
  socket: Socket
  open: boolean
  /** Arrival minus send time of the change, ms; NaN until it arrives. */
  latency: number
  /** The end of the last read, for a value cut between two reads. */
  tail: string
}

const READ_BUFFER = Buffer.allocUnsafe(64 * 1024)
const VALUE = /"value":(-?[0-9.eE+-]+)[,}]/g

const streams: Stream[] = []
const failures: Record<string, number> = {}
let openCount = 0
let closedAfterOpen = 0
let since = Number.POSITIVE_INFINITY
let received = 0
let onAllReceived: (() => void) | undefined

function send(message: Record<string, unknown>): void {
  process.send?.(message)
}

function fail(reason: string): void {
  failures[reason] = (failures[reason] ?? 0) + 1
}

function openStream(config: IdleWorkerConfig): Promise<void> {
  return new Promise((resolve) => {
    let head = ''
    let settled = false
    const done = (failure?: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (failure !== undefined) {
        fail(failure)
        socket.destroy()
      } else {
        stream.open = true
        openCount++
      }
      resolve()
    }
    const onText = (text: string) => {
      if (!stream.open) {
        head += text
        if (!'HTTP/1.1 200'.startsWith(head.slice(0, 12))) {
          done(`status ${head.slice(9, 12)}`)
          return
        }
        // Open once the snapshot's `data:` line is in; it holds no change yet.
        if (head.includes('\r\n\r\n') && head.includes('\ndata:')) done()
        return
      }
      if (!Number.isNaN(stream.latency) || since === Number.POSITIVE_INFINITY) return
      const now = monoMs()
      const all = stream.tail + text
      VALUE.lastIndex = 0
      for (let m = VALUE.exec(all); m !== null; m = VALUE.exec(all)) {
        const sent = Number(m[1])
        if (sent >= since) {
          stream.latency = now - sent
          if (++received === openCount - closedAfterOpen) onAllReceived?.()
          return
        }
      }
      stream.tail = all.slice(-48)
    }
    const socket = connect({
      port: config.port,
      host: '127.0.0.1',
      ...(config.localAddress !== undefined && { localAddress: config.localAddress }),
      onread: {
        buffer: READ_BUFFER,
        callback: (size) => {
          onText(READ_BUFFER.toString('latin1', 0, size))
          return true
        },
      },
    })
    const stream: Stream = { socket, open: false, latency: Number.NaN, tail: '' }
    streams.push(stream)
    const timer = setTimeout(() => done('timeout'), config.connectTimeoutMs)
    socket.on('connect', () =>
      socket.write(
        `GET ${config.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`,
      ),
    )
    socket.on('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message))
    socket.on('close', () => {
      if (stream.open) closedAfterOpen++
      else done('closed before the snapshot')
    })
  })
}

async function connectAll(config: IdleWorkerConfig): Promise<number> {
  const t0 = performance.now()
  let started = 0
  let inFlight = 0
  const pending: Promise<void>[] = []
  await new Promise<void>((resolve) => {
    const tick = () => {
      const allowed = Math.min(
        config.clients,
        Math.floor(((performance.now() - t0) * config.rate) / 1000) + 1,
      )
      while (started < allowed && inFlight < config.concurrency) {
        started++
        inFlight++
        pending.push(openStream(config).then(() => void inFlight--))
      }
      if (started >= config.clients) {
        clearInterval(timer)
        resolve()
      }
    }
    const timer = setInterval(tick, 5)
    tick()
  })
  await Promise.all(pending)
  return round(performance.now() - t0)
}

async function waitForChange(timeoutMs: number): Promise<void> {
  const t0 = performance.now()
  await new Promise<void>((resolve) => {
    if (received >= openCount - closedAfterOpen) resolve()
    onAllReceived = resolve
    setTimeout(resolve, timeoutMs)
  })
  const latencies: number[] = []
  for (const s of streams) if (!Number.isNaN(s.latency)) latencies.push(round(s.latency, 3))
  send({
    type: 'delivered',
    latencies,
    missing: openCount - closedAfterOpen - latencies.length,
    closed: closedAfterOpen,
    waitedMs: round(performance.now() - t0),
  })
}

process.on(
  'message',
  (message: { type: string; config?: IdleWorkerConfig; since?: number; timeoutMs?: number }) => {
    if (message.type === 'run' && message.config) {
      connectAll(message.config)
        .then((connectMs) =>
          send({ type: 'connected', clients: openCount - closedAfterOpen, failures, connectMs }),
        )
        .catch((error: Error) => send({ type: 'error', message: error.message }))
    } else if (message.type === 'arm' && message.since !== undefined) {
      since = message.since
      send({ type: 'armed' })
      waitForChange(message.timeoutMs ?? 30_000).catch((error: Error) =>
        send({ type: 'error', message: error.message }),
      )
    }
  },
)
const quit = () => {
  for (const s of streams) s.socket.destroy()
  process.exit(0)
}
process.on('disconnect', quit)
process.on('SIGTERM', quit)
