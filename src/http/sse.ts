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
import type { Hub, ScopedUpdate, Subscriber, Subscription } from '../core/hub.js'
import { composeEffects, type Effect } from '../core/merge-patch.js'
import type { TreePath } from '../core/path.js'
import type { Scheduler, Task } from '../core/scheduler.js'
import { scopeEffect } from '../core/scope.js'
import type { StateTree } from '../core/state-tree.js'

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
const FRAME_KIND = 'sse'

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
  private dirty: SseSession[] = []
  private flushQueued = false
  private readonly keepAliveTimer: NodeJS.Timeout
  private readonly stallTimer: NodeJS.Timeout
  /** Builds a session-independent frame for an update; one function, no closure per event. */
  readonly buildFrame: (update: ScopedUpdate) => Buffer

  constructor(
    readonly tree: StateTree,
    private readonly hub: Hub,
    readonly scheduler: Scheduler,
    readonly options: SseOptions,
    readonly log: Logger,
  ) {
    this.buildFrame = (update) =>
      Buffer.from(`id: ${tree.idOf(update.rev)}\ndata: ${update.patchJson}\n\n`)
    this.keepAliveTimer = setInterval(() => this.keepAlive(), options.keepAliveMs)
    this.keepAliveTimer.unref()
    const sweep = Math.min(1000, Math.max(10, Math.floor(options.stallTimeoutMs / 4)))
    this.stallTimer = setInterval(() => this.closeStalled(), sweep)
    this.stallTimer.unref()
  }

  /** Number of open streams. */
  get size(): number {
    return this.sessions.size
  }

  /** Opens a stream on `res`: headers, the snapshot or the resume, then live patches. */
  open(res: ServerResponse, request: StreamRequest): void {
    res.writeHead(200, { ...SSE_HEADERS, 'Access-Control-Allow-Origin': '*' })
    res.socket?.setNoDelay(true)
    const session = new SseSession(this, res, request.minPeriod)
    this.sessions.add(session)
    this.start(session, request)
    session.subscription = this.hub.subscribe(request.path, session)
    res.on('drain', () => session.drained())
    res.on('close', () => this.remove(session))
    this.log.debug(
      { path: request.path.segments, sessions: this.sessions.size },
      'sse stream opened',
    )
  }

  /** Ends every stream and stops the timers. */
  close(): void {
    clearInterval(this.keepAliveTimer)
    clearInterval(this.stallTimer)
    for (const session of this.sessions) session.res.end()
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
      session.enqueue(Buffer.from('data: null\n\n'))
    }
    session.lastRev = current
    session.sendEvent(current, JSON.stringify(tree.get(request.path) ?? null))
  }

  /** Queues `session` for the flush at the end of this event-loop turn. */
  markDirty(session: SseSession): void {
    this.dirty.push(session)
    if (this.flushQueued) return
    this.flushQueued = true
    setImmediate(() => this.flush())
  }

  /** Called by a session whose socket stopped draining, or drained again. */
  setCongested(session: SseSession, congested: boolean): void {
    if (congested) this.congested.add(session)
    else this.congested.delete(session)
  }

  private flush(): void {
    this.flushQueued = false
    const dirty = this.dirty
    this.dirty = []
    for (const session of dirty) session.flush()
  }

  private keepAlive(): void {
    const withId = Buffer.from(`event: keep-alive\nid: ${this.tree.eventId}\n\n`)
    for (const session of this.sessions) {
      if (session.congestedSince !== 0) continue
      // The id moves the client's resume point only when it has everything up to now.
      if (session.pending === undefined) {
        session.lastRev = this.tree.rev
        session.enqueue(withId)
      } else {
        session.enqueue(KEEP_ALIVE)
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
      session.res.destroy()
      this.remove(session)
    }
  }

  private remove(session: SseSession): void {
    if (!this.sessions.delete(session)) return
    this.congested.delete(session)
    session.close()
  }
}

/** One open stream. */
class SseSession implements Subscriber, Task {
  subscription: Subscription | undefined
  /** Revision of the last event sent (or queued). */
  lastRev = 0
  /** Changes held back (throttled or congested), composed into one. */
  pending: Effect | undefined
  private pendingRev = 0
  private nextAt = 0
  private scheduled = false
  /** When the socket stopped draining (epoch ms), 0 when it drains. */
  congestedSince = 0
  private readonly queued: Buffer[] = []
  private closed = false

  constructor(
    private readonly transport: SseTransport,
    readonly res: ServerResponse,
    private readonly minPeriod: number,
  ) {}

  deliver(update: ScopedUpdate): void {
    if (this.pending !== undefined || this.congestedSince !== 0) {
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
    this.enqueue(update.frame(FRAME_KIND, this.transport.buildFrame))
  }

  /** Queues an event: `id:` always, `data:` when there is one. */
  sendEvent(rev: number, data: string | undefined): void {
    const id = this.transport.tree.idOf(rev)
    if (this.minPeriod > 0) this.nextAt = Date.now() + this.minPeriod
    this.enqueue(
      Buffer.from(
        data === undefined ? `event: keep-alive\nid: ${id}\n\n` : `id: ${id}\ndata: ${data}\n\n`,
      ),
    )
  }

  enqueue(frame: Buffer): void {
    if (this.closed) return
    this.queued.push(frame)
    if (this.queued.length === 1) this.transport.markDirty(this)
  }

  /** Writes everything queued in one corked batch. */
  flush(): void {
    const queued = this.queued
    if (this.closed || queued.length === 0) return
    const socket = this.res.socket
    const stats = this.transport.stats
    socket?.cork()
    let ok = true
    for (const frame of queued) {
      ok = this.res.write(frame)
      stats.bytesSent += frame.length
    }
    stats.eventsSent += queued.length
    queued.length = 0
    socket?.uncork()
    if (!ok && this.congestedSince === 0) {
      this.congestedSince = Date.now()
      this.transport.setCongested(this, true)
    }
  }

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

  close(): void {
    this.closed = true
    this.queued.length = 0
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
