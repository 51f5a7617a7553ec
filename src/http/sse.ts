/**
 * The SSE stream (SPEC §4): a snapshot, then scoped RFC 7396 patches as
 * unnamed events, keep-alives, resume by `Last-Event-ID`, `minPeriod`
 * throttling and slow clients held to bounded memory.
 *
 * Fan-out path: the hub hands every session of a path the same update; its
 * frame is built once ({@link ScopedUpdate.frame}) and the same Buffer is
 * written to every socket. Frames due to a session in one event-loop turn go
 * out corked in one write. A session whose socket stops draining keeps one
 * composed patch instead of a queue. Keep-alive, stall checks and throttles
 * run on shared timers, none per connection.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html
 */

import type { ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { parseEventId } from '../core/event-id.js'
import type { Hub, ScopedUpdate } from '../core/hub.js'
import { composeEffects, type Effect } from '../core/merge-patch.js'
import type { TreePath } from '../core/path.js'
import type { Scheduler } from '../core/scheduler.js'
import { scopeEffect } from '../core/scope.js'
import type { StateTree } from '../core/state-tree.js'
import { TurnBatch } from '../core/turn-batch.js'
import { stallSweepMs } from '../options.js'
import { detachStream } from './detach.js'
import { chunk, SseSession } from './sse-session.js'

/** Options of the SSE transport. */
export interface SseOptions {
  /** Period of `event: keep-alive` frames, ms. Default 15000. */
  keepAliveMs: number
  /** A session whose socket has not drained for this long is closed, ms. Default 30000. */
  stallTimeoutMs: number
}

/** How a stream was asked for. */
export interface StreamRequest {
  path: TreePath
  /** The `Last-Event-ID` (or `?lastEventId=`) to resume from. */
  lastEventId?: string
  /** `?minPeriod=`: at most one event per this many ms after the snapshot; 0 = no throttle. */
  minPeriod: number
}

/** Response headers of every stream. */
export const SSE_HEADERS = Object.freeze({
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
})

const KEEP_ALIVE = Buffer.from('event: keep-alive\n\n')
const KEEP_ALIVE_CHUNK = chunk(KEEP_ALIVE)
const FRAME_RAW = 'sse'
const FRAME_CHUNKED = 'sse/chunked'

function detach(session: SseSession): void {
  if (session.res !== undefined && detachStream(session.res) !== undefined) session.res = undefined
}

/** Counters the metrics endpoint reads. */
export interface SseStats {
  eventsSent: number
  bytesSent: number
  coalesced: number
  stalledClosed: number
}

/** All SSE sessions of one app, with their shared timers. */
export class SseTransport {
  readonly stats: SseStats = { eventsSent: 0, bytesSent: 0, coalesced: 0, stalledClosed: 0 }
  private readonly sessions = new Set<SseSession>()
  private readonly congested = new Set<SseSession>()
  private readonly batch = new TurnBatch<SseSession>()
  private readonly keepAliveTimer: NodeJS.Timeout
  private readonly stallTimer: NodeJS.Timeout
  /** Build the session-independent frames of an update; one function each, no closure per event. */
  private readonly buildRaw: (update: ScopedUpdate) => Buffer
  private readonly buildChunked: (update: ScopedUpdate) => Buffer

  constructor(
    readonly tree: StateTree,
    private readonly hub: Hub,
    readonly scheduler: Scheduler,
    readonly options: SseOptions,
    readonly log: Logger,
  ) {
    this.buildRaw = (update) =>
      Buffer.from(`id: ${tree.idOf(update.rev)}\ndata: ${update.patchJson}\n\n`)
    this.buildChunked = (update) => chunk(update.frame(FRAME_RAW, this.buildRaw))
    this.keepAliveTimer = setInterval(() => this.keepAlive(), options.keepAliveMs)
    this.keepAliveTimer.unref()
    const sweep = stallSweepMs(options.stallTimeoutMs)
    this.stallTimer = setInterval(() => this.closeStalled(), sweep)
    this.stallTimer.unref()
  }

  /** Number of open streams. */
  get size(): number {
    return this.sessions.size
  }

  /** Bytes held for all streams: queued this turn plus what their sockets have not sent yet. */
  bufferedBytes(): number {
    let total = 0
    for (const session of this.sessions) total += session.buffered
    return total
  }

  /** The bytes of `update`'s event, built once per scope and transfer coding. */
  frameOf(update: ScopedUpdate, chunked: boolean): Buffer {
    return chunked
      ? update.frame(FRAME_CHUNKED, this.buildChunked)
      : update.frame(FRAME_RAW, this.buildRaw)
  }

  /** Opens a stream on `res`: headers, the snapshot or the resume, then live patches. */
  open(res: ServerResponse, request: StreamRequest): void {
    res.writeHead(200, { ...SSE_HEADERS, 'Access-Control-Allow-Origin': '*' })
    // The head goes out now; from here on the session writes framed bytes to the socket itself.
    res.flushHeaders()
    const socket = res.socket
    if (!socket || socket.destroyed) return
    socket.setNoDelay(true)
    const chunked = (res as ServerResponse & { chunkedEncoding?: boolean }).chunkedEncoding === true
    const session = new SseSession(this, res, socket, chunked, request.minPeriod)
    this.sessions.add(session)
    this.start(session, request)
    session.subscription = this.hub.subscribe(request.path, session)
    socket.on('drain', () => session.drained())
    socket.on('close', () => this.remove(session))
    // Detached once this request's parse has unwound: the HTTP server's per-request state
    // is of no use to a stream that never ends (./detach.ts).
    setImmediate(detach, session)
    this.log.debug(
      { path: request.path.segments, sessions: this.sessions.size },
      'sse stream opened',
    )
  }

  /** Ends every stream and stops the timers. */
  close(): void {
    clearInterval(this.keepAliveTimer)
    clearInterval(this.stallTimer)
    for (const session of this.sessions) {
      session.end()
      session.close()
    }
    this.sessions.clear()
  }

  /** Sends the first events of a session: resume when it can be honoured, else a snapshot. */
  private start(session: SseSession, request: StreamRequest): void {
    const tree = this.tree
    const current = tree.rev
    if (request.lastEventId !== undefined) {
      const from = parseEventId(request.lastEventId, tree.epoch)
      const missed = from === undefined ? undefined : tree.history.since(from, current)
      if (missed) {
        let effect: Effect | undefined
        for (const change of missed) {
          const scoped = scopeEffect(change.effect, request.path)
          if (scoped) effect = effect ? composeEffects(effect, scoped) : scoped
        }
        session.lastRev = current
        session.sendEvent(current, effect ? JSON.stringify(effect.patch) : undefined)
        return
      }
      // Not resumable: RFC 7396 `null` replaces whatever the client holds, then the snapshot.
      session.enqueueText('data: null\n\n')
    }
    session.lastRev = current
    session.sendEvent(current, JSON.stringify(tree.get(request.path) ?? null))
  }

  /** Queues `session` for the flush at the end of this event-loop turn. */
  markDirty(session: SseSession): void {
    this.batch.markDirty(session)
  }

  /** Called by a session whose socket stopped draining, or drained again. */
  setCongested(session: SseSession, congested: boolean): void {
    if (congested) this.congested.add(session)
    else this.congested.delete(session)
  }

  /** The frames due to a session this turn as one Buffer ({@link TurnBatch.joined}). */
  joined(frames: readonly Buffer[]): Buffer {
    return this.batch.joined(frames)
  }

  private keepAlive(): void {
    const withId = Buffer.from(`event: keep-alive\nid: ${this.tree.eventId}\n\n`)
    const withIdChunk = chunk(withId)
    for (const session of this.sessions) {
      if (session.congestedSince !== 0) continue
      // The id moves the client's resume point only when it has everything up to now.
      if (session.pending === undefined) {
        session.lastRev = this.tree.rev
        session.enqueue(session.chunked ? withIdChunk : withId)
      } else {
        session.enqueue(session.chunked ? KEEP_ALIVE_CHUNK : KEEP_ALIVE)
      }
    }
  }

  private closeStalled(): void {
    const limit = Date.now() - this.options.stallTimeoutMs
    for (const session of this.congested) {
      if (session.congestedSince > limit) continue
      this.stats.stalledClosed++
      this.log.info(
        { stalledMs: Date.now() - session.congestedSince },
        'closing stalled sse stream',
      )
      session.socket.destroy()
      this.remove(session)
    }
  }

  private remove(session: SseSession): void {
    if (!this.sessions.delete(session)) return
    this.congested.delete(session)
    session.close()
  }
}
