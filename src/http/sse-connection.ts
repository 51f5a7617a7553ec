/**
 * An SSE stream's connection (SPEC §4): the shared connection writer
 * (src/stream/connection.ts) with SSE framing — chunked transfer coding on
 * HTTP/1.1 (framed here, the head says so explicitly), raw bytes on
 * HTTP/1.0 — keep-alive events, and its end.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html
 */
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { Connection, type EndReason, type StreamStats } from '../stream/connection.js'
import type { Streams } from '../stream/streams.js'
import { detachStream } from './detach.js'

/** `body` as one chunk of HTTP/1.1 chunked transfer coding (RFC 9112 §7.1). */
export function chunk(body: Buffer): Buffer {
  const head = `${body.length.toString(16)}\r\n`
  const out = Buffer.allocUnsafe(head.length + body.length + 2)
  out.write(head, 0, 'latin1')
  body.copy(out, head.length)
  out[out.length - 2] = 13
  out[out.length - 1] = 10
  return out
}

/** The last chunk of a chunked response, with no trailers (RFC 9112 §7.1). */
const LAST_CHUNK = Buffer.from('0\r\n\r\n')
const NOTHING = Buffer.alloc(0)
const KEEP_ALIVE = Buffer.from('event: keep-alive\n\n')
const KEEP_ALIVE_CHUNK = chunk(KEEP_ALIVE)

/** The keep-alive frames of one revision, built once per tick for every stream. */
export interface KeepAliveFrames {
  rev: number
  raw: Buffer
  chunked: Buffer
}

/** Where an SSE connection gets what it shares with the others. */
export interface SseShared {
  readonly stats: StreamStats
  /** The keep-alive frames carrying the current event id. */
  keepAliveFrames(): KeepAliveFrames
}

/** One SSE stream. */
export class SseConnection extends Connection {
  constructor(
    streams: Streams,
    socket: Socket,
    private readonly shared: SseShared,
    /** The response, until its socket leaves the HTTP server (./detach.ts). */
    private res: ServerResponse | undefined,
    /** HTTP/1.1 chunked transfer coding, or raw bytes (HTTP/1.0). */
    readonly chunked: boolean,
  ) {
    super(streams, socket, shared.stats)
  }

  get protocol(): string {
    return 'sse'
  }

  /** Queues one event built for this connection alone. */
  sendText(text: string): void {
    const body = Buffer.from(text)
    this.send(this.chunked ? chunk(body) : body)
  }

  /** Queues `id:` with `data:`, or a keep-alive with `id:` when there is no data. */
  sendEvent(id: string, data: string | undefined): void {
    this.sendText(
      data === undefined ? `event: keep-alive\nid: ${id}\n\n` : `id: ${id}\ndata: ${data}\n\n`,
    )
  }

  /** A keep-alive; its id moves the client's resume point only when nothing is held back. */
  keepAlive(): void {
    if (!this.draining) return
    if (this.holding) {
      this.send(this.chunked ? KEEP_ALIVE_CHUNK : KEEP_ALIVE)
      return
    }
    const frames = this.shared.keepAliveFrames()
    this.send(this.chunked ? frames.chunked : frames.raw)
  }

  /**
   * Takes the socket out of node's HTTP server (./detach.ts) once the
   * request's parse has unwound; false when it stays on its response.
   */
  detach(): boolean {
    if (this.res === undefined || this.closed) return false
    if (detachStream(this.res) === undefined) return false
    this.res = undefined
    return true
  }

  /** True once the stream left node's HTTP server. */
  get detached(): boolean {
    return this.res === undefined
  }

  /** Ends the stream (server shutdown): the last chunk, then the connection. */
  end(_why?: EndReason): void {
    if (this.res !== undefined) {
      this.res.end()
      return
    }
    const socket = this.socket
    // A stalled client would hold the shutdown until its stall timeout; it reconnects and resumes.
    if (!this.draining) socket.destroy()
    else socket.end(this.chunked ? LAST_CHUNK : NOTHING, () => socket.destroy())
  }
}
