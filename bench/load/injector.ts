/**
 * The injector: writes changes at a fixed rate, each carrying its send time.
 * Over HTTP it pipelines `PATCH` requests on one keep-alive socket (keelson
 * and the ceiling); over WebSocket it sends Signal K deltas (signalk-server,
 * keelson's Signal K stream). A 1 ms timer sends whatever is due, so the rate
 * holds even when a tick is late. Over HTTP it can also send one change now
 * ({@link Injector.send}, scenario g) or a burst as fast as the server
 * answers ({@link Injector.burst}, the storm).
 */
import { connect, type Socket } from 'node:net'
import { WebSocket } from 'ws'
import { Clock, PATHS, signalkDelta, vesselPatch } from './changes.js'

/** How changes reach the server. */
export type InjectVia =
  | {
      kind: 'http-patch'
      port: number
      path: string
      /** Sent as `Authorization: Bearer` (a server with users takes writes from a writer only). */
      token?: string
      /** The dot paths written in turn; default {@link PATHS}. */
      paths?: readonly string[]
    }
  | { kind: 'ws-delta'; url: string; paths?: readonly string[] }

/** What an injection did. */
export interface InjectResult {
  sent: number
  /** Requests answered 2xx (HTTP only; WebSocket sends are not acknowledged). */
  acked: number
  /** Requests answered otherwise. */
  failed: number
  /** Send time of the first change (performance.now()). */
  startedAt: number
  elapsedMs: number
}

interface Sink {
  send(path: string, value: number): void
  result(): { acked: number; failed: number }
  close(): void
  /** Called after each read that held answers (HTTP only). */
  onAnswer?: () => void
}

/** Opens the injector's connection. */
export async function openInjector(via: InjectVia): Promise<Injector> {
  return new Injector(
    via.kind === 'http-patch'
      ? await httpSink(via.port, via.path, via.token)
      : await wsSink(via.url),
    via.paths,
  )
}

/** Sends changes at a rate for a time. */
export class Injector {
  private readonly clock = new Clock()

  constructor(
    private readonly sink: Sink,
    private readonly paths: readonly string[] = PATHS,
  ) {}

  /** Sends `rate` changes a second for `durationMs`; `onStart` gets the first send time. */
  run(rate: number, durationMs: number, onStart: (t: number) => void): Promise<InjectResult> {
    return new Promise((resolve) => {
      const total = Math.round((rate * durationMs) / 1000)
      const t0 = performance.now()
      onStart(t0)
      let sent = 0
      const tick = () => {
        const elapsed = performance.now() - t0
        const due = Math.min(total, Math.floor((elapsed * rate) / 1000) + 1)
        for (; sent < due; sent++)
          this.sink.send(this.paths[sent % this.paths.length]!, this.clock.now())
        if (sent >= total) {
          clearInterval(timer)
          resolve({ sent, ...this.sink.result(), startedAt: t0, elapsedMs: elapsed })
        }
      }
      const timer = setInterval(tick, 1)
      tick()
    })
  }

  /**
   * Sends `count` changes as fast as the server answers them, with at most
   * `window` unanswered at a time (HTTP only: a WebSocket send is never
   * answered). Resolves once all are answered.
   */
  burst(count: number, window: number): Promise<InjectResult> {
    return new Promise((resolve) => {
      const answered = () => {
        const r = this.sink.result()
        return r.acked + r.failed
      }
      const base = answered()
      const t0 = performance.now()
      let sent = 0
      const pump = () => {
        const done = answered() - base
        for (; sent < count && sent - done < window; sent++) {
          this.sink.send(this.paths[sent % this.paths.length]!, this.clock.now())
        }
        if (done < count) return
        this.sink.onAnswer = undefined
        resolve({ sent, ...this.sink.result(), startedAt: t0, elapsedMs: performance.now() - t0 })
      }
      this.sink.onAnswer = pump
      pump()
    })
  }

  /** Sends one change now: `path` (a dot path of the self vessel) set to `value`. */
  send(path: string, value: number): void {
    this.sink.send(path, value)
  }

  /** Resolves once `count` requests in all were answered (HTTP only), false after `timeoutMs`. */
  answered(count: number, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        const r = this.sink.result()
        if (r.acked + r.failed < count) return
        clearTimeout(timer)
        this.sink.onAnswer = undefined
        resolve(true)
      }
      const timer = setTimeout(() => {
        this.sink.onAnswer = undefined
        resolve(false)
      }, timeoutMs)
      this.sink.onAnswer = check
      check()
    })
  }

  /** The acknowledgements so far. */
  result(): { acked: number; failed: number } {
    return this.sink.result()
  }

  close(): void {
    this.sink.close()
  }
}

function httpSink(port: number, path: string, token?: string): Promise<Sink> {
  const auth = token === undefined ? '' : `Authorization: Bearer ${token}\r\n`
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    let acked = 0
    let failed = 0
    let tail = ''
    socket.on('data', (chunk: Buffer) => {
      const text = tail + chunk.toString('latin1')
      let at = text.indexOf('HTTP/1.1 ')
      while (at >= 0 && at + 10 <= text.length) {
        if (text.charCodeAt(at + 9) === 50) acked++
        else failed++
        at = text.indexOf('HTTP/1.1 ', at + 10)
      }
      tail = at >= 0 ? text.slice(at) : text.slice(-8)
      sink.onAnswer?.()
    })
    const sink: Sink = {
      send(p, value) {
        const body = vesselPatch(p, value)
        socket.write(
          `PATCH ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/merge-patch+json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        )
      },
      result: () => ({ acked, failed }),
      close: () => socket.destroy(),
    }
    socket.on('error', reject)
    socket.on('connect', () => resolve(sink))
  })
}

function wsSink(url: string): Promise<Sink> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false })
    ws.on('error', reject)
    ws.on('open', () =>
      resolve({
        send: (p, value) => ws.send(signalkDelta(p, value)),
        result: () => ({ acked: 0, failed: 0 }),
        close: () => ws.terminate(),
      }),
    )
  })
}
