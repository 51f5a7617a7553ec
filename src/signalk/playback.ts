/**
 * The Signal K WebSocket playback `/signalk/v1/playback` (SPEC §9), as
 * signalk-server serves it with a history provider:
 * `?startTime=<ISO>&playbackRate=<x>&subscribe=self|all|none`. The hello
 * carries `startTime` and `playbackRate` (hello.json), then the values at
 * `startTime` (unless `sendCachedValues=false`), then the recorded changes
 * as Signal K deltas at the recorded pace × the rate, each leaf with its
 * recorded `timestamp` (the record's time when it had none). Once it has
 * played everything recorded and its clock has reached the present, it
 * goes on with the changes as they happen, as a signalk-server playback
 * does once its provider has caught up. A playback takes no messages from the
 * client: `{}` keep-alives are ignored, anything else gets an error
 * message and the connection stays open.
 *
 * Refusals are HTTP statuses on the upgrade (ws's abortHandshake): a bad,
 * missing or future `startTime` or a bad `playbackRate` 400, no journal
 * 501, a time before the retained history 404, too much time travel at
 * once 429.
 *
 * The client is a connection of the shared stream writer (src/stream/):
 * frames are built here and written by it, with its congestion, byte bound
 * and stall sweep; the replay is a {@link Playback} (src/stream/playback.ts).
 *
 * @see https://signalk.org/specification/1.7.0/doc/streaming_api.html
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { type WebSocket, WebSocketServer } from 'ws'
import { Errors, KeelsonError } from '../core/errors.js'
import { isObject, type Json, type JsonObject } from '../core/json.js'
import type { Effect } from '../core/merge-patch.js'
import { getAt, pathOf, readPath, type TreePath } from '../core/path.js'
import { scopeEffect } from '../core/scope.js'
import { parseJson } from '../core/validate.js'
import type { View } from '../core/view.js'
import { parseRate, parseTime, type TimeTravelGate } from '../http/time-query.js'
import type { PastChange, PastState, TimeTravel } from '../journal/time-travel.js'
import type { Principal, PrincipalOf } from '../security/principal.js'
import { Playback, type PlaybackStart, prunedRoot } from '../stream/playback.js'
import type { Streams } from '../stream/streams.js'
import { WsConnection } from '../stream/ws-connection.js'
import { SIGNALK_SERVER_VERSION } from '../version.js'
import { type DeltaClient, StreamSubscription } from './subscription.js'
import { type DeltaFrame, type DeltaItem, itemsAt, itemsOf, toDeltas } from './to-delta.js'
import type { SignalKStats } from './ws-client.js'
import { textFrame, textFrames } from './ws-frame.js'
import { abortUpgrade } from './ws-transport.js'

/** The path of the Signal K playback stream. */
export const PLAYBACK_PATH = '/signalk/v1/playback'

/** Options of {@link SignalKPlayback}. */
export interface SignalKPlaybackOptions {
  /** Largest message accepted, bytes; a larger one closes the connection with 1009. */
  maxBodyBytes: number
  /** Who a client of this upgrade request acts for (SPEC §8); throws (or rejects) 401 for a bad token. */
  principalOf: PrincipalOf
  /** The counters it shares with the live Signal K stream (`/metrics`, protocol `ws`). */
  stats: SignalKStats
}

/** A playback as asked for in the upgrade's query. */
interface PlaybackQuery {
  startTime: number
  rate: number
  subscribe: 'self' | 'all' | 'none'
  sendCachedValues: boolean
  journal: TimeTravel
}

/** The query of an upgrade URL, or undefined when the URL is not the playback's. */
function playbackQuery(url: string): URLSearchParams | undefined {
  const q = url.indexOf('?')
  const pathname = q < 0 ? url : url.slice(0, q)
  if (pathname !== PLAYBACK_PATH && pathname !== `${PLAYBACK_PATH}/`) return undefined
  return new URLSearchParams(q < 0 ? '' : url.slice(q + 1))
}

/** All Signal K playback clients of one app. */
export class SignalKPlayback {
  private readonly wss: WebSocketServer

  constructor(
    private readonly streams: Streams,
    private readonly gate: TimeTravelGate,
    private readonly options: SignalKPlaybackOptions,
  ) {
    // No compression: frames are built here and written as they are.
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxBodyBytes,
      perMessageDeflate: false,
    })
  }

  /**
   * Takes the upgrade when it is for {@link PLAYBACK_PATH}; returns false
   * otherwise. Every refusal is an HTTP status on the socket. Never throws.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const query = playbackQuery(req.url ?? '/')
    if (query === undefined) return false
    const refuse = (err: unknown): void => {
      if (!(err instanceof KeelsonError)) this.streams.log.error({ err }, 'playback upgrade failed')
      abortUpgrade(socket, err instanceof KeelsonError ? err : new KeelsonError(Errors.INTERNAL))
    }
    // Who asks first: nothing about the history is told to a client that may not read it.
    const open = async (who: Principal): Promise<void> =>
      this.open(req, socket, head, who, this.parse(query))
    try {
      const principal = this.options.principalOf(req)
      if (principal instanceof Promise) principal.then(open).catch(refuse)
      else open(principal).catch(refuse)
    } catch (err) {
      refuse(err)
    }
    return true
  }

  /** Stops taking upgrades (clients are ended by the stream registry). */
  close(): void {
    this.wss.close()
  }

  private parse(query: URLSearchParams): PlaybackQuery {
    const startTime = parseTime(query.get('startTime') ?? undefined, 'startTime')
    const rate = parseRate(query.get('playbackRate') ?? undefined)
    const subscribe = query.get('subscribe')
    const journal = this.gate.journal()
    this.gate.checkRetained(journal, startTime)
    return {
      startTime,
      rate,
      subscribe: subscribe === 'all' || subscribe === 'none' ? subscribe : 'self',
      sendCachedValues: query.get('sendCachedValues') !== 'false',
      journal,
    }
  }

  private async open(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    who: Principal,
    asked: PlaybackQuery,
  ): Promise<void> {
    if (socket.destroyed) return
    let past: PastState | undefined
    let release = (): void => {}
    if (asked.subscribe !== 'none') {
      release = this.gate.acquire()
      socket.once('close', release)
      try {
        past = await this.gate.stateAt(asked.journal, asked.startTime)
      } catch (err) {
        release()
        throw err
      }
      if (socket.destroyed) {
        release()
        return
      }
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      try {
        this.connect(ws, socket, who, asked, past, release)
      } catch (err) {
        release()
        this.streams.log.error({ err }, 'playback client failed to start')
        ws.close(1011, 'internal error')
      }
    })
  }

  private connect(
    ws: WebSocket,
    socket: Duplex,
    who: Principal,
    asked: PlaybackQuery,
    past: PastState | undefined,
    release: () => void,
  ): void {
    if (ws.extensions !== '') {
      // Frames built here carry no RSV bits; they are wrong on a connection with an extension.
      release()
      ws.close(1011, 'unsupported extension')
      return
    }
    const streams = this.streams
    const client = new PlaybackClient(streams, ws, socket, this.options.stats)
    client.principal = who
    streams.add(client)
    ws.on('message', (data, isBinary) => client.receive(isBinary ? '' : data.toString()))
    ws.on('error', (err) => streams.log.debug({ err }, 'signalk playback ws error'))
    ws.on('close', () => client.close())
    client.hello(asked.startTime, asked.rate)
    if (past === undefined) return
    const path: TreePath =
      asked.subscribe === 'all' ? pathOf([]) : pathOf(['vessels', streams.tree.selfKey])
    const start: PlaybackStart = {
      journal: asked.journal,
      startTime: asked.startTime,
      rate: asked.rate,
      root: prunedRoot(past.root, path.segments),
      rev: past.rev,
      release,
    }
    const playback = new WsPlayback(client, path, who.view, start)
    client.add(playback)
    if (asked.sendCachedValues) playback.sendCached()
    playback.play()
    streams.log.debug({ subscribe: asked.subscribe, rate: asked.rate }, 'signalk playback opened')
  }
}

/** One playback client. */
class PlaybackClient extends WsConnection implements DeltaClient {
  constructor(
    streams: Streams,
    ws: WebSocket,
    socket: Duplex,
    private readonly wsStats: SignalKStats,
  ) {
    super(streams, ws, socket, wsStats)
  }

  get protocol(): string {
    return 'ws'
  }

  keepAlive(): void {
    this.ping(() => this.wsStats.pingTimeouts++)
  }

  /** The hello of a playback (hello.json: `startTime` and `playbackRate`). */
  hello(startTime: number, rate: number): void {
    this.sendJson({
      name: 'keelson',
      // As the live stream's hello: signalk-server's version, which apps gate features on.
      version: SIGNALK_SERVER_VERSION,
      self: `vessels.${this.streams.tree.selfKey}`,
      roles: ['master', 'main'],
      timestamp: new Date().toISOString(),
      startTime: new Date(startTime).toISOString(),
      playbackRate: rate,
    })
  }

  /** A message from the client: a playback takes none; `{}` keep-alives are let be. */
  receive(data: string): void {
    if (this.closed) return
    let message: Json | undefined
    try {
      message = parseJson(data, { maxDepth: 8 })
    } catch {
      message = undefined
    }
    if (isObject(message) && Object.keys(message).length === 0) return
    const reply: JsonObject = {
      errorMessage: 'Playback does not support ws upstream messages',
      code: Errors.BAD_MESSAGE.code,
      statusCode: Errors.BAD_MESSAGE.status,
    }
    const requestId = isObject(message) ? message.requestId : undefined
    if (typeof requestId === 'string' || typeof requestId === 'number') reply.requestId = requestId
    this.sendJson(reply)
  }

  /** Sends a frame shared with other clients (live, once the playback caught up). */
  sendFrame(frame: DeltaFrame): void {
    const bytes = frame.bytes
    this.send(bytes, frame.messages)
  }

  /** Counts items held back instead of sent on their own. */
  countCoalesced(count: number): void {
    this.wsStats.coalesced += count
  }

  /** Items as delta messages. */
  sendItems(items: readonly DeltaItem[]): void {
    if (items.length === 0) return
    const deltas = toDeltas(items)
    this.send(textFrames(deltas.map((delta) => JSON.stringify(delta))), deltas.length)
  }

  private sendJson(message: JsonObject): void {
    this.send(textFrame(JSON.stringify(message)), 1)
  }
}

/** The replay of one playback client: deltas of the self vessel or of everything. */
class WsPlayback extends Playback {
  constructor(
    private readonly client: PlaybackClient,
    path: TreePath,
    view: View,
    start: PlaybackStart,
  ) {
    super(client, path, view, start)
  }

  /** The values at the start time, as the reader's view sees them. */
  sendCached(): void {
    const doc = readPath(this.root, this.path)
    const value = this.view.full ? doc : this.view.read(this.path, doc)
    this.client.sendItems(itemsAt(doc, this.base, value ?? {}))
  }

  protected emit(change: PastChange, effect: Effect): void {
    let scoped = scopeEffect(effect, this.path)
    if (scoped !== undefined && !this.view.full) scoped = this.view.scope(this.path, scoped)
    if (scoped === undefined) return
    const items = itemsAt(getAt(this.root, this.base), this.base, scoped.patch)
    if (items.length === 0) return
    let stamp: string | undefined
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!
      if (item.timestamp !== undefined || item.meta) continue
      stamp ??= new Date(change.time).toISOString()
      items[i] = { ...item, timestamp: stamp }
    }
    this.client.sendItems(items)
  }

  /**
   * Everything recorded is played and the clock has reached the present:
   * from here the client gets the changes as they happen (as a
   * signalk-server playback does once its provider has caught up), from the
   * tree rather than by asking the journal again and again. What changed
   * after the last record comes first, from the tree's resume history (all
   * the current values when it no longer reaches back that far).
   */
  protected caughtUp(): boolean {
    const { client, path, view, base } = this
    const tree = client.streams.tree
    const from = this.sentRev
    // Closing this subscription lets go of the past tree and the time-travel slot.
    client.remove(this)
    const context = path.segments.length === 0 ? '*' : 'vessels.self'
    const spec = { context, path: '*', period: 0, minPeriod: 0, policy: 'instant' as const }
    const live = new StreamSubscription(client, spec, path, view)
    client.add(live)
    const filter = view.full ? undefined : (effect: Effect) => view.scope(path, effect)
    const missed = tree.history.catchUp(path, from, tree.rev, view.key, filter)
    live.listen()
    if (missed === undefined) client.sendItems(live.snapshot())
    else if (missed !== null) client.sendItems(itemsOf(tree, base, missed.patch))
    return true
  }
}
