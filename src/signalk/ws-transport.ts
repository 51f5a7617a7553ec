/**
 * The Signal K WebSocket endpoint `/signalk/v1/stream` (SPEC §5): upgrades,
 * the set of clients, and their shared timers — one ping sweep that
 * terminates peers that did not answer the previous ping, and one sweep that
 * closes sockets stalled past `stallTimeoutMs` (and resumes drained ones
 * whose flush callback has not come yet).
 *
 * Fan-out path, as for SSE (src/http/sse.ts): each change's delta frames are
 * built once per subscribed scope (`ScopedUpdate.frame`, src/core/hub.ts); a client
 * queues them, and at the end of the event-loop turn one flush writes each
 * client's frames in one `write`, joined once for all clients due the same
 * frames. permessage-deflate stays off, so those bytes are valid on every
 * connection.
 *
 * @see https://signalk.org/specification/1.7.0/doc/streaming_api.html
 */

import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { type WebSocket, WebSocketServer } from 'ws'
import type { Hub } from '../core/hub.js'
import type { Scheduler } from '../core/scheduler.js'
import type { StateTree } from '../core/state-tree.js'
import { TurnBatch } from '../core/turn-batch.js'
import { isLoopback } from '../http/guard.js'
import { stallSweepMs } from '../options.js'
import {
  type ClientContext,
  type ClientOptions,
  StreamClient,
  type StreamStats,
} from './ws-client.js'

/** The path of the Signal K stream. */
export const STREAM_PATH = '/signalk/v1/stream'

/** Options of {@link SignalKStream}. */
export interface SignalKStreamOptions {
  /** Period of WebSocket pings; a peer that misses one is closed, ms. Default 15000 (`keepAliveMs`). */
  keepAliveMs: number
  /** Close a socket that has not drained for this long, ms. Default 30000. */
  stallTimeoutMs: number
  /** Largest message accepted, bytes. Default 1 MiB. */
  maxBodyBytes: number
  /** Deepest JSON nesting accepted. Default 64. */
  maxDepth: number
  /** `bufferedAmount` above which a socket counts as congested, bytes. Default 256 KiB. */
  highWaterBytes?: number
}

/** Counters the metrics endpoint reads (the `StreamSource` shape of `/metrics`). */
export interface SignalKStreamStats extends StreamStats {
  eventsSent: number
  bytesSent: number
  /** Changes held back and folded into the latest value per path. */
  coalesced: number
  stalledClosed: number
  /** Peers closed for not answering a ping. */
  pingTimeouts: number
}

/** All Signal K WebSocket clients of one app. */
export class SignalKStream implements ClientContext {
  readonly stats: SignalKStreamStats = {
    eventsSent: 0,
    bytesSent: 0,
    coalesced: 0,
    stalledClosed: 0,
    pingTimeouts: 0,
  }
  readonly highWaterBytes: number
  private readonly wss: WebSocketServer
  private readonly clients = new Set<StreamClient>()
  private readonly stalled = new Set<StreamClient>()
  private readonly batch = new TurnBatch<StreamClient>()
  private readonly pingTimer: NodeJS.Timeout
  private readonly sweepTimer: NodeJS.Timeout

  constructor(
    readonly tree: StateTree,
    readonly hub: Hub,
    readonly scheduler: Scheduler,
    private readonly options: SignalKStreamOptions,
    readonly log: Logger,
  ) {
    this.highWaterBytes = options.highWaterBytes ?? 256 * 1024
    // No compression: frames are built once and written as they are to every socket.
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxBodyBytes,
      perMessageDeflate: false,
    })
    this.pingTimer = setInterval(() => this.ping(), options.keepAliveMs)
    this.pingTimer.unref()
    const sweep = stallSweepMs(options.stallTimeoutMs)
    this.sweepTimer = setInterval(() => this.sweep(), sweep)
    this.sweepTimer.unref()
  }

  /** Number of connected clients. */
  get size(): number {
    return this.clients.size
  }

  /** Takes the upgrade when it is for {@link STREAM_PATH}; returns false otherwise. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname.replace(/\/$/, '') !== STREAM_PATH) return false
    const options = this.clientOptions(req, url.searchParams)
    this.wss.handleUpgrade(req, socket, head, (ws) => this.connect(ws, socket, options))
    return true
  }

  /** Called by a client whose socket stopped draining. */
  congested(client: StreamClient): void {
    this.stalled.add(client)
  }

  /** Called when a congested client's backlog was written out: held changes go out now. */
  flushed(client: StreamClient): void {
    if (!this.stalled.delete(client)) return
    client.drained()
  }

  /** Queues `client` for the flush at the end of this event-loop turn. */
  markDirty(client: StreamClient): void {
    this.batch.markDirty(client)
  }

  /**
   * The frames due to a client this turn as one Buffer. Clients of one scope
   * are flushed one after the other with the very same frames, so the last
   * join is kept for the turn and reused while the frames are the same
   * Buffers: one copy per scope, then one `write` per socket.
   */
  joined(frames: readonly Buffer[]): Buffer {
    return this.batch.joined(frames)
  }

  /** Closes every client and stops the timers. */
  close(): void {
    clearInterval(this.pingTimer)
    clearInterval(this.sweepTimer)
    for (const client of this.clients) {
      client.close()
      client.ws.close(1001, 'server shutting down')
    }
    this.clients.clear()
    this.stalled.clear()
    this.wss.close()
  }

  private clientOptions(req: IncomingMessage, query: URLSearchParams): ClientOptions {
    const subscribe = query.get('subscribe')
    const address = req.socket.remoteAddress
    return {
      subscribe: subscribe === 'all' || subscribe === 'none' ? subscribe : 'self',
      sendCachedValues: query.get('sendCachedValues') !== 'false',
      sendMeta: query.get('sendMeta') === 'all',
      canWrite: isLoopback(address),
      sourceLabel: `ws.${(address ?? 'unknown').replace(/[.:]/g, '_')}`,
      maxDepth: this.options.maxDepth,
    }
  }

  private connect(ws: WebSocket, socket: Duplex, options: ClientOptions): void {
    if (ws.extensions !== '') {
      // Shared frames carry no RSV bits; they are wrong on a connection with an extension.
      this.log.error({ extensions: ws.extensions }, 'signalk ws extension negotiated')
      ws.close(1011, 'unsupported extension')
      return
    }
    const client = new StreamClient(ws, socket, this, options)
    this.clients.add(client)
    ws.on('pong', () => {
      client.alive = true
    })
    ws.on('message', (data, isBinary) => {
      client.receive(isBinary ? '' : data.toString())
    })
    ws.on('error', (err) => this.log.debug({ err }, 'signalk ws error'))
    ws.on('close', () => this.remove(client))
    this.log.debug({ clients: this.clients.size }, 'signalk ws client connected')
  }

  private remove(client: StreamClient): void {
    if (!this.clients.delete(client)) return
    this.stalled.delete(client)
    client.close()
  }

  private ping(): void {
    for (const client of this.clients) {
      if (!client.alive) {
        this.stats.pingTimeouts++
        client.ws.terminate()
        this.remove(client)
        continue
      }
      client.alive = false
      client.ws.ping()
    }
  }

  private sweep(): void {
    const now = Date.now()
    for (const client of this.stalled) {
      if (client.ws.bufferedAmount <= this.highWaterBytes / 4) {
        this.stalled.delete(client)
        client.drained()
      } else if (now - client.congestedSince >= this.options.stallTimeoutMs) {
        this.stats.stalledClosed++
        this.log.info({ stalledMs: now - client.congestedSince }, 'closing stalled signalk ws')
        client.ws.terminate()
        this.remove(client)
      }
    }
  }
}
