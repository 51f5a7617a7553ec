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
import type { ScopedUpdate, Subscriber, Subscription } from '../core/hub.js'
import { pathOf, type TreePath, WILDCARD } from '../core/path.js'
import type { Task } from '../core/scheduler.js'
import { type DeltaFrame, type DeltaItem, frameBuilder, itemKey, itemsOf } from './to-delta.js'
import type { StreamClient } from './ws-client.js'

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
const MAX_PERIOD = 86_400_000

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
  if (path !== '' && path !== '*') keys.push(...path.split('.'))
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
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_PERIOD) {
    throw new KeelsonError(Errors.BAD_MESSAGE, `${name} must be a whole number of ms`)
  }
  return value
}

/** A live subscription of one client. */
export class StreamSubscription implements Subscriber, Task {
  hub: Subscription | undefined
  private readonly base: readonly string[]
  private readonly build: (update: ScopedUpdate) => DeltaFrame
  private readonly pending = new Map<string, DeltaItem>()
  private nextAt = 0
  private lastSentAt: number
  private dueAt: number
  private wakeAt = Number.POSITIVE_INFINITY
  private closed = false

  constructor(
    private readonly client: StreamClient,
    readonly spec: SubscriptionSpec,
    readonly path: TreePath,
  ) {
    this.base = path.starAt < 0 ? path.segments : path.segments.slice(0, path.starAt)
    this.build = frameBuilder(client.tree, this.base)
    this.lastSentAt = Date.now()
    this.dueAt = this.lastSentAt + spec.period
    this.reschedule()
  }

  deliver(update: ScopedUpdate): void {
    if (this.spec.policy === 'fixed') return
    const frame = update.frame(FRAME_KIND, this.build)
    if (frame.items.length === 0) return
    const now = Date.now()
    if (this.pending.size > 0 || this.client.congested || now < this.nextAt) {
      for (const item of frame.items) this.pending.set(itemKey(item), item)
      this.client.countCoalesced(frame.items.length)
      if (!this.client.congested) this.wake(this.nextAt)
      return
    }
    this.sent(now)
    this.client.sendFrame(frame)
  }

  /** The current values of everything this subscription matches (cached values). */
  snapshot(): DeltaItem[] {
    return itemsOf(this.client.tree, this.base, this.client.tree.get(this.path) ?? {})
  }

  /** Scheduler task: flushes held items, and sends fixed / ideal repeats when due. */
  run(now: number): void {
    if (this.closed || now < this.wakeAt) return
    this.wakeAt = Number.POSITIVE_INFINITY
    if (this.client.congested) return
    if (this.pending.size > 0 && now >= this.nextAt) {
      const items = [...this.pending.values()]
      this.pending.clear()
      this.sent(now)
      this.client.sendItems(items)
    }
    if (this.spec.policy === 'fixed' && now >= this.dueAt) {
      this.dueAt = now + this.spec.period
      this.repeat(now)
    } else if (this.spec.policy === 'ideal' && now >= this.lastSentAt + this.spec.period) {
      this.repeat(now)
    }
    this.reschedule()
  }

  /** Called when the client's socket drains again. */
  resume(): void {
    this.reschedule()
  }

  close(): void {
    this.closed = true
    this.pending.clear()
    this.hub?.unsubscribe()
  }

  private repeat(now: number): void {
    this.pending.clear()
    this.sent(now)
    this.client.sendItems(this.snapshot())
  }

  private sent(now: number): void {
    this.lastSentAt = now
    this.nextAt = now + this.spec.minPeriod
  }

  private reschedule(): void {
    let at = this.pending.size > 0 ? this.nextAt : Number.POSITIVE_INFINITY
    if (this.spec.policy === 'fixed') at = Math.min(at, this.dueAt)
    else if (this.spec.policy === 'ideal' && this.spec.period > 0) {
      at = Math.min(at, this.lastSentAt + this.spec.period)
    }
    if (at !== Number.POSITIVE_INFINITY) this.wake(at)
  }

  /** Queues a run at `at` unless one is already queued no later. */
  private wake(at: number): void {
    if (at >= this.wakeAt) return
    this.wakeAt = at
    this.client.scheduler.at(at, this)
  }
}
