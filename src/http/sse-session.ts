/**
 * One open SSE stream (SPEC §4). Its bytes go straight to the socket once
 * the response head is out: shared frames arrive already framed as HTTP/1.1
 * chunks (or raw for HTTP/1.0), so a change costs each subscriber one
 * `socket.write` of a Buffer built once per scope, and `res.write`'s
 * per-call chunk framing (three buffers a frame) is skipped. Bench (b2),
 * bench/RESULTS.md: the direct path is what let 1,000 streams keep up.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html
 */
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { ScopedUpdate, Subscriber, Subscription } from '../core/hub.js'
import { composeEffects, type Effect } from '../core/merge-patch.js'
import type { Task } from '../core/scheduler.js'
import type { SseTransport } from './sse.js'

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

/**
 * Bytes a session queues in one event-loop turn before further changes of
 * that turn are composed into one patch: a burst of writes applied in one
 * turn (a large ingest chunk) cannot grow a client's queue without bound.
 */
const TURN_LIMIT = 256 * 1024

/** The last chunk of a chunked response, with no trailers (RFC 9112 §7.1). */
const LAST_CHUNK = Buffer.from('0\r\n\r\n')
const NOTHING = Buffer.alloc(0)

/** One open stream, subscribed to one path. */
export class SseSession implements Subscriber, Task {
  subscription: Subscription | undefined
  /** Revision of the last event sent (or queued). */
  lastRev = 0
  /** Changes held back (throttled or congested), composed into one. */
  pending: Effect | undefined
  /** When the socket stopped draining (epoch ms), 0 when it drains. */
  congestedSince = 0
  private pendingRev = 0
  private nextAt = 0
  private scheduled = false
  private readonly queued: Buffer[] = []
  private queuedBytes = 0
  private closed = false

  constructor(
    private readonly transport: SseTransport,
    /** The response, until its socket is detached from the HTTP server (./detach.ts). */
    public res: ServerResponse | undefined,
    readonly socket: Socket,
    /** Whether the response uses chunked transfer coding (HTTP/1.1) or raw bytes (HTTP/1.0). */
    readonly chunked: boolean,
    private readonly minPeriod: number,
  ) {}

  deliver(update: ScopedUpdate): void {
    if (this.pending !== undefined || this.congestedSince !== 0 || this.queuedBytes >= TURN_LIMIT) {
      this.hold(update)
      return
    }
    if (this.minPeriod > 0) {
      const now = Date.now()
      if (now < this.nextAt) {
        this.hold(update)
        return
      }
      this.nextAt = now + this.minPeriod
    }
    this.lastRev = update.rev
    this.enqueue(this.transport.frameOf(update, this.chunked))
  }

  /** Bytes this session holds: queued this turn plus unsent in the socket. */
  get buffered(): number {
    return this.queuedBytes + this.socket.writableLength
  }

  /** Queues an event: `id:` always, `data:` when there is one. */
  sendEvent(rev: number, data: string | undefined): void {
    const id = this.transport.tree.idOf(rev)
    if (this.minPeriod > 0) this.nextAt = Date.now() + this.minPeriod
    this.enqueueText(
      data === undefined ? `event: keep-alive\nid: ${id}\n\n` : `id: ${id}\ndata: ${data}\n\n`,
    )
  }

  /** Queues an event built for this session alone. */
  enqueueText(text: string): void {
    const body = Buffer.from(text)
    this.enqueue(this.chunked ? chunk(body) : body)
  }

  /** Queues bytes already framed for this session's transfer coding. */
  enqueue(frame: Buffer): void {
    if (this.closed) return
    this.queued.push(frame)
    this.queuedBytes += frame.length
    if (this.queued.length === 1) this.transport.markDirty(this)
  }

  /** Writes everything queued in one `write` (frames shared with the scope's other sessions are joined once). */
  flush(): void {
    const queued = this.queued
    if (this.closed || queued.length === 0) return
    const socket = this.socket
    if (socket.destroyed) {
      queued.length = 0
      return
    }
    const batch = queued.length === 1 ? queued[0]! : this.transport.joined(queued)
    socket.write(batch)
    const stats = this.transport.stats
    stats.bytesSent += batch.length
    stats.eventsSent += queued.length
    queued.length = 0
    this.queuedBytes = 0
    // Judged by what the kernel left queued, not by write()'s return: a large batch the
    // kernel takes whole is not congestion. When bytes are left over, the socket emits 'drain'.
    if (this.congestedSince === 0 && socket.writableLength >= socket.writableHighWaterMark) {
      this.congestedSince = Date.now()
      this.transport.setCongested(this, true)
    }
  }

  /** The socket drained: send what was held back. */
  drained(): void {
    if (this.congestedSince === 0) return
    this.congestedSince = 0
    this.transport.setCongested(this, false)
    this.run(Date.now())
  }

  /** Scheduler task: sends the held changes as one patch when the period and the socket allow. */
  run(now: number): void {
    this.scheduled = false
    if (this.closed || this.pending === undefined || this.congestedSince !== 0) return
    if (now < this.nextAt) {
      this.schedule()
      return
    }
    const pending = this.pending
    this.pending = undefined
    this.lastRev = this.pendingRev
    this.sendEvent(this.pendingRev, JSON.stringify(pending.patch))
  }

  /** Ends the stream (server shutdown): the last chunk, then the connection. */
  end(): void {
    if (this.res !== undefined) {
      this.res.end()
      return
    }
    const socket = this.socket
    // A stalled client would hold the shutdown until its stall timeout; it reconnects and resumes.
    if (this.congestedSince !== 0) socket.destroy()
    else socket.end(this.chunked ? LAST_CHUNK : NOTHING, () => socket.destroy())
  }

  close(): void {
    this.closed = true
    this.queued.length = 0
    this.queuedBytes = 0
    this.pending = undefined
    this.subscription?.unsubscribe()
  }

  private hold(update: ScopedUpdate): void {
    if (this.pending !== undefined) this.transport.stats.coalesced++
    this.pending = this.pending ? composeEffects(this.pending, update.effect) : update.effect
    this.pendingRev = update.rev
    if (this.congestedSince === 0) this.schedule()
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    this.transport.scheduler.at(this.nextAt, this)
  }
}
