/**
 * The Signal K WebSocket endpoint `/signalk/v1/stream` (SPEC §5): the
 * upgrade, and the clients, which are connections of the app's shared
 * stream writer (src/stream/): the same end-of-turn batch, congestion
 * handling, byte bound, stall sweep and keep-alive tick (a ping here) as
 * every other stream.
 *
 * An upgrade never throws: a malformed URL or any failure is answered with
 * a real HTTP status on the socket, as ws's abortHandshake does.
 *
 * @see https://signalk.org/specification/1.7.0/doc/streaming_api.html
 */

import { type IncomingMessage, STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { type WebSocket, WebSocketServer } from 'ws'
import { Errors, KeelsonError } from '../core/errors.js'
import type { WritePort } from '../core/write-port.js'
import { clientAddress, type ProxyTrust, TRUST_NONE } from '../http/proxy.js'
import type { Principal, PrincipalOf } from '../security/principal.js'
import type { Streams } from '../stream/streams.js'
import type { PutRequests } from './put-request.js'
import {
  type ClientOptions,
  type LoginFunction,
  type SignalKStats,
  StreamClient,
} from './ws-client.js'

/** The path of the Signal K stream. */
export const STREAM_PATH = '/signalk/v1/stream'

/** Options of {@link SignalKStream}. */
export interface SignalKStreamOptions {
  /** Largest message accepted, bytes; a larger one closes the connection with 1009. */
  maxBodyBytes: number
  /** Who a client of this upgrade request acts for (SPEC §8); throws (or rejects) 401 for a bad token. */
  principalOf: PrincipalOf
  /** Logs a client in with the WebSocket login message (SPEC §8); absent while security is off. */
  login?: LoginFunction
  /** Makes the clients' PUT requests (SPEC §11); absent: they are refused. */
  putRequests?: PutRequests
  /** Which peers are trusted proxies (src/http/proxy.ts), for the client's address. Default none. */
  proxyTrust?: ProxyTrust
}

/** The query of an upgrade URL, or undefined when the URL is not the stream's. */
function streamQuery(url: string): URLSearchParams | undefined {
  const q = url.indexOf('?')
  const pathname = q < 0 ? url : url.slice(0, q)
  if (pathname !== STREAM_PATH && pathname !== `${STREAM_PATH}/`) return undefined
  return new URLSearchParams(q < 0 ? '' : url.slice(q + 1))
}

/** All Signal K WebSocket clients of one app. */
export class SignalKStream {
  readonly stats: SignalKStats = {
    eventsSent: 0,
    bytesSent: 0,
    coalesced: 0,
    stalledClosed: 0,
    pingTimeouts: 0,
  }
  private readonly wss: WebSocketServer

  constructor(
    private readonly streams: Streams,
    private readonly port: WritePort,
    private readonly options: SignalKStreamOptions,
  ) {
    // No compression: frames are built once and written as they are to every socket.
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxBodyBytes,
      perMessageDeflate: false,
    })
  }

  /** Number of connected clients. */
  get size(): number {
    return this.streams.count('ws')
  }

  /**
   * Takes the upgrade when it is for {@link STREAM_PATH}; returns false
   * otherwise. A bad token is answered 401 on the socket, never opened then
   * closed. Never throws.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const query = streamQuery(req.url ?? '/')
    if (query === undefined) return false
    const upgrade = (principal: Principal): void => {
      if (socket.destroyed) return
      const options = this.clientOptions(req, query, principal)
      this.wss.handleUpgrade(req, socket, head, (ws) => this.connect(ws, socket, options))
    }
    const refuse = (err: unknown): void => {
      abortUpgrade(socket, err instanceof KeelsonError ? err : new KeelsonError(Errors.INTERNAL))
    }
    try {
      const principal = this.options.principalOf(req)
      if (principal instanceof Promise) principal.then(upgrade, refuse)
      else upgrade(principal)
    } catch (err) {
      refuse(err)
    }
    return true
  }

  /** Stops taking upgrades (clients are ended by the stream registry). */
  close(): void {
    this.wss.close()
  }

  private clientOptions(
    req: IncomingMessage,
    query: URLSearchParams,
    principal: Principal,
  ): ClientOptions {
    const subscribe = query.get('subscribe')
    const address = clientAddress(req, this.options.proxyTrust ?? TRUST_NONE)
    return {
      subscribe: subscribe === 'all' || subscribe === 'none' ? subscribe : 'self',
      sendCachedValues: query.get('sendCachedValues') !== 'false',
      sendMeta: query.get('sendMeta') === 'all',
      principal,
      sourceLabel: `ws.${(address ?? 'unknown').replace(/[.:]/g, '_')}`,
      login: this.options.login,
      address: address ?? '',
      ...(this.options.putRequests !== undefined && { putRequests: this.options.putRequests }),
    }
  }

  private connect(ws: WebSocket, socket: Duplex, options: ClientOptions): void {
    const log = this.streams.log
    if (ws.extensions !== '') {
      // Shared frames carry no RSV bits; they are wrong on a connection with an extension.
      log.error({ extensions: ws.extensions }, 'signalk ws extension negotiated')
      ws.close(1011, 'unsupported extension')
      return
    }
    let client: StreamClient
    try {
      client = new StreamClient(this.streams, ws, socket, this.port, this.stats, options)
      client.principal = options.principal
    } catch (err) {
      log.error({ err }, 'signalk ws client failed to start')
      ws.close(1011, 'internal error')
      return
    }
    this.streams.add(client)
    ws.on('message', (data, isBinary) => {
      client.receive(isBinary ? '' : data.toString())
    })
    ws.on('error', (err) => log.debug({ err }, 'signalk ws error'))
    ws.on('close', () => client.close())
    log.debug({ clients: this.size }, 'signalk ws client connected')
  }
}

/** The answer to an upgrade that cannot be taken, on the raw socket (ws's abortHandshake). */
export function abortUpgrade(socket: Duplex, error: KeelsonError): void {
  const body = JSON.stringify({
    type: `https://keelson.dev/errors/${error.kind.code}`,
    title: error.kind.title,
    status: error.status,
    detail: error.message,
    code: error.code,
  })
  if (!socket.writable) {
    socket.destroy()
    return
  }
  // A 429 or 503 says when to retry, as sendProblem does over HTTP.
  const retry =
    error.retryAfterS === undefined
      ? ''
      : `Retry-After: ${Math.max(1, Math.ceil(error.retryAfterS))}\r\n`
  socket.once('finish', () => socket.destroy())
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\nConnection: close\r\n` +
      `Content-Type: application/problem+json; charset=utf-8\r\n${retry}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  )
}

/** A 404 for an upgrade to a URL with no WebSocket endpoint. */
export const NO_ENDPOINT = (url: string): KeelsonError =>
  new KeelsonError(Errors.NOT_FOUND, `No WebSocket endpoint at ${url.slice(0, 200)}`)
