/**
 * The SSE stream (SPEC §4): a snapshot, then scoped RFC 7396 patches as
 * unnamed events, keep-alives, resume by `Last-Event-ID`, `minPeriod`
 * throttling and slow clients held to bounded memory.
 *
 * A stream is a connection of the shared writer (src/stream/) holding one
 * subscription. Fan-out path: the hub hands every subscription of a (path,
 * view) the same update; its frame is built once ({@link ScopedUpdate.frame})
 * and the same Buffer is written to every socket, frames due to a
 * connection in one turn in one write.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html
 */

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { parseEventId } from '../core/event-id.js'
import type { ScopedUpdate } from '../core/hub.js'
import type { TreePath } from '../core/path.js'
import { RevisionWaits } from '../core/revision-wait.js'
import type { StateTree } from '../core/state-tree.js'
import { FULL_VIEW, readThrough, type View } from '../core/view.js'
import type { Principal } from '../security/principal.js'
import type { StreamStats } from '../stream/connection.js'
import type { Streams } from '../stream/streams.js'
import { chunk, type KeepAliveFrames, SseConnection } from './sse-connection.js'
import { SseSubscription } from './sse-subscription.js'

/** How a stream was asked for. */
export interface StreamRequest {
  path: TreePath
  /** The `Last-Event-ID` (or `?lastEventId=`) to resume from. */
  lastEventId?: string
  /** `?minPeriod=`: at most one event per this many ms after the snapshot; 0 = no throttle. */
  minPeriod: number
  /** Who reads: its view, and when its token expires (the stream ends then). Default: everyone, everything. */
  principal?: Principal
}

/** Options of the SSE transport. */
export interface SseOptions {
  /** Take streams out of node's HTTP server once their head is out (./detach.ts). Default true. */
  detachStreams: boolean
  /** How long a resume from an id this tree has not reached yet waits for it, ms (0: reset at once). */
  resumeWaitMs: number
}

/** Response headers of every stream. */
export const SSE_HEADERS = Object.freeze({
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
})

const FRAME_RAW = 'sse'
const FRAME_CHUNKED = 'sse/chunked'

/**
 * Sockets that carry a stream: a request pipelined behind a stream on the
 * same connection could never be answered (the stream's response never
 * ends), so it is not executed either.
 */
const streamSockets = new WeakMap<object, number>()
/** Requests ignored behind a stream before its connection is closed (a client flooding it). */
const MAX_IGNORED = 8

/**
 * True when `req` came pipelined behind a stream on its connection: the
 * caller must leave it unexecuted. A connection that keeps pipelining is closed.
 */
export function behindStream(req: IncomingMessage): boolean {
  const ignored = streamSockets.get(req.socket)
  if (ignored === undefined) return false
  streamSockets.set(req.socket, ignored + 1)
  if (ignored + 1 > MAX_IGNORED) req.socket.destroy()
  else req.resume()
  return true
}

/**
 * Writes the head of an event stream on `res` (SPEC §4 headers, the
 * transfer coding stated explicitly: chunked on HTTP/1.1, raw bytes on
 * HTTP/1.0) and calls `start` with the socket, marked as carrying a stream
 * ({@link behindStream}). A request pipelined behind another one gets its
 * socket when the previous answer is done: node then sends the head, and
 * what `start` queues is written at the end of that turn, after it. Every
 * event-stream protocol (SSE, fleet telemetry) opens through here.
 */
export function openEventStream(
  req: IncomingMessage,
  res: ServerResponse,
  start: (socket: Socket, chunked: boolean) => void,
): void {
  const chunked =
    req.httpVersionMajor > 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1)
  streamSockets.set(req.socket, 0)
  const headers: Record<string, string> = { ...SSE_HEADERS, 'Access-Control-Allow-Origin': '*' }
  if (chunked) headers['Transfer-Encoding'] = 'chunked'
  res.writeHead(200, headers)
  // The head goes out now; from here on the connection writes framed bytes to the socket itself.
  res.flushHeaders()
  const socket = res.socket
  if (socket) start(socket, chunked)
  else res.once('socket', (assigned: Socket) => start(assigned, chunked))
}

/** The SSE streams of one app. */
export class SseTransport {
  readonly stats: StreamStats = { eventsSent: 0, bytesSent: 0, coalesced: 0, stalledClosed: 0 }
  private readonly tree: StateTree
  /** Resumes waiting for a revision this replica has not reached yet. */
  private readonly waits: RevisionWaits
  private keepAliveCache: KeepAliveFrames | undefined
  /** Build the connection-independent frames of an update; one function each, no closure per event. */
  private readonly buildRaw: (update: ScopedUpdate) => Buffer
  private readonly buildChunked: (update: ScopedUpdate) => Buffer

  constructor(
    private readonly streams: Streams,
    private readonly options: SseOptions,
  ) {
    const tree = streams.tree
    this.tree = tree
    this.waits = new RevisionWaits(tree, streams.scheduler, (err) =>
      streams.log.error({ err }, 'opening a stream after its wait failed'),
    )
    this.buildRaw = (update) =>
      Buffer.from(`id: ${tree.idOf(update.rev)}\ndata: ${update.patchJson}\n\n`)
    this.buildChunked = (update) => chunk(update.frame(FRAME_RAW, this.buildRaw))
  }

  /** Number of open streams. */
  get size(): number {
    return this.streams.count('sse')
  }

  /** Bytes held for all streams: queued this turn plus what their sockets have not sent yet. */
  bufferedBytes(): number {
    return this.streams.bufferedBytes('sse')
  }

  /** The bytes of `update`'s event, built once per (scope, view) and transfer coding. */
  frameOf(update: ScopedUpdate, chunked: boolean): Buffer {
    return chunked
      ? update.frame(FRAME_CHUNKED, this.buildChunked)
      : update.frame(FRAME_RAW, this.buildRaw)
  }

  /** The event id of `rev`. */
  idOf(rev: number): string {
    return this.tree.idOf(rev)
  }

  /** The keep-alive frames with the current event id, built once per revision. */
  keepAliveFrames(): KeepAliveFrames {
    const rev = this.tree.rev
    let frames = this.keepAliveCache
    if (frames === undefined || frames.rev !== rev) {
      const raw = Buffer.from(`event: keep-alive\nid: ${this.tree.idOf(rev)}\n\n`)
      frames = { rev, raw, chunked: chunk(raw) }
      this.keepAliveCache = frames
    }
    return frames
  }

  /**
   * Opens a stream on `res`: the head ({@link openEventStream}), then the
   * snapshot or the resume, then live patches.
   */
  open(req: IncomingMessage, res: ServerResponse, request: StreamRequest): void {
    const open = () =>
      this.connect(req, res, request.principal, (connection) => this.follow(connection, request))
    // An id of this epoch this replica has not reached yet: the client comes from a node ahead
    // of this one (SPEC §9); its resume waits for the id rather than getting a reset.
    const ahead =
      request.lastEventId === undefined
        ? undefined
        : parseEventId(request.lastEventId, this.tree.epoch)
    if (ahead === undefined || ahead <= this.tree.rev || this.options.resumeWaitMs <= 0) {
      open()
      return
    }
    const cancel = this.waits.wait(ahead, this.options.resumeWaitMs, () => {
      res.off('close', cancel)
      if (!res.destroyed) open()
    })
    res.on('close', cancel)
  }

  /**
   * Opens an event stream on `res` ({@link openEventStream}) and calls
   * `then` with its connection, registered with the app's streams, to queue
   * its first events; nothing is called when the client is gone. A playback
   * (./sse-playback.ts) opens through here too.
   */
  connect(
    req: IncomingMessage,
    res: ServerResponse,
    principal: Principal | undefined,
    then: (connection: SseConnection) => void,
  ): void {
    openEventStream(req, res, (socket, chunked) => {
      if (socket.destroyed) return
      socket.setNoDelay(true)
      const connection = new SseConnection(this.streams, socket, this, res, chunked)
      connection.principal = principal
      this.streams.add(connection)
      closeWithSocket(socket, connection)
      then(connection)
      if (this.options.detachStreams) setImmediate(detachLater, connection)
    })
  }

  /**
   * Subscribes `connection` to the changes of `request.path` from now on:
   * first the resume from `request.lastEventId` when it can be honoured,
   * else a snapshot (after a reset when asked to resume), then live
   * patches. A playback that reaches the present goes on through here.
   */
  follow(connection: SseConnection, request: StreamRequest): void {
    const view = request.principal?.view ?? FULL_VIEW
    const subscription = new SseSubscription(
      connection,
      request.path,
      view,
      this,
      request.minPeriod,
    )
    connection.add(subscription)
    this.first(subscription, request, view)
    subscription.listen()
    this.streams.log.debug({ path: request.path.segments, streams: this.size }, 'sse stream opened')
  }

  /** The first events: the resume when it can be honoured, else a snapshot (after a reset when asked to resume). */
  private first(subscription: SseSubscription, request: StreamRequest, view: View): void {
    const tree = this.tree
    const current = tree.rev
    if (request.lastEventId !== undefined) {
      const from = parseEventId(request.lastEventId, tree.epoch)
      const missed =
        from === undefined
          ? undefined
          : tree.history.catchUp(
              request.path,
              from,
              current,
              view.key,
              view.full ? undefined : (e) => view.scope(request.path, e),
            )
      if (missed !== undefined) {
        subscription.sendEvent(current, missed === null ? undefined : JSON.stringify(missed.patch))
        return
      }
      // Not resumable: RFC 7396 `null` replaces whatever the client holds, then the snapshot.
      ;(subscription.connection as SseConnection).sendText('data: null\n\n')
    }
    subscription.sendEvent(current, JSON.stringify(readThrough(tree, request.path, view) ?? null))
  }
}

/**
 * Closes `connection` when `socket` closes. A function of its own so that
 * the listener's closure holds the connection alone: made inside
 * `connect`, its context would keep that request's `req` and `res` alive as
 * long as the stream, which is what detaching them is for (./detach.ts;
 * bench d, ~3 KiB a stream).
 */
function closeWithSocket(socket: Socket, connection: SseConnection): void {
  socket.on('close', () => connection.close())
}

function detachLater(connection: SseConnection): void {
  connection.detach()
}
