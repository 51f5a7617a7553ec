/**
 * What every telemetry stream is, whatever its wire (SSE or WebSocket): a
 * connection of the shared stream writer with a `stream_id`, a wire format
 * for its messages, and the time of its last pong. Its unit subscriptions
 * are the connection's subscriptions ({@link UnitSubscription}).
 */
import type { Connection } from '../stream/connection.js'
import type { Framing } from './framing.js'
import type { UnitSubscription } from './unit-subscription.js'

/** A telemetry stream (SPEC §6). */
export interface TelemetryStream extends Connection {
  /** Its id, sent first as `{"type":"stream_id"}`: at least 128 random bits. */
  readonly streamId: string
  /** How its messages are put on its wire. */
  readonly framing: Framing
  /** When it last answered a ping (or connected), `Date.now()` ms. */
  lastPongAt: number
  /** Queues one message built for this stream alone. */
  sendMessage(json: string): void
  /** Ends it for a missed pong. */
  timeOut(): void
}

/** The subscription of `unitId` on `stream`, if any. */
export function unitOf(stream: TelemetryStream, unitId: string): UnitSubscription | undefined {
  for (const subscription of stream.subscriptions) {
    if ((subscription as UnitSubscription).unitId === unitId)
      return subscription as UnitSubscription
  }
  return undefined
}
