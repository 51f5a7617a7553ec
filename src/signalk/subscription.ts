/**
 * One Signal K subscription of a WebSocket client: a `context` and `path`
 * (wildcards allowed) mapped onto a hub scope, with its delivery policy.
 *
 * - `instant`: every change at once, no faster than `minPeriod`.
 * - `ideal`: as `instant`, and when nothing was sent for `period`, the last
 *   known values again.
 * - `fixed`: the last known values every `period`, nothing in between.
 *
 * Changes held back (by `minPeriod` or a congested socket) coalesce to the
 * latest item per path, so memory stays bounded. Timing runs on the app's
 * shared {@link Scheduler}: no timer per subscription.
 *
 * @see https://signalk.org/specification/1.7.0/doc/subscription_protocol.html
 */
import { Errors, KeelsonError } from '../core/errors.js'
import type { ScopedUpdate } from '../core/hub.js'
import { pathOf, type TreePath, WILDCARD } from '../core/path.js'
import { monotonicNow } from '../core/scheduler.js'
import { DEFAULT_MAX_DEPTH, tooDeep } from '../core/validate.js'
import { readThrough, type View } from '../core/view.js'
import { MAX_PERIOD_MS } from '../options.js'
import type { Connection } from '../stream/connection.js'
import { StreamSubscriber } from '../stream/subscriber.js'
import { type DeltaFrame, type DeltaItem, frameBuilder, itemKey, itemsOf } from './to-delta.js'

/** Delivery policies of the subscription protocol. */
export type Policy = 'instant' | 'ideal' | 'fixed'

/** A parsed subscription request. */
export interface SubscriptionSpec {
  /** As asked, e.g. `vessels.self`, `vessels.*`, `*`. */
  readonly context: string
  /** As asked, e.g. `navigation.*`, `*`. */
  readonly path: string
  /** ms; default 1000. */
  readonly period: number
  /** ms; 0 = no throttle. */
  readonly minPeriod: number
  readonly policy: Policy
}

const FRAME_KIND = 'signalk-delta'
const POLICIES: readonly string[] = ['instant', 'ideal', 'fixed']
/** Default `period` of the subscription protocol, ms. */
export const DEFAULT_PERIOD = 1000

/**
 * The tree path of a subscription: context keys then path keys, `self`
 * resolved, a key holding `*` matching a whole level; trailing `*` levels
 * dropped, since a subscribed node already carries everything below it.
 */
export function treePathOf(context: string, path: string, selfKey: string): TreePath {
  const keys: string[] = []
  if (context === '*') keys.push(WILDCARD, WILDCARD)
  else {
    const dot = context.indexOf('.')
    const id = dot < 0 ? WILDCARD : context.slice(dot + 1)
    keys.push(dot < 0 ? context : context.slice(0, dot), id === 'self' ? selfKey : id)
  }
  if (path !== '' && path !== '*') {
    const parts = path.split('.', DEFAULT_MAX_DEPTH + 1)
    if (parts.length > DEFAULT_MAX_DEPTH) throw tooDeep(DEFAULT_MAX_DEPTH)
    for (const part of parts) keys.push(part)
  }
  for (let i = 0; i < keys.length; i++) if (keys[i]!.includes('*')) keys[i] = WILDCARD
  while (keys.length > 0 && keys[keys.length - 1] === WILDCARD) keys.pop()
  return pathOf(keys)
}

/** Parses one entry of a `subscribe` message (throws `BAD_MESSAGE`). */
export function parseSpec(context: string, entry: unknown): SubscriptionSpec {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new KeelsonError(Errors.BAD_MESSAGE, 'Each subscribe entry must be an object')
  }
  const e = entry as Record<string, unknown>
  if (typeof e.path !== 'string') {
    throw new KeelsonError(Errors.BAD_MESSAGE, 'Each subscribe entry needs a string "path"')
  }
  const period = ms(e.period, 'period') ?? DEFAULT_PERIOD
  const minPeriod = ms(e.minPeriod, 'minPeriod') ?? 0
  const policy = e.policy ?? 'ideal'
  if (typeof policy !== 'string' || !POLICIES.includes(policy)) {
    throw new KeelsonError(Errors.BAD_MESSAGE, 'policy must be "instant", "ideal" or "fixed"')
  }
  if (e.format !== undefined && e.format !== 'delta') {
    throw new KeelsonError(Errors.BAD_MESSAGE, 'Only format "delta" is supported')
  }
  if (policy === 'fixed' && period === 0) {
    throw new KeelsonError(Errors.BAD_MESSAGE, 'A fixed policy needs a period above 0')
  }
  return { context, path: e.path, period, minPeriod, policy: policy as Policy }
}

function ms(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_PERIOD_MS) {
    throw new KeelsonError(Errors.BAD_MESSAGE, `${name} must be a whole number of ms`)
  }
  return value
}

/**
 * The connection a subscription sends deltas through: a client of the
 * Signal K stream (./ws-client.ts), or a playback's once it is live
 * (./playback.ts).
 */
export interface DeltaClient extends Connection {
  /** Sends a frame shared with other clients. */
  sendFrame(frame: DeltaFrame): void
  /** Sends items made for this client alone. */
  sendItems(items: readonly DeltaItem[]): void
  /** Counts items held back instead of sent on their own. */
  countCoalesced(count: number): void
}

/** A live subscription of one client. */
export class StreamSubscription extends StreamSubscriber {
  private readonly base: readonly string[]
  private readonly build: (update: ScopedUpdate) => DeltaFrame
  /** Items held back, the latest per path; made on first use (most subscriptions never hold). */
  private pending: Map<string, DeltaItem> | undefined
  /** A throttle or a period needs the clock on delivery (`minPeriod`, or the `ideal` policy). */
  private readonly timed: boolean
  private lastSentAt: number
  private dueAt: number

  constructor(
    private readonly client: DeltaClient,
    readonly spec: SubscriptionSpec,
    path: TreePath,
    view: View,
  ) {
    super(client, path, view)
    this.base = path.starAt < 0 ? path.segments : path.segments.slice(0, path.starAt)
    this.build = frameBuilder(client.streams.tree, this.base)
    this.timed = spec.minPeriod > 0 || spec.policy === 'ideal'
    this.lastSentAt = monotonicNow()
    this.dueAt = this.lastSentAt + spec.period
    this.reschedule()
  }

  get holding(): boolean {
    return this.pending !== undefined && this.pending.size > 0
  }

  deliver(update: ScopedUpdate): void {
    // Built once per (scope, view): the view's filtered patch decides which leaves are sent.
    const frame = update.frame(FRAME_KIND, this.build)
    if (frame.items.length === 0) return
    if (this.spec.policy === 'fixed') {
      // The period sends the current values; a removal is no value, so it is held for the
      // next period (a display would keep showing what was deleted otherwise).
      for (const item of frame.items) if (item.value === null) this.hold(item)
      return
    }
    // The clock is read only when a throttle or a period needs it: an `instant` subscription
    // with no minPeriod (the default one) is on every delivery of the fan-out (bench b2).
    const timed = this.timed
    const now = timed ? monotonicNow() : 0
    if (this.holding || this.client.congested || (timed && now < this.nextAt)) {
      for (const item of frame.items) this.hold(item)
      this.client.countCoalesced(frame.items.length)
      if (this.client.draining) this.wake(this.nextAt)
      return
    }
    if (timed) this.sent(now)
    this.client.sendFrame(frame)
  }

  /** The current values of everything this subscription matches (cached values), as its view sees them. */
  snapshot(): DeltaItem[] {
    const tree = this.client.streams.tree
    return itemsOf(tree, this.base, readThrough(tree, this.path, this.view) ?? {})
  }

  /** Holds the cached values instead of sending them: the connection is congested. */
  holdSnapshot(): void {
    for (const item of this.snapshot()) this.hold(item)
  }

  run(now: number): void {
    if (this.closed || this.client.congested) return
    const pending = this.pending
    if (this.spec.policy !== 'fixed' && pending !== undefined && now >= this.nextAt) {
      const items = [...pending.values()]
      this.pending = undefined
      this.sent(now)
      this.client.sendItems(items)
    }
    if (this.spec.policy === 'fixed' && now >= this.dueAt) {
      this.dueAt = now + this.spec.period
      this.repeat(now)
    } else if (
      this.spec.policy === 'ideal' &&
      this.spec.period > 0 &&
      now >= this.lastSentAt + this.spec.period
    ) {
      this.repeat(now)
    }
    this.reschedule()
  }

  protected dropHeld(): void {
    this.pending = undefined
  }

  private hold(item: DeltaItem): void {
    this.pending ??= new Map()
    this.pending.set(itemKey(item), item)
  }

  private repeat(now: number): void {
    const items = this.snapshot()
    if (this.spec.policy === 'fixed' && this.pending !== undefined) {
      // Removals held since the last period, unless the path has a value again.
      const current = new Set(items.map(itemKey))
      for (const [key, item] of this.pending) if (!current.has(key)) items.push(item)
    }
    this.pending = undefined
    this.sent(now)
    if (items.length > 0) this.client.sendItems(items)
  }

  private sent(now: number): void {
    this.lastSentAt = now
    this.nextAt = now + this.spec.minPeriod
  }

  private reschedule(): void {
    let at = this.holding ? this.nextAt : Number.POSITIVE_INFINITY
    if (this.spec.policy === 'fixed') at = this.dueAt
    else if (this.spec.policy === 'ideal' && this.spec.period > 0) {
      at = Math.min(at, this.lastSentAt + this.spec.period)
    }
    if (at !== Number.POSITIVE_INFINITY) this.wake(at)
  }
}
