/**
 * SSE playback (SPEC §9): `GET /signalk/v1/api/<path>?startTime=<ISO>&playbackRate=<x>`
 * with `Accept: text/event-stream` is the §4 stream of that path as it was
 * from `startTime` on — first the subtree at that moment, then the
 * recorded changes scoped to the path at the recorded pace × the rate —
 * and, once it reaches the present, the live stream. Event ids are the
 * usual `<epoch>.<revision>` ids throughout, so the invariant holds against
 * the snapshot API at each event's revision, and a client that reconnects
 * with `Last-Event-ID` resumes: the playback where it was, or the live
 * stream once it got there; an id from before `startTime` gets one patch
 * with what it missed up to then (when the resume history still holds it),
 * then the playback.
 *
 * It is a connection of the SSE transport (./sse.ts) holding a
 * {@link Playback} subscription (src/stream/playback.ts) in place of the
 * live one until it catches up.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { parseEventId } from '../core/event-id.js'
import { composeEffects, type Effect } from '../core/merge-patch.js'
import { readPath, type TreePath } from '../core/path.js'
import { monotonicNow } from '../core/scheduler.js'
import { scopeEffect } from '../core/scope.js'
import type { StateTree } from '../core/state-tree.js'
import type { View } from '../core/view.js'
import type { PastChange, PastState } from '../journal/time-travel.js'
import type { Principal } from '../security/principal.js'
import { Playback, type PlaybackStart, prunedRoot } from '../stream/playback.js'
import type { SseTransport } from './sse.js'
import type { SseConnection } from './sse-connection.js'
import { parseRate, parseTime, type TimeTravelGate } from './time-query.js'

/** How a playback stream was asked for. */
export interface PlaybackRequest {
  path: TreePath
  /** `?startTime=` as given. */
  startTime: unknown
  /** `?playbackRate=` as given (default 1). */
  playbackRate: unknown
  /** `Last-Event-ID` (or `?lastEventId=`): a reconnecting client's revision. */
  lastEventId?: string
  /** `?minPeriod=`, applied once the stream is live. */
  minPeriod: number
  principal: Principal
}

/** The SSE playbacks of one app. */
export class SsePlayback {
  constructor(
    private readonly sse: SseTransport,
    private readonly tree: StateTree,
    private readonly gate: TimeTravelGate,
  ) {}

  /**
   * Opens a playback on `res`. Everything that can be refused is refused
   * before the stream's head goes out: a bad or future `startTime` or a bad
   * `playbackRate` (400), no journal (501), a time before the retained
   * history (404), too much time travel at once (429).
   */
  async open(req: IncomingMessage, res: ServerResponse, request: PlaybackRequest): Promise<void> {
    const startTime = parseTime(request.startTime, 'startTime')
    const rate = parseRate(request.playbackRate)
    const journal = this.gate.journal()
    this.gate.checkRetained(journal, startTime)
    const release = this.gate.acquire()
    const socket = req.socket
    socket.once('close', release)
    let past: PastState
    try {
      past = await this.gate.stateAt(journal, startTime)
    } catch (err) {
      // The connection may carry further requests: leave no listener behind on it.
      socket.removeListener('close', release)
      release()
      throw err
    }
    if (socket.destroyed) {
      release()
      return
    }
    const { path, principal } = request
    const view = principal.view
    const base = path.starAt < 0 ? path.segments : path.segments.slice(0, path.starAt)
    const root = prunedRoot(past.root, base)
    const resumeAt = this.resumePoint(request.lastEventId, past.rev)
    const missed =
      resumeAt === undefined && request.lastEventId !== undefined
        ? missedUpTo(this.tree, request.lastEventId, path, view, past.rev)
        : undefined
    const start: PlaybackStart = {
      journal,
      startTime,
      rate,
      root,
      rev: past.rev,
      resumeAt,
      release,
    }
    this.sse.connect(req, res, principal, (connection) => {
      const playback = new SsePlaybackSubscription(connection, path, view, start, this.sse, request)
      connection.add(playback)
      const id = this.sse.idOf(past.rev)
      if (missed !== undefined) {
        // One patch with all the client missed up to startTime (SPEC §4 resume); none, a keep-alive.
        connection.sendEvent(id, missed === null ? undefined : JSON.stringify(missed.patch))
      } else if (resumeAt === undefined) {
        // A resume that cannot be honoured: RFC 7396 `null` replaces what the client holds.
        if (request.lastEventId !== undefined) connection.sendText('data: null\n\n')
        const doc = readPath(root, path)
        const value = view.full ? doc : view.read(path, doc)
        connection.sendEvent(id, JSON.stringify(value ?? null))
      }
      playback.play()
    })
  }

  /**
   * The revision a reconnecting client holds, when the playback can go on
   * from it: an id of this epoch, not before the playback's start, not
   * past the present.
   */
  private resumePoint(lastEventId: string | undefined, startRev: number): number | undefined {
    if (lastEventId === undefined) return undefined
    const tree = this.tree
    const rev = parseEventId(lastEventId, tree.epoch)
    return rev !== undefined && rev >= startRev && rev <= tree.rev ? rev : undefined
  }
}

/**
 * What a client holding an id from before the playback's start revision
 * `to` missed up to it, scoped to `path` as `view` sees it, from the tree's
 * resume history: null when nothing touched the path, undefined when the
 * history no longer reaches back to the id (the client gets a reset).
 */
function missedUpTo(
  tree: StateTree,
  lastEventId: string,
  path: TreePath,
  view: View,
  to: number,
): Effect | null | undefined {
  const from = parseEventId(lastEventId, tree.epoch)
  if (from === undefined || from > to) return undefined
  const changes = tree.history.since(from, tree.rev)
  if (changes === undefined) return undefined
  let missed: Effect | undefined
  for (const change of changes) {
    if (change.rev > to) break
    let scoped = scopeEffect(change.effect, path)
    if (scoped !== undefined && !view.full) scoped = view.scope(path, scoped)
    if (scoped !== undefined)
      missed = missed === undefined ? scoped : composeEffects(missed, scoped)
  }
  return missed ?? null
}

/**
 * The playback of one SSE stream: scoped patches, then the live stream.
 * `minPeriod` holds here too: changes due within a period are composed
 * into one patch (src/core/merge-patch.ts `composeEffects`), as a live
 * stream does.
 */
class SsePlaybackSubscription extends Playback {
  /** Changes held back by `minPeriod`, composed into one, and the revision they bring the client to. */
  private pending: Effect | undefined
  private pendingRev = 0

  constructor(
    private readonly sse: SseConnection,
    path: TreePath,
    view: View,
    start: PlaybackStart,
    private readonly transport: SseTransport,
    private readonly request: PlaybackRequest,
  ) {
    super(sse, path, view, start)
    // The first event (snapshot or resume) goes out now: the period starts with it.
    if (request.minPeriod > 0) this.nextAt = monotonicNow() + request.minPeriod
  }

  protected emit(change: PastChange, effect: Effect): void {
    let scoped = scopeEffect(effect, this.path)
    if (scoped !== undefined && !this.view.full) scoped = this.view.scope(this.path, scoped)
    if (scoped === undefined) return
    const minPeriod = this.request.minPeriod
    if (minPeriod > 0) {
      const now = monotonicNow()
      if (this.pending !== undefined || now < this.nextAt) {
        if (this.pending !== undefined) this.sse.stats.coalesced++
        this.pending = this.pending === undefined ? scoped : composeEffects(this.pending, scoped)
        this.pendingRev = change.rev
        return
      }
      this.nextAt = now + minPeriod
    }
    this.sse.sendEvent(this.transport.idOf(change.rev), JSON.stringify(scoped.patch))
  }

  protected override heldDue(): number | undefined {
    if (this.request.minPeriod === 0) return undefined
    return this.pending !== undefined || monotonicNow() < this.nextAt ? this.nextAt : undefined
  }

  protected override sendHeld(): void {
    const pending = this.pending
    if (pending === undefined) return
    this.pending = undefined
    this.nextAt = monotonicNow() + this.request.minPeriod
    this.sse.sendEvent(this.transport.idOf(this.pendingRev), JSON.stringify(pending.patch))
  }

  protected caughtUp(): boolean {
    const connection = this.sse
    const from = this.transport.idOf(this.sentRev)
    // Closing this subscription lets go of the past tree and the time-travel slot.
    connection.remove(this)
    const { path, minPeriod, principal } = this.request
    this.transport.follow(connection, { path, lastEventId: from, minPeriod, principal })
    return true
  }
}
