/**
 * NMEA 0183 from a TCP gateway (a multiplexer, a WiFi bridge, kplex,
 * signalk-server's port 10110). keelson is the client: it connects, reads
 * lines, and when the connection fails or drops it reconnects with
 * exponential backoff, logging each drop and each attempt.
 */
import { connect, type Socket } from 'node:net'
import type { Logger } from 'pino'
import { LineSplitter } from './line-splitter.js'
import { type DeltaSink, NmeaDecoder } from './nmea-decoder.js'
import { labelOf, type Provider } from './provider.js'

/** Options of {@link startTcpProvider}. */
export interface TcpProviderOptions {
  host: string
  port: number
  sink: DeltaSink
  log: Logger
  /** First reconnect delay, ms; doubled after each failed attempt. Default 1000. */
  minBackoffMs?: number
  /** Longest reconnect delay, ms. Default 30000. */
  maxBackoffMs?: number
  /** Longest line kept (see {@link LineSplitter}). Default 512. */
  maxLineLength?: number
}

/** TCP keep-alive probe delay, so a gateway that vanished (power, WiFi) is noticed. */
const KEEP_ALIVE_MS = 10_000

/** Connects to `host:port` and keeps reconnecting until closed. */
export function startTcpProvider(options: TcpProviderOptions): Provider {
  const { host, port } = options
  const minBackoff = options.minBackoffMs ?? 1000
  const maxBackoff = options.maxBackoffMs ?? 30_000
  const label = labelOf('tcp', `${host}-${port}`)
  const log = options.log.child({ provider: label })
  const decoder = new NmeaDecoder({ label, sink: options.sink, log })
  const splitter = new LineSplitter(decoder, options.maxLineLength)
  let socket: Socket | undefined
  let timer: NodeJS.Timeout | undefined
  let backoff = minBackoff
  let closed = false

  const open = (): void => {
    timer = undefined
    splitter.reset()
    let connected = false
    const s = connect({ host, port })
    socket = s
    s.setKeepAlive(true, KEEP_ALIVE_MS)
    s.on('connect', () => {
      connected = true
      backoff = minBackoff
      log.info({ host, port }, `NMEA 0183 gateway ${host}:${port} connected`)
    })
    s.on('data', (chunk: Buffer) => {
      splitter.push(chunk)
      decoder.flush()
    })
    s.on('error', (err) => {
      // 'close' follows every error; the reconnect is scheduled there.
      log.warn(
        { host, port, err: err.message },
        `NMEA 0183 gateway ${host}:${port}: ${err.message}`,
      )
    })
    s.on('close', () => {
      if (closed) return
      const delay = backoff
      backoff = Math.min(backoff * 2, maxBackoff)
      log.warn(
        { host, port, retryInMs: delay },
        connected
          ? `NMEA 0183 gateway ${host}:${port} dropped; reconnecting in ${delay} ms`
          : `NMEA 0183 gateway ${host}:${port} unreachable; retrying in ${delay} ms`,
      )
      timer = setTimeout(open, delay)
    })
  }
  open()

  return {
    kind: 'tcp',
    label,
    counters: decoder.counters,
    close: async () => {
      closed = true
      if (timer) clearTimeout(timer)
      socket?.destroy()
    },
  }
}
