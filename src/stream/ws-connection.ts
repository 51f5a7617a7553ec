/**
 * A stream connection over a WebSocket (RFC 6455), whatever it speaks (the
 * Signal K stream, the fleet telemetry stream): frames are written to the
 * upgraded socket by the shared writer; while congested the peer's
 * messages are not read (`ws.pause()`); no data frame after a close frame;
 * a server end closes 1001 on shutdown and 1008 when the token expired or
 * the access was revoked.
 */
import type { Duplex } from 'node:stream'
import type WebSocket from 'ws'
import { Connection, type EndReason, type StreamStats } from './connection.js'
import type { Streams } from './streams.js'

/** A connection whose socket carries a WebSocket. */
export abstract class WsConnection extends Connection {
  /** The peer answered the last ping (RFC 6455 pong). */
  private alive = true

  constructor(
    streams: Streams,
    readonly ws: WebSocket,
    /** The upgraded socket under `ws`; it carries no extension (permessage-deflate is off). */
    socket: Duplex,
    stats: StreamStats,
  ) {
    super(streams, socket, stats)
    ws.on('pong', () => {
      this.alive = true
    })
  }

  /**
   * A ping on the shared keep-alive tick; a peer that did not answer the
   * previous one is terminated (`onTimeout` counts it). While congested its
   * pongs are not read: the stall sweep judges it, not the ping.
   */
  protected ping(onTimeout: () => void): void {
    if (!this.draining) return
    if (!this.alive) {
      onTimeout()
      this.ws.terminate()
      this.close()
      return
    }
    this.alive = false
    this.ws.ping()
  }

  /** Closes with 1001 (server shutdown) or 1008 (token expired, access revoked). */
  end(why: EndReason = 'shutdown'): void {
    if (why === 'shutdown') this.ws.close(1001, 'server shutting down')
    else this.ws.close(1008, why === 'expired' ? 'token expired' : 'access revoked')
  }

  protected override pauseReading(): void {
    this.ws.pause()
  }

  protected override resumeReading(): void {
    if (!this.closed) this.ws.resume()
  }

  protected override writable(): boolean {
    // After a close frame (ours or the peer's) no data frame may follow (RFC 6455 §5.5.1).
    return this.ws.readyState === this.ws.OPEN
  }
}
