/**
 * One client of `/signalk/v1/stream` (SPEC §5): its hello, its
 * subscriptions, the messages it sends (deltas, subscribe, unsubscribe,
 * `{}` keep-alives) and what goes out to it. A bad message is answered with
 * an error message and the connection stays open.
 *
 * @see https://signalk.org/specification/1.7.0/doc/streaming_api.html
 */
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import type WebSocket from 'ws'
import { Errors, KeelsonError } from '../core/errors.js'
import type { Hub } from '../core/hub.js'
import { isObject, type Json, type JsonObject } from '../core/json.js'
import type { Scheduler } from '../core/scheduler.js'
import { SIGNALK_VERSION, type StateTree } from '../core/state-tree.js'
import { validateValue } from '../core/validate.js'
import { applyDelta, type Delta } from './delta.js'
import { metaOf } from './meta.js'
import { parseSpec, StreamSubscription, type SubscriptionSpec, treePathOf } from './subscription.js'
import { type DeltaFrame, type DeltaItem, toDeltas } from './to-delta.js'
import { textFrame, textFrames } from './ws-frame.js'

/** How a client connected: the query of its upgrade request. */
export interface ClientOptions {
  /** `subscribe=self|all|none`; default `self`. */
  subscribe: 'self' | 'all' | 'none'
  /** `sendCachedValues`; default true. */
  sendCachedValues: boolean
  /** `sendMeta=all`: send each path's metadata before its first value. */
  sendMeta: boolean
  /** Whether this client may write (loopback while no users exist, SPEC §8). */
  canWrite: boolean
  /** The `$source` of its deltas that carry none. */
  sourceLabel: string
  /** Deepest JSON nesting accepted. */
  maxDepth: number
}

/** Counters a client adds to. */
export interface StreamStats {
  eventsSent: number
  bytesSent: number
  coalesced: number
}

/** What a client needs from its transport. */
export interface ClientContext {
  readonly stats: StreamStats
  readonly tree: StateTree
  readonly hub: Hub
  readonly scheduler: Scheduler
  readonly log: Logger
  /** `ws.bufferedAmount` above which the socket counts as congested. */
  readonly highWaterBytes: number
  /** Called when the socket becomes congested. */
  congested(client: StreamClient): void
  /** Called when a congested socket has flushed everything queued before it congested. */
  flushed(client: StreamClient): void
  /** Queues `client` for the write at the end of this event-loop turn. */
  markDirty(client: StreamClient): void
  /** `frames` joined into one Buffer, once for every client due the same frames this turn. */
  joined(frames: readonly Buffer[]): Buffer
}

/**
 * One WebSocket client. Everything due to it in one event-loop turn (shared
 * delta frames, its own hello, replies and cached values) is queued as
 * complete text frames and written to its socket in one `write` at the end
 * of the turn, or at once when the queue reaches `highWaterBytes`. Frames go
 * to the socket itself rather than through `ws.send()`, which would frame and
 * write each message again per client: bench (b2), bench/RESULTS.md.
 */
export class StreamClient {
  readonly tree: StateTree
  readonly scheduler: Scheduler
  /** Answered the last ping. */
  alive = true
  /** When the socket stopped draining (epoch ms), 0 while it drains. */
  congestedSince = 0
  private readonly subscriptions = new Set<StreamSubscription>()
  private readonly metaSent = new Set<string>()
  private readonly queued: Buffer[] = []
  private queuedBytes = 0
  private queuedMessages = 0
  private dirty = false
  private closed = false

  constructor(
    readonly ws: WebSocket,
    /** The upgraded socket under `ws`; it carries no extension (permessage-deflate is off). */
    private readonly socket: Duplex,
    private readonly ctx: ClientContext,
    private readonly options: ClientOptions,
  ) {
    this.tree = ctx.tree
    this.scheduler = ctx.scheduler
    this.sendJson({
      name: 'keelson',
      // The hello's version is the Signal K version of the data (hello.json), not keelson's.
      version: SIGNALK_VERSION,
      self: `vessels.${this.tree.selfKey}`,
      roles: ['master', 'main'],
      timestamp: new Date().toISOString(),
    })
    if (options.subscribe !== 'none') {
      const context = options.subscribe === 'all' ? '*' : 'vessels.self'
      const spec = { context, path: '*', period: 0, minPeriod: 0, policy: 'instant' as const }
      this.add([spec])
    }
  }

  /** True while the socket is not draining. */
  get congested(): boolean {
    return this.congestedSince !== 0
  }

  /** Handles one message from the client; never throws. */
  receive(data: string): void {
    let message: Json
    try {
      message = JSON.parse(data) as Json
    } catch {
      this.sendError(new KeelsonError(Errors.BAD_JSON, 'The message is not valid JSON'))
      return
    }
    try {
      this.handle(message)
    } catch (err) {
      const requestId = isObject(message) ? message.requestId : undefined
      if (err instanceof KeelsonError) this.sendError(err, requestId)
      else {
        this.ctx.log.error({ err }, 'signalk ws message failed')
        this.sendError(new KeelsonError(Errors.INTERNAL), requestId)
      }
    }
  }

  /** Sends a frame shared with other clients: the same bytes to every socket. */
  sendFrame(frame: DeltaFrame): void {
    if (this.options.sendMeta) this.sendMetaOf(frame.items)
    const bytes = frame.bytes
    this.enqueue(bytes, frame.messages)
  }

  /** Sends items made for this client alone (coalesced or repeated values). */
  sendItems(items: readonly DeltaItem[]): void {
    if (items.length === 0) return
    if (this.options.sendMeta) this.sendMetaOf(items)
    this.sendDeltas(toDeltas(items))
  }

  /** Writes what this turn queued; called by the transport at the end of the turn. */
  flush(): void {
    this.dirty = false
    this.write()
  }

  /** Called by the transport when the socket drained: held changes go out. */
  drained(): void {
    this.congestedSince = 0
    for (const subscription of this.subscriptions) subscription.resume()
  }

  /** Drops every subscription. */
  close(): void {
    this.closed = true
    this.queued.length = 0
    this.queuedBytes = 0
    this.queuedMessages = 0
    for (const subscription of this.subscriptions) subscription.close()
    this.subscriptions.clear()
  }

  private handle(message: Json): void {
    if (!isObject(message)) {
      throw new KeelsonError(Errors.BAD_MESSAGE, 'A message must be a JSON object')
    }
    validateValue(message, { maxDepth: this.options.maxDepth })
    let understood = false
    if (message.updates !== undefined) {
      if (!this.options.canWrite) throw new KeelsonError(Errors.WRITE_NOT_LOCAL)
      applyDelta(this.tree, message as unknown as Delta, {
        defaultSource: this.options.sourceLabel,
      })
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
      this.add(message.subscribe.map((entry) => parseSpec(context, entry)))
      understood = true
    }
    if (message.unsubscribe !== undefined) {
      if (!Array.isArray(message.unsubscribe) || typeof context !== 'string') {
        throw new KeelsonError(Errors.BAD_MESSAGE, '"unsubscribe" must be an array of {path}')
      }
      this.remove(message.context === undefined ? '*' : context, message.unsubscribe)
      understood = true
    }
    if (!understood && Object.keys(message).some((key) => key !== 'requestId')) {
      throw new KeelsonError(Errors.BAD_MESSAGE)
    }
  }

  private add(specs: SubscriptionSpec[]): void {
    // Every path is checked before any subscription starts: a bad entry adds none.
    const paths = specs.map((spec) => treePathOf(spec.context, spec.path, this.tree.selfKey))
    const cached: DeltaItem[] = []
    specs.forEach((spec, i) => {
      const subscription = new StreamSubscription(this, spec, paths[i]!)
      subscription.hub = this.ctx.hub.subscribe(paths[i]!, subscription)
      this.subscriptions.add(subscription)
      if (this.options.sendCachedValues) cached.push(...subscription.snapshot())
    })
    this.sendItems(cached)
  }

  private remove(context: string, entries: unknown[]): void {
    const paths = entries.map((entry) => {
      const path = isObject(entry as Json) ? (entry as JsonObject).path : undefined
      if (typeof path !== 'string') {
        throw new KeelsonError(Errors.BAD_MESSAGE, 'Each unsubscribe entry needs a string "path"')
      }
      return path
    })
    for (const subscription of this.subscriptions) {
      const { spec } = subscription
      if (context !== '*' && spec.context !== context) continue
      if (!paths.includes('*') && !paths.includes(spec.path)) continue
      subscription.close()
      this.subscriptions.delete(subscription)
    }
  }

  private sendMetaOf(items: readonly DeltaItem[]): void {
    const metas: DeltaItem[] = []
    for (const item of items) {
      if (item.meta || item.path === '') continue
      const key = `${item.context}\0${item.path}`
      if (this.metaSent.has(key)) continue
      this.metaSent.add(key)
      const dot = item.context.indexOf('.')
      const context = [item.context.slice(0, dot), item.context.slice(dot + 1)]
      const meta = metaOf(this.tree, context, item.path.split('.'))
      if (meta) metas.push({ context: item.context, path: item.path, value: meta, meta: true })
    }
    this.sendDeltas(toDeltas(metas))
  }

  private sendDeltas(deltas: JsonObject[]): void {
    if (deltas.length === 0) return
    this.enqueue(textFrames(deltas.map((delta) => JSON.stringify(delta))), deltas.length)
  }

  private sendError(err: KeelsonError, requestId?: Json): void {
    const message: JsonObject = {
      errorMessage: err.message,
      code: err.code,
      statusCode: err.status,
    }
    if (requestId !== undefined) message.requestId = requestId
    this.sendJson(message)
  }

  private sendJson(message: JsonObject): void {
    this.enqueue(textFrame(JSON.stringify(message)), 1)
  }

  /** Queues framed messages; a queue that reaches the high-water mark is written at once. */
  private enqueue(bytes: Buffer, messages: number): void {
    if (this.closed) return
    this.queued.push(bytes)
    this.queuedBytes += bytes.length
    this.queuedMessages += messages
    if (this.queuedBytes >= this.ctx.highWaterBytes) this.write()
    else if (!this.dirty) {
      this.dirty = true
      this.ctx.markDirty(this)
    }
  }

  private write(): void {
    const queued = this.queued
    if (queued.length === 0) return
    // After a close frame (ours or the peer's) no data frame may follow (RFC 6455 §5.5.1).
    if (!this.closed && this.ws.readyState === this.ws.OPEN && !this.socket.destroyed) {
      const batch = queued.length === 1 ? queued[0]! : this.ctx.joined(queued)
      this.socket.write(batch)
      const stats = this.ctx.stats
      stats.eventsSent += this.queuedMessages
      stats.bytesSent += batch.length
    }
    queued.length = 0
    this.queuedBytes = 0
    this.queuedMessages = 0
    if (!this.closed) this.checkCongestion()
  }

  /** Counts items held back instead of sent on their own. */
  countCoalesced(count: number): void {
    this.ctx.stats.coalesced += count
  }

  private checkCongestion(): void {
    if (this.congestedSince === 0 && this.ws.bufferedAmount > this.ctx.highWaterBytes) {
      this.congestedSince = Date.now()
      this.ctx.congested(this)
      // A ping queued behind the backlog calls back once the backlog reached the kernel:
      // the socket drained, with no timer and no private socket access.
      this.ws.ping(undefined, undefined, (err) => {
        if (!err) this.ctx.flushed(this)
      })
    }
  }
}
