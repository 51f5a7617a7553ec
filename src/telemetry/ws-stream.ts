/**
 * A telemetry stream over WebSocket (`/ws/telemetry`, SPEC §6): the same
 * messages as the SSE stream, as text frames built once and written to the
 * socket by the shared stream writer, and the client's requests as
 * messages: `{"type":"subscribe"|"unsubscribe","token"}` and
 * `{"type":"pong"}`. A bad request gets `{"type":"error",...}` back and the
 * connection stays open; an unsubscribe is answered
 * `{"type":"unsubscribed","unit_id"}`.
 */
import type { Duplex } from 'node:stream'
import type WebSocket from 'ws'
import { Errors, KeelsonError } from '../core/errors.js'
import { isObject, type Json } from '../core/json.js'
import type { StreamStats } from '../stream/connection.js'
import type { Streams } from '../stream/streams.js'
import { WsConnection } from '../stream/ws-connection.js'
import { type Framing, WS_TEXT } from './framing.js'
import type { TelemetryStream } from './stream.js'

/** The protocol name of WebSocket telemetry streams. */
export const TELEMETRY_WS = 'telemetry-ws'

/** What a WebSocket telemetry stream asks of its service. */
export interface WsStreamOwner {
  readonly stats: StreamStats
  forget(stream: TelemetryStream): void
  /** Subscribes `stream` with a unit token; rejects with a KeelsonError. */
  subscribe(stream: TelemetryStream, token: string): Promise<void>
  /** Unsubscribes the token's unit; resolves to the unit id. */
  unsubscribe(stream: TelemetryStream, token: string): Promise<string>
}

/** One WebSocket telemetry stream. */
export class TelemetryWsStream extends WsConnection implements TelemetryStream {
  readonly framing: Framing = WS_TEXT
  lastPongAt = Date.now()

  constructor(
    streams: Streams,
    ws: WebSocket,
    socket: Duplex,
    private readonly owner: WsStreamOwner,
    readonly streamId: string,
  ) {
    super(streams, ws, socket, owner.stats)
  }

  get protocol(): string {
    return TELEMETRY_WS
  }

  /** Nothing: the service's `ping` messages keep the stream alive. */
  keepAlive(): void {}

  sendMessage(json: string): void {
    this.send(WS_TEXT.frame(json))
  }

  /** Closes for a missed pong (1008). */
  timeOut(): void {
    this.ws.close(1008, 'no pong')
  }

  /** Handles one message from the client; never throws. */
  receive(data: string): void {
    if (this.closed) return
    let message: Json
    try {
      message = JSON.parse(data) as Json
    } catch {
      this.refuse(new KeelsonError(Errors.BAD_JSON), undefined)
      return
    }
    const type = isObject(message) ? message.type : undefined
    if (type === 'pong') {
      this.lastPongAt = Date.now()
      return
    }
    const token = isObject(message) && typeof message.token === 'string' ? message.token : ''
    if (type === 'subscribe') {
      this.owner.subscribe(this, token).catch((err: unknown) => this.refuse(err, type))
    } else if (type === 'unsubscribe') {
      this.owner.unsubscribe(this, token).then(
        (unitId) => this.sendMessage(JSON.stringify({ type: 'unsubscribed', unit_id: unitId })),
        (err: unknown) => this.refuse(err, type),
      )
    } else {
      this.refuse(
        new KeelsonError(
          Errors.BAD_MESSAGE,
          'Send {"type":"subscribe","token"}, {"type":"unsubscribe","token"} or {"type":"pong"}',
        ),
        undefined,
      )
    }
  }

  override close(): void {
    if (this.closed) return
    super.close()
    this.owner.forget(this)
  }

  private refuse(err: unknown, request: string | undefined): void {
    if (this.closed) return
    const error = err instanceof KeelsonError ? err : new KeelsonError(Errors.INTERNAL)
    if (!(err instanceof KeelsonError)) {
      this.streams.log.error({ err }, 'telemetry ws request failed')
    }
    this.sendMessage(
      JSON.stringify({
        type: 'error',
        ...(request !== undefined && { request }),
        status: error.status,
        code: error.code,
        message: error.message,
      }),
    )
  }
}
