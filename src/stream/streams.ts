/**
 * Every open stream connection of one app, whatever its protocol, with the
 * timers they share: one keep-alive tick (SSE keep-alive events, WebSocket
 * pings) that reaches each connection once per `keepAliveMs`, a slice of
 * them at a time, one sweep that closes connections stalled past `stallTimeoutMs`,
 * and one end-of-turn write batch (src/core/turn-batch.ts), so no
 * connection owns a timer of its own.
 */
import type { Logger } from 'pino'
import type { Hub } from '../core/hub.js'
import { monotonicNow, type Scheduler } from '../core/scheduler.js'
import type { StateTree } from '../core/state-tree.js'
import { TurnBatch } from '../core/turn-batch.js'
import { keepAliveSlots, stallSweepMs } from '../options.js'
import type { Connection, ConnectionLimits, EndReason } from './connection.js'

/** Options of {@link Streams}. */
export interface StreamsOptions extends ConnectionLimits {
  /** Period of the keep-alive tick, ms. */
  keepAliveMs: number
  /** A connection whose socket has not drained for this long is closed, ms. */
  stallTimeoutMs: number
}

/** The registry of open connections and their shared timers. */
export class Streams {
  readonly limits: ConnectionLimits
  private readonly byProtocol = new Map<string, Set<Connection>>()
  private readonly congested = new Set<Connection>()
  /** Connections whose principal's token expires. */
  private readonly expiring = new Set<Connection>()
  private readonly batch = new TurnBatch<Connection>()
  /**
   * The connections in keep-alive slots: one tick per `keepAliveMs / slots`
   * serves one slot, so each connection still gets its keep-alive every
   * `keepAliveMs`, but 100,000 streams (bench k) never take their writes
   * all in one turn, in front of a change due to all of them.
   */
  private readonly keepAliveSlots: Set<Connection>[]
  /** The slot the next tick serves. */
  private tickSlot = 0
  private readonly keepAliveTimer: NodeJS.Timeout
  private readonly stallTimer: NodeJS.Timeout

  constructor(
    readonly tree: StateTree,
    readonly hub: Hub,
    readonly scheduler: Scheduler,
    private readonly options: StreamsOptions,
    readonly log: Logger,
  ) {
    this.limits = {
      highWaterBytes: options.highWaterBytes,
      maxConnectionBytes: options.maxConnectionBytes,
      maxSubscriptions: options.maxSubscriptions,
    }
    const slots = keepAliveSlots(options.keepAliveMs)
    this.keepAliveSlots = Array.from({ length: slots }, () => new Set<Connection>())
    this.keepAliveTimer = setInterval(
      () => this.keepAlive(),
      Math.ceil(options.keepAliveMs / slots),
    )
    this.keepAliveTimer.unref()
    this.stallTimer = setInterval(() => this.closeStalled(), stallSweepMs(options.stallTimeoutMs))
    this.stallTimer.unref()
  }

  /** Open connections of `protocol`. */
  count(protocol: string): number {
    return this.byProtocol.get(protocol)?.size ?? 0
  }

  /** The open connections of `protocol` (live: do not change it). */
  connectionsOf(protocol: string): ReadonlySet<Connection> {
    return this.byProtocol.get(protocol) ?? new Set()
  }

  /** Open connections of every protocol. */
  get size(): number {
    let total = 0
    for (const set of this.byProtocol.values()) total += set.size
    return total
  }

  /** Unsent bytes held for the connections of `protocol`. */
  bufferedBytes(protocol: string): number {
    let total = 0
    for (const connection of this.byProtocol.get(protocol) ?? []) total += connection.buffered
    return total
  }

  /** Registers an open connection. */
  add(connection: Connection): void {
    let set = this.byProtocol.get(connection.protocol)
    if (set === undefined) {
      set = new Set()
      this.byProtocol.set(connection.protocol, set)
    }
    set.add(connection)
    // The slot served last: its first keep-alive comes a period after it opened, and streams
    // opened over time spread over every slot.
    const slots = this.keepAliveSlots.length
    connection.keepAliveSlot = (this.tickSlot + slots - 1) % slots
    this.keepAliveSlots[connection.keepAliveSlot]!.add(connection)
    if (connection.principal?.expiresAt !== undefined) this.expiring.add(connection)
  }

  /** Notes a change of a connection's principal (a WebSocket login): its expiry is watched. */
  track(connection: Connection): void {
    if (connection.principal?.expiresAt !== undefined) this.expiring.add(connection)
    else this.expiring.delete(connection)
  }

  /**
   * Ends every stream of the user or device `name` (removed, or its type
   * changed), or with `undefined` every anonymous reader's: the client logs
   * in again (or reconnects) and resumes (SPEC §8).
   */
  endFor(name: string | undefined): number {
    let ended = 0
    for (const set of this.byProtocol.values()) {
      for (const connection of [...set]) {
        const principal = connection.principal
        // undefined: every anonymous stream of a secured server (its rights changed too).
        if (principal === undefined || principal.name !== name) continue
        this.end(connection, 'revoked')
        ended++
      }
    }
    return ended
  }

  /**
   * Ends every open stream, whatever its protocol, and keeps serving: the
   * tree was replaced (src/cluster: a new epoch, or a replica reloaded past
   * a gap), so every client reconnects and resumes or gets a reset (SPEC §4).
   */
  endAll(why: EndReason = 'shutdown'): number {
    let ended = 0
    for (const set of this.byProtocol.values()) {
      for (const connection of [...set]) {
        this.end(connection, why)
        ended++
      }
    }
    return ended
  }

  private end(connection: Connection, why: EndReason): void {
    try {
      connection.end(why)
    } catch (err) {
      this.log.warn({ err }, 'ending a stream failed')
    }
    connection.close()
  }

  /** Forgets a closed connection (called by {@link Connection.close}). */
  remove(connection: Connection): void {
    this.byProtocol.get(connection.protocol)?.delete(connection)
    this.keepAliveSlots[connection.keepAliveSlot]?.delete(connection)
    this.congested.delete(connection)
    this.expiring.delete(connection)
  }

  /** Queues `connection` for the write at the end of this event-loop turn. */
  markDirty(connection: Connection): void {
    this.batch.markDirty(connection)
  }

  /** The frames due to a connection this turn as one Buffer ({@link TurnBatch.joined}). */
  joined(frames: readonly Buffer[]): Buffer {
    return this.batch.joined(frames)
  }

  /** Called by a connection whose socket stopped draining, or drained again. */
  setCongested(connection: Connection, congested: boolean): void {
    if (congested) this.congested.add(connection)
    else this.congested.delete(connection)
  }

  /** Ends every connection gracefully and stops the timers. */
  close(): void {
    clearInterval(this.keepAliveTimer)
    clearInterval(this.stallTimer)
    for (const set of this.byProtocol.values()) {
      for (const connection of set) this.end(connection, 'shutdown')
    }
    this.byProtocol.clear()
    for (const slot of this.keepAliveSlots) slot.clear()
    this.congested.clear()
    this.expiring.clear()
  }

  /** Ends the streams whose token expired (checked on the stall sweep, at most 1 s late). */
  private endExpired(): void {
    if (this.expiring.size === 0) return
    const now = Date.now()
    for (const connection of this.expiring) {
      if (connection.principal!.expiresAt! > now) continue
      this.log.info(
        { protocol: connection.protocol, name: connection.principal!.name },
        'token expired: ending its stream',
      )
      this.end(connection, 'expired')
    }
  }

  /** One slot's keep-alives: each connection's comes once per `keepAliveMs`. */
  private keepAlive(): void {
    const slot = this.keepAliveSlots[this.tickSlot]!
    this.tickSlot = (this.tickSlot + 1) % this.keepAliveSlots.length
    for (const connection of slot) {
      try {
        connection.keepAlive()
      } catch (err) {
        this.log.error({ err }, 'stream keep-alive failed')
        connection.destroy()
      }
    }
  }

  private closeStalled(): void {
    this.endExpired()
    const now = monotonicNow()
    const limit = this.options.stallTimeoutMs
    for (const connection of this.congested) {
      if (now - connection.congestedSince < limit) continue
      connection.stats.stalledClosed++
      this.log.info(
        { protocol: connection.protocol, stalledMs: Math.round(now - connection.congestedSince) },
        'closing a stalled stream',
      )
      connection.destroy()
    }
  }
}
