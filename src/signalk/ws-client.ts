/**
 * One client of `/signalk/v1/stream` (SPEC §5): a connection of the shared
 * stream writer (src/stream/connection.ts) that speaks the Signal K
 * streaming protocol — its hello, its subscriptions, the messages it sends
 * (deltas, subscribe, unsubscribe, `{}` keep-alives) and error messages for
 * bad ones; the connection stays open.
 *
 * Frames go to the socket itself, complete, rather than through
 * `ws.send()`, which would frame and write each message again per client:
 * delta frames are built once per (scope, view) and written to every
 * socket (bench b2, bench/RESULTS.md). While the socket does not drain, the
 * client's messages are not read (`ws.pause()`), so a client that never
 * reads cannot make keelson queue replies without bound.
 *
 * @see https://signalk.org/specification/1.7.0/doc/streaming_api.html
 */
import type { Duplex } from 'node:stream'
import type WebSocket from 'ws'
import { Errors, KeelsonError } from '../core/errors.js'
import { isObject, type Json, type JsonObject } from '../core/json.js'
import { parseJson } from '../core/validate.js'
import type { WritePort } from '../core/write-port.js'
import type { Principal } from '../security/principal.js'
import type { StreamStats } from '../stream/connection.js'
import type { Streams } from '../stream/streams.js'
import { WsConnection } from '../stream/ws-connection.js'
import { SIGNALK_SERVER_VERSION } from '../version.js'
import { type Delta, stampDelta } from './delta.js'
import { metaOf } from './meta.js'
import type { PutRequests } from './put-request.js'
import { replyJson } from './requests.js'
import { parseSpec, StreamSubscription, type SubscriptionSpec, treePathOf } from './subscription.js'
import { type DeltaFrame, type DeltaItem, toDeltas } from './to-delta.js'
import { textFrame, textFrames } from './ws-frame.js'

/** How a client connected: the query of its upgrade request, and what it may do. */
export interface ClientOptions {
  /** `subscribe=self|all|none`; default `self`. */
  subscribe: 'self' | 'all' | 'none'
  /** `sendCachedValues`; default true. */
  sendCachedValues: boolean
  /** `sendMeta=all`: send each path's metadata before its first value. */
  sendMeta: boolean
  /** Who the client acts for: what it reads, whether and where it writes (SPEC §8). */
  principal: Principal
  /** The `$source` of its deltas that carry none. */
  sourceLabel: string
  /** Logs the client in (the WebSocket login message); absent while security is off. */
  login?: LoginFunction
  /** The peer's address (login attempts are limited per address). */
  address: string
  /** Makes the client's PUT requests (SPEC §11); absent: they are refused. */
  putRequests?: PutRequests
}

/** Checks a user name and password: the token and its lifetime, and the principal it stands for. */
export type LoginFunction = (
  username: string,
  password: string,
  address: string,
) => Promise<{ token: string; timeToLive?: number; principal: Principal }>

/** Counters of the Signal K stream. */
export interface SignalKStats extends StreamStats {
  /** Peers closed for not answering a ping. */
  pingTimeouts: number
}

/** Levels of a delta message above its values: `{updates:[{values:[{value}]}]}`. */
const MESSAGE_LEVELS = 4

/** Metadata already sent to one client, at most this many paths remembered. */
const MAX_META_SENT = 10_000

/** One WebSocket client. */
export class StreamClient extends WsConnection {
  private readonly metaSent = new Set<string>()

  constructor(
    streams: Streams,
    ws: WebSocket,
    /** The upgraded socket under `ws`; it carries no extension (permessage-deflate is off). */
    socket: Duplex,
    readonly port: WritePort,
    readonly wsStats: SignalKStats,
    private readonly options: ClientOptions,
  ) {
    super(streams, ws, socket, wsStats)
    this.sendJson({
      name: 'keelson',
      // As signalk-server: the server's version, which apps gate features on (src/version.ts).
      version: SIGNALK_SERVER_VERSION,
      self: `vessels.${streams.tree.selfKey}`,
      roles: ['master', 'main'],
      timestamp: new Date().toISOString(),
    })
    if (options.subscribe !== 'none') {
      const context = options.subscribe === 'all' ? '*' : 'vessels.self'
      const spec = { context, path: '*', period: 0, minPeriod: 0, policy: 'instant' as const }
      this.subscribe([spec])
    }
  }

  get protocol(): string {
    return 'ws'
  }

  keepAlive(): void {
    this.ping(() => this.wsStats.pingTimeouts++)
  }

  /** Handles one message from the client; never throws. */
  receive(data: string): void {
    if (this.closed) return
    let message: Json
    try {
      // Forbidden keys (in the text too), non-finite numbers and bounded nesting, before any walk.
      message = parseJson(data, { maxDepth: this.port.maxDepth + MESSAGE_LEVELS })
    } catch (err) {
      const refused = err as KeelsonError
      if (refused.kind === Errors.BAD_JSON) {
        this.sendError(new KeelsonError(Errors.BAD_JSON, 'The message is not valid JSON'))
        return
      }
      this.sendError(refused, data.includes('"requestId"') ? requestIdOf(data) : undefined)
      return
    }
    try {
      this.handle(message)
    } catch (err) {
      const requestId = isObject(message) ? message.requestId : undefined
      if (err instanceof KeelsonError) this.sendError(err, requestId)
      else {
        this.streams.log.error({ err }, 'signalk ws message failed')
        this.sendError(new KeelsonError(Errors.INTERNAL), requestId)
      }
    }
  }

  /** Sends a frame shared with other clients: the same bytes to every socket. */
  sendFrame(frame: DeltaFrame): void {
    if (this.options.sendMeta) this.sendMetaOf(frame.items)
    const bytes = frame.bytes
    this.send(bytes, frame.messages)
  }

  /** Sends items made for this client alone (coalesced, cached or repeated values). */
  sendItems(items: readonly DeltaItem[]): void {
    if (items.length === 0) return
    if (this.options.sendMeta) this.sendMetaOf(items)
    this.sendDeltas(toDeltas(items))
  }

  /** Counts items held back instead of sent on their own. */
  countCoalesced(count: number): void {
    this.wsStats.coalesced += count
  }

  private handle(message: Json): void {
    if (!isObject(message)) {
      throw new KeelsonError(Errors.BAD_MESSAGE, 'A message must be a JSON object')
    }
    let understood = false
    if (message.login !== undefined) {
      this.logIn(message.login, message.requestId)
      return
    }
    if (message.put !== undefined) {
      this.put(message)
      return
    }
    if (message.updates !== undefined) {
      const who = this.options.principal
      if (who.writeRefusal) throw who.writeRefusal
      this.port.write(
        {
          kind: 'delta',
          delta: stampDelta(message as unknown as Delta),
          defaultSource: this.options.sourceLabel,
        },
        who.authorize,
      )
      understood = true
    }
    const context = message.context ?? 'vessels.self'
    if (message.subscribe !== undefined) {
      if (!Array.isArray(message.subscribe) || typeof context !== 'string') {
        throw new KeelsonError(
          Errors.BAD_MESSAGE,
          '"subscribe" must be an array and "context" a string',
        )
      }
      // The count first: a message past the limit is refused before any entry is parsed.
      if (message.subscribe.length > this.streams.limits.maxSubscriptions) {
        throw new KeelsonError(
          Errors.TOO_MANY_SUBSCRIPTIONS,
          `A connection may hold ${this.streams.limits.maxSubscriptions} subscriptions`,
        )
      }
      this.subscribe(message.subscribe.map((entry) => parseSpec(context, entry)))
      understood = true
    }
    if (message.unsubscribe !== undefined) {
      if (!Array.isArray(message.unsubscribe) || typeof context !== 'string') {
        throw new KeelsonError(Errors.BAD_MESSAGE, '"unsubscribe" must be an array of {path}')
      }
      this.unsubscribe(message.context === undefined ? '*' : context, message.unsubscribe)
      understood = true
    }
    if (!understood && Object.keys(message).some((key) => key !== 'requestId')) {
      throw new KeelsonError(Errors.BAD_MESSAGE)
    }
  }

  /**
   * Adds subscriptions, all or none: every path is checked and the limit
   * counted before any starts. A subscription to a (context, path) the
   * client already holds replaces it.
   */
  private subscribe(specs: SubscriptionSpec[]): void {
    const selfKey = this.streams.tree.selfKey
    const unique = new Map<string, SubscriptionSpec>()
    for (const spec of specs) unique.set(`${spec.context}\u0000${spec.path}`, spec)
    const paths = new Map<string, ReturnType<typeof treePathOf>>()
    for (const [key, spec] of unique) paths.set(key, treePathOf(spec.context, spec.path, selfKey))
    const replaced: StreamSubscription[] = []
    for (const subscription of this.subscriptions) {
      const { spec } = subscription as StreamSubscription
      if (unique.has(`${spec.context}\u0000${spec.path}`))
        replaced.push(subscription as StreamSubscription)
    }
    const limit = this.streams.limits.maxSubscriptions
    if (this.subscriptions.length - replaced.length + unique.size > limit) {
      throw new KeelsonError(
        Errors.TOO_MANY_SUBSCRIPTIONS,
        `A connection may hold ${limit} subscriptions; it holds ${this.subscriptions.length}`,
      )
    }
    for (const subscription of replaced) this.remove(subscription)
    const cached: DeltaItem[] = []
    for (const [key, spec] of unique) {
      const subscription = new StreamSubscription(
        this,
        spec,
        paths.get(key)!,
        this.options.principal.view,
      )
      this.add(subscription)
      subscription.listen()
      if (this.options.sendCachedValues) {
        // Held, not queued, while the socket does not drain: sent (latest per path) when it does.
        if (this.congested) subscription.holdSnapshot()
        else cached.push(...subscription.snapshot())
      }
    }
    this.sendItems(cached)
  }

  /**
   * The login message (SPEC §8): answered with the token, and from then on
   * the connection acts for the user: its subscriptions read through the
   * user's view (they are made again), its deltas are the user's.
   */
  private logIn(login: Json, requestId: Json | undefined): void {
    const log = this.options.login
    if (log === undefined) {
      throw new KeelsonError(Errors.BAD_MESSAGE, 'Security is not enabled on this server: no login')
    }
    if (
      !isObject(login) ||
      typeof login.username !== 'string' ||
      typeof login.password !== 'string'
    ) {
      throw new KeelsonError(Errors.BAD_MESSAGE, 'A login needs {"username","password"} strings')
    }
    log(login.username, login.password, this.options.address).then(
      ({ token, timeToLive, principal }) => {
        if (this.closed) return
        this.options.principal = principal
        this.principal = principal
        this.streams.track(this)
        // The reply first: a client waiting for it gets it before the cached values of its new view.
        const reply: JsonObject = { state: 'COMPLETED', statusCode: 200, login: { token } }
        if (timeToLive !== undefined) (reply.login as JsonObject).timeToLive = timeToLive
        if (requestId !== undefined) reply.requestId = requestId
        this.sendJson(reply)
        const specs = [...this.subscriptions].map((s) => (s as StreamSubscription).spec)
        for (const subscription of [...this.subscriptions]) this.remove(subscription)
        if (specs.length > 0) this.subscribe(specs)
      },
      (err: unknown) => {
        if (this.closed) return
        const refused = err instanceof KeelsonError ? err : new KeelsonError(Errors.INTERNAL)
        const reply: JsonObject = {
          state: 'COMPLETED',
          statusCode: refused.status,
          message: refused.message,
        }
        if (requestId !== undefined) reply.requestId = requestId
        this.sendJson(reply)
      },
    )
  }

  /** A PUT request (SPEC §11): answered once its write is acknowledged, or refused with a message. */
  private put(message: JsonObject): void {
    const puts = this.options.putRequests
    if (puts === undefined) {
      throw new KeelsonError(Errors.METHOD_NOT_ALLOWED, 'PUT requests are not taken here')
    }
    puts.fromMessage(message, this.options.principal, this.options.sourceLabel).then(
      (reply) => {
        if (!this.closed) this.sendJson(replyJson(reply))
      },
      (err: unknown) => this.streams.log.error({ err }, 'signalk ws PUT request failed'),
    )
  }

  private unsubscribe(context: string, entries: unknown[]): void {
    const paths = entries.map((entry) => {
      const path = isObject(entry as Json) ? (entry as JsonObject).path : undefined
      if (typeof path !== 'string') {
        throw new KeelsonError(Errors.BAD_MESSAGE, 'Each unsubscribe entry needs a string "path"')
      }
      return path
    })
    for (const subscription of [...this.subscriptions]) {
      const { spec } = subscription as StreamSubscription
      if (context !== '*' && spec.context !== context) continue
      if (!paths.includes('*') && !paths.includes(spec.path)) continue
      this.remove(subscription)
    }
  }

  private sendMetaOf(items: readonly DeltaItem[]): void {
    const metas: DeltaItem[] = []
    for (const item of items) {
      if (item.meta || item.path === '') continue
      const key = `${item.context}\u0000${item.path}`
      if (this.metaSent.has(key)) continue
      if (this.metaSent.size >= MAX_META_SENT) this.metaSent.clear()
      this.metaSent.add(key)
      const dot = item.context.indexOf('.')
      const context = [item.context.slice(0, dot), item.context.slice(dot + 1)]
      const meta = metaOf(this.streams.tree, context, item.path.split('.'))
      if (meta) metas.push({ context: item.context, path: item.path, value: meta, meta: true })
    }
    this.sendDeltas(toDeltas(metas))
  }

  private sendDeltas(deltas: JsonObject[]): void {
    if (deltas.length === 0) return
    this.send(textFrames(deltas.map((delta) => JSON.stringify(delta))), deltas.length)
  }

  private sendError(err: KeelsonError, requestId?: Json): void {
    const message: JsonObject = {
      errorMessage: err.message,
      code: err.code,
      statusCode: err.status,
    }
    if (requestId !== undefined) {
      // A reply to a request, as Request/Response has them: apps read its state and message.
      message.requestId = requestId
      message.state = 'COMPLETED'
      message.message = err.message
    }
    this.sendJson(message)
  }

  private sendJson(message: JsonObject): void {
    this.send(textFrame(JSON.stringify(message)), 1)
  }
}

/** The `requestId` of a message refused before it was validated, when plain JSON can give it. */
function requestIdOf(data: string): Json | undefined {
  try {
    const parsed = JSON.parse(data) as Json
    const id = isObject(parsed) ? parsed.requestId : undefined
    return typeof id === 'string' || typeof id === 'number' ? id : undefined
  } catch {
    return undefined
  }
}
