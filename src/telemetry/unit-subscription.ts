/**
 * One unit of one telemetry stream (SPEC §6): a subscription of the shared
 * stream writer (src/stream/) at the unit's vessel context, through the
 * view of the user its token was issued to.
 *
 * Fan-out path: the hub hands every subscriber of a (context, view) the
 * same update; the unit's messages (`gps` when the position, speed, course
 * or heading changed, then `telemetry`) are built once per update and unit
 * id, framed once per wire format ({@link ScopedUpdate.frame}), and the
 * same bytes go to every stream watching that unit. While the connection is
 * congested, changes are composed into one exact patch (as SSE does) and
 * sent, with a fresh `gps`, when it drains.
 */
import type { ScopedUpdate } from '../core/hub.js'
import { composeEffects, type Effect } from '../core/merge-patch.js'
import type { TreePath } from '../core/path.js'
import { monotonicNow } from '../core/scheduler.js'
import { readThrough, type View } from '../core/view.js'
import type { Connection } from '../stream/connection.js'
import { StreamSubscriber } from '../stream/subscriber.js'
import type { Framing } from './framing.js'
import { gpsMessage, navigationPath, telemetryMessage, touchesGps } from './messages.js'

/** A unit's framed messages for one update: the bytes, and how many messages they hold. */
interface UnitFrame {
  bytes: Buffer
  messages: number
}

/** One subscribed unit of a telemetry stream. */
export class UnitSubscription extends StreamSubscriber {
  /** Changes held back while the connection is congested, composed into one. */
  private pending: Effect | undefined
  /** Some held change touched the `gps` members. */
  private gpsPending = false
  private readonly unitIdJson: string
  private readonly navigation: TreePath
  /** Names of this unit's messages in an update's frame cache: JSON, then framed bytes. */
  private readonly jsonKind: string
  private readonly frameKind: string

  constructor(
    connection: Connection,
    path: TreePath,
    view: View,
    /** The unit id the client subscribed (a string, as every message carries it). */
    readonly unitId: string,
    /** Who the unit token was issued to (a user or device name, or `any`). */
    readonly sub: string,
    private readonly framing: Framing,
  ) {
    super(connection, path, view)
    this.unitIdJson = JSON.stringify(unitId)
    this.navigation = navigationPath(path)
    this.jsonKind = `tjson\u0000${unitId}`
    this.frameKind = `${framing.name}\u0000${unitId}`
  }

  get holding(): boolean {
    return this.pending !== undefined
  }

  /**
   * The first messages, then live changes: the current `gps` when a
   * position is known, and the whole subtree as a `telemetry` patch from
   * `null`, so a client that folds the unit's patches holds its state.
   */
  start(): void {
    const tree = this.connection.streams.tree
    const messages: string[] = []
    const gps = gpsMessage(tree, this.navigation, this.view, this.unitId)
    if (gps !== undefined) messages.push(gps)
    const doc = readThrough(tree, this.path, this.view) ?? null
    messages.push(telemetryMessage(this.unitIdJson, JSON.stringify(doc)))
    this.connection.send(this.framing.frames(messages), messages.length)
    this.listen()
  }

  deliver(update: ScopedUpdate): void {
    if (this.pending !== undefined || this.connection.congested) {
      this.hold(update)
      return
    }
    const frame = update.frame(this.frameKind, this.buildFrame)
    this.connection.send(frame.bytes, frame.messages)
  }

  run(_now: number): void {
    const pending = this.pending
    if (this.closed || pending === undefined || this.connection.congested) return
    this.pending = undefined
    const messages: string[] = []
    if (this.gpsPending) {
      const gps = gpsMessage(this.connection.streams.tree, this.navigation, this.view, this.unitId)
      if (gps !== undefined) messages.push(gps)
    }
    this.gpsPending = false
    messages.push(telemetryMessage(this.unitIdJson, JSON.stringify(pending.patch)))
    this.connection.send(this.framing.frames(messages), messages.length)
  }

  protected dropHeld(): void {
    this.pending = undefined
    this.gpsPending = false
  }

  private hold(update: ScopedUpdate): void {
    if (this.pending !== undefined) this.connection.stats.coalesced++
    this.pending = this.pending ? composeEffects(this.pending, update.effect) : update.effect
    if (touchesGps(update.effect.patch)) this.gpsPending = true
    // A congested connection resumes its subscriptions itself when it drains.
    if (this.connection.draining) this.wake(monotonicNow())
  }

  /** This unit's messages for `update`, framed: built by the first stream that asks, shared by the rest. */
  private readonly buildFrame = (update: ScopedUpdate): UnitFrame => {
    const messages = update.frame(this.jsonKind, this.buildJson)
    return { bytes: this.framing.frames(messages), messages: messages.length }
  }

  /** This unit's messages for `update` as JSON, once per update whatever the wire format. */
  private readonly buildJson = (update: ScopedUpdate): string[] => {
    const messages: string[] = []
    if (touchesGps(update.effect.patch)) {
      const tree = this.connection.streams.tree
      const gps = gpsMessage(tree, this.navigation, this.view, this.unitId)
      if (gps !== undefined) messages.push(gps)
    }
    messages.push(telemetryMessage(this.unitIdJson, update.patchJson))
    return messages
  }
}
