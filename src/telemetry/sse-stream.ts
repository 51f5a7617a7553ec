/**
 * A telemetry stream over SSE (`GET /sse/telemetry/connect`, SPEC §6): an
 * SSE connection of the shared stream writer (src/http/sse-connection.ts:
 * chunked framing on HTTP/1.1, detached from node's HTTP server once open)
 * whose events are unnamed JSON messages with a `type`, holding one
 * {@link UnitSubscription} per subscribed unit. Pings and the pong
 * deadline come from the telemetry service's one shared timer, so the
 * writer's keep-alive tick has nothing to add.
 */
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { SseConnection, type SseShared } from '../http/sse-connection.js'
import type { Streams } from '../stream/streams.js'
import { type Framing, SSE_CHUNKED, SSE_RAW } from './framing.js'
import type { TelemetryStream } from './stream.js'

/** What a telemetry connection tells its service. */
export interface StreamOwner extends SseShared {
  /** Forgets a closed stream. */
  forget(stream: TelemetryStream): void
}

/** The protocol name of SSE telemetry streams (metrics, logs, the stream registry). */
export const TELEMETRY_SSE = 'telemetry-sse'

/** One SSE telemetry stream. */
export class TelemetrySseStream extends SseConnection implements TelemetryStream {
  readonly framing: Framing
  lastPongAt = Date.now()

  constructor(
    streams: Streams,
    socket: Socket,
    private readonly owner: StreamOwner,
    res: ServerResponse,
    chunked: boolean,
    readonly streamId: string,
  ) {
    super(streams, socket, owner, res, chunked)
    this.framing = chunked ? SSE_CHUNKED : SSE_RAW
  }

  override get protocol(): string {
    return TELEMETRY_SSE
  }

  /** Nothing: the service's `ping` messages keep the stream alive. */
  override keepAlive(): void {}

  /** Queues one message built for this stream alone. */
  sendMessage(json: string): void {
    this.send(this.framing.frame(json))
  }

  /** Ends the stream for a missed pong: the last chunk; a browser's EventSource reconnects. */
  timeOut(): void {
    this.end('expired')
  }

  override close(): void {
    if (this.closed) return
    super.close()
    this.owner.forget(this)
  }
}
