/**
 * NMEA 0183 over UDP: keelson listens (port 10110 by default, IANA's
 * "nmea-0183") for datagrams from instruments and gateways. A datagram holds
 * one or more whole sentences; its last line needs no line ending.
 */
import { createSocket } from 'node:dgram'
import { type AddressInfo, isIPv6 } from 'node:net'
import type { Logger } from 'pino'
import { LineSplitter } from './line-splitter.js'
import { type DeltaSink, NmeaDecoder } from './nmea-decoder.js'
import { labelOf, type Provider } from './provider.js'

/** Options of {@link startUdpProvider}. */
export interface UdpProviderOptions {
  /** Port to listen on; 0 picks a free one (tests). */
  port: number
  /**
   * Address to bind: an IPv6 address gets a `udp6` socket, anything else a
   * `udp4` one. Default `0.0.0.0` (every IPv4 interface, where NMEA
   * broadcasts arrive).
   */
  address?: string
  sink: DeltaSink
  log: Logger
  /** Longest line kept (see {@link LineSplitter}). Default 512. */
  maxLineLength?: number
}

/** A listening UDP provider; `address` and `port` are the bound ones. */
export interface UdpProvider extends Provider {
  readonly address: string
  readonly port: number
}

/** Binds the UDP socket; resolves once it listens, rejects when it cannot bind. */
export async function startUdpProvider(options: UdpProviderOptions): Promise<UdpProvider> {
  const address = options.address ?? '0.0.0.0'
  const socket = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4', reuseAddr: true })
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(options.port, address, () => {
      socket.off('error', reject)
      resolve()
    })
  })
  const bound = socket.address() as AddressInfo
  const port = bound.port
  const label = labelOf('udp', String(options.port === 0 ? port : options.port))
  const log = options.log.child({ provider: label })
  const decoder = new NmeaDecoder({ label, sink: options.sink, log })
  const splitter = new LineSplitter(decoder, options.maxLineLength)
  socket.on('message', (datagram) => {
    splitter.push(datagram)
    splitter.flush()
    decoder.flush()
  })
  socket.on('error', (err) => log.warn({ err: err.message }, `NMEA 0183 UDP: ${err.message}`))
  const where = bound.family === 'IPv6' ? `[${bound.address}]:${port}` : `${bound.address}:${port}`
  log.info({ address: bound.address, port }, `NMEA 0183 over UDP on ${where}`)

  return {
    kind: 'udp',
    label,
    address: bound.address,
    port,
    counters: decoder.counters,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  }
}
