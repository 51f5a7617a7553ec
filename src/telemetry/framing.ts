/**
 * How a telemetry stream puts one JSON message on its wire: an unnamed SSE
 * event (`data: <json>\n\n`, chunked on HTTP/1.1, raw on HTTP/1.0) or a
 * WebSocket text frame. Each framing has a name, so a message framed once
 * is shared by every stream of that framing ({@link ScopedUpdate.frame}).
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html
 * @see https://www.rfc-editor.org/rfc/rfc6455#section-5.2
 */
import { chunk } from '../http/sse-connection.js'
import { textFrame } from '../signalk/ws-frame.js'

/** A wire format of telemetry messages. */
export interface Framing {
  /** Names its frames in an update's frame cache. */
  readonly name: string
  /** The bytes of one message. */
  frame(json: string): Buffer
  /** The bytes of several messages, in order, as one Buffer. */
  frames(json: readonly string[]): Buffer
  /** `{"type":"ping"}`, framed once. */
  readonly ping: Buffer
}

/** `{"type":"ping"}` (SPEC §6), sent every `pingIntervalMs`. */
export const PING = '{"type":"ping"}'

function sseEvent(json: string): Buffer {
  return Buffer.from(`data: ${json}\n\n`)
}

function sseEvents(json: readonly string[]): string {
  let text = ''
  for (const message of json) text += `data: ${message}\n\n`
  return text
}

/** SSE on HTTP/1.0: raw bytes. */
export const SSE_RAW: Framing = Object.freeze({
  name: 'tsse',
  frame: sseEvent,
  frames: (json: readonly string[]) => Buffer.from(sseEvents(json)),
  ping: sseEvent(PING),
})

/** SSE on HTTP/1.1: each write one chunk of the chunked transfer coding. */
export const SSE_CHUNKED: Framing = Object.freeze({
  name: 'tsse/c',
  frame: (json: string) => chunk(sseEvent(json)),
  frames: (json: readonly string[]) => chunk(Buffer.from(sseEvents(json))),
  ping: chunk(sseEvent(PING)),
})

/** The WebSocket variant (`/ws/telemetry`): one text frame per message. */
export const WS_TEXT: Framing = Object.freeze({
  name: 'tws',
  frame: textFrame,
  frames: (json: readonly string[]) =>
    json.length === 1 ? textFrame(json[0]!) : Buffer.concat(json.map(textFrame)),
  ping: textFrame(PING),
})
