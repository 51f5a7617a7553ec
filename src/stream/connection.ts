/**
 * One stream connection, whatever its protocol (SSE, the Signal K
 * WebSocket, later the fleet telemetry stream): the socket, the frames
 * queued this event-loop turn and their one `write` at the end of the turn
 * (src/core/turn-batch.ts), congestion, the byte bound, the subscriptions it
 * holds, and its end. What a subscription is (a path, a view, what it holds
 * back, its throttle) lives in ./subscriber.ts; framing and keep-alive
 * live in the protocol's subclass.
 *
 * Congestion: when the socket has `highWaterBytes` or more it has not sent
 * (or this turn queued that much), the connection is congested: its
 * subscriptions hold changes back, composed, and its peer's messages are no
 * longer read; when the socket drains, the subscriptions send what they
 * hold and reading resumes. So a client that never reads costs at most
 * `maxConnectionBytes`: past that it is closed (it reconnects and resumes).
 */
import type { Duplex } from 'node:stream'
import { Errors, KeelsonError } from '../core/errors.js'
import { monotonicNow } from '../core/scheduler.js'
import { runFlushBarriers } from '../core/turn-batch.js'
import type { Principal } from '../security/principal.js'
import type { Streams } from './streams.js'
import type { StreamSubscriber } from './subscriber.js'

/** Why a stream is ended by the server. */
export type EndReason = 'shutdown' | 'expired' | 'revoked'

/** Limits of one connection (from the app's options, src/options.ts). */
export interface ConnectionLimits {
  /** Unsent bytes at which the connection counts as congested. */
  highWaterBytes: number
  /** Unsent bytes past which the connection is closed. */
  maxConnectionBytes: number
  /** Subscriptions one connection may hold. */
  maxSubscriptions: number
}

/** Counters of one protocol, read by `/metrics`. */
export interface StreamStats {
  eventsSent: number
  bytesSent: number
  /** Changes held back and folded into a pending one instead of sent on their own. */
  coalesced: number
  /** Connections closed because their socket stopped draining (or passed the byte bound). */
  stalledClosed: number
}

/** A connection of one protocol; subclasses frame messages and keep the connection alive. */
export abstract class Connection {
  /** When the socket stopped draining ({@link monotonicNow} ms); meaningless while {@link draining}. */
  congestedSince = 0
  /** False while the socket holds `highWaterBytes` or more unsent, until it drains. */
  draining = true
  /**
   * The subscriptions this connection holds (an array: most connections
   * hold one, and an array of one costs far less than a Set, bench g).
   */
  readonly subscriptions: StreamSubscriber[] = []
  /**
   * Who the connection acts for (SPEC §8): the registry ends it when its
   * token expires or its user is removed. Undefined: nobody in particular.
   */
  principal: Principal | undefined
  /** Which of the registry's keep-alive slots serves it (src/stream/streams.ts). */
  keepAliveSlot = 0
  private readonly queued: Buffer[] = []
  private queuedBytes = 0
  private queuedMessages = 0
  private dirty = false
  /** Some subscription held back because this turn's queue was full: resume them after the flush. */
  private heldForQueue = false
  private closedFlag = false
  /** The 'drain' listener, made when the connection first congests (most never do). */
  private onDrain: (() => void) | undefined

  constructor(
    readonly streams: Streams,
    readonly socket: Duplex,
    readonly stats: StreamStats,
  ) {}

  /** The protocol's name, for logs and metrics (`sse`, `ws`, ...). */
  abstract get protocol(): string

  /** Called on the shared keep-alive tick (SSE keep-alive event, WebSocket ping). */
  abstract keepAlive(): void

  /**
   * Ends the stream gracefully: the server shuts down, or the principal's
   * token expired or its user was removed (the client logs in again and
   * resumes). Then {@link close}.
   */
  abstract end(why?: EndReason): void

  /** Stops reading the peer's messages while congested (protocols that read). */
  protected pauseReading(): void {}

  /** Reads the peer's messages again. */
  protected resumeReading(): void {}

  /** True once the connection is closed: nothing more is queued or sent. */
  get closed(): boolean {
    return this.closedFlag
  }

  /** True while changes must be held back: the socket is not draining, or this turn's queue is full. */
  get congested(): boolean {
    if (!this.draining) return true
    if (this.queuedBytes < this.streams.limits.highWaterBytes) return false
    this.heldForQueue = true
    return true
  }

  /** Bytes held for this connection: queued this turn plus unsent in the socket. */
  get buffered(): number {
    return this.queuedBytes + this.socket.writableLength
  }

  /** Adds a subscription; throws `TOO_MANY_SUBSCRIPTIONS` when the connection holds its limit. */
  add(subscription: StreamSubscriber): void {
    if (this.subscriptions.length >= this.streams.limits.maxSubscriptions) {
      throw new KeelsonError(
        Errors.TOO_MANY_SUBSCRIPTIONS,
        `A connection may hold ${this.streams.limits.maxSubscriptions} subscriptions`,
      )
    }
    this.subscriptions.push(subscription)
  }

  /** Removes and closes a subscription. */
  remove(subscription: StreamSubscriber): void {
    const at = this.subscriptions.indexOf(subscription)
    if (at < 0) return
    this.subscriptions.splice(at, 1)
    subscription.close()
  }

  /**
   * Queues framed bytes (`messages` messages) for the write at the end of
   * this turn. A connection past its byte bound is closed instead.
   */
  send(frame: Buffer, messages = 1): void {
    if (this.closedFlag) return
    const limits = this.streams.limits
    // While draining the socket holds under a high-water mark (flush() judged it), so the
    // bound can only be passed when this queue is near it: the socket is not read per frame.
    const held =
      this.draining &&
      this.queuedBytes + frame.length + limits.highWaterBytes <= limits.maxConnectionBytes
        ? 0
        : this.buffered
    if (held > 0 && held + frame.length > limits.maxConnectionBytes) {
      this.streams.log.info(
        { protocol: this.protocol, bytes: held + frame.length },
        'closing a stream past its byte bound',
      )
      this.stats.stalledClosed++
      this.destroy()
      return
    }
    this.queued.push(frame)
    this.queuedBytes += frame.length
    this.queuedMessages += messages
    // A turn that queued a high-water mark's worth writes it at once: the socket tells
    // whether the peer keeps up, and this turn's queue stays bounded.
    if (this.queuedBytes >= limits.highWaterBytes) {
      // Outside the turn batch: the journal's barrier first (SPEC §9, no frame before its fsync).
      runFlushBarriers()
      this.flush()
      return
    }
    if (!this.dirty) {
      this.dirty = true
      this.streams.markDirty(this)
    }
  }

  /** Writes everything queued in one `write`; called by the turn batch. */
  flush(): void {
    this.dirty = false
    const queued = this.queued
    if (queued.length === 0) return
    const socket = this.socket
    if (!this.closedFlag && !socket.destroyed && this.writable()) {
      const batch = queued.length === 1 ? queued[0]! : this.streams.joined(queued)
      socket.write(batch)
      this.stats.bytesSent += batch.length
      this.stats.eventsSent += this.queuedMessages
    }
    queued.length = 0
    this.queuedBytes = 0
    this.queuedMessages = 0
    if (this.closedFlag) return
    // Judged by what the kernel left queued, not by write()'s return: a large batch the
    // kernel takes whole is not congestion. With bytes left over, the socket emits 'drain'.
    if (this.draining && socket.writableLength >= this.streams.limits.highWaterBytes) {
      this.draining = false
      this.congestedSince = monotonicNow()
      this.streams.setCongested(this, true)
      this.onDrain ??= () => this.drained()
      socket.once('drain', this.onDrain)
      this.pauseReading()
    } else if (this.heldForQueue && this.draining) {
      this.heldForQueue = false
      this.resumeSubscriptions()
    }
  }

  /** Whether bytes may go to the socket now (a WebSocket after its close frame may not). */
  protected writable(): boolean {
    return true
  }

  /** The socket drained: reading resumes and the subscriptions send what they held. */
  private drained(): void {
    if (this.draining || this.closedFlag) return
    this.draining = true
    this.heldForQueue = false
    this.streams.setCongested(this, false)
    this.resumeReading()
    this.resumeSubscriptions()
  }

  private resumeSubscriptions(): void {
    for (const subscription of this.subscriptions) subscription.resume()
  }

  /** True when some subscription holds changes back (a keep-alive must not move the resume point). */
  get holding(): boolean {
    for (const subscription of this.subscriptions) if (subscription.holding) return true
    return false
  }

  /** Aborts the connection at once (stalled, over its bound): the socket is destroyed. */
  destroy(): void {
    this.socket.destroy()
    this.close()
  }

  /** Forgets everything: subscriptions closed, queue dropped, out of the registry. Idempotent. */
  close(): void {
    if (this.closedFlag) return
    this.closedFlag = true
    this.queued.length = 0
    this.queuedBytes = 0
    this.queuedMessages = 0
    if (this.onDrain !== undefined) this.socket.removeListener('drain', this.onDrain)
    for (const subscription of this.subscriptions) subscription.close()
    this.subscriptions.length = 0
    this.streams.remove(this)
  }
}
