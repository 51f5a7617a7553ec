/**
 * An SSE client's reading side on a raw socket, for the storm: the HTTP/1.1
 * response head, chunked transfer coding (RFC 9112 §7.1) when the server
 * uses it, and the event stream's fields (WHATWG §9.2.6: `data` lines
 * joined, `id` kept across events as the last event ID, comments skipped).
 * Lines end in LF or CRLF (a bare CR is not treated as a line end).
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
import { StringDecoder } from 'node:string_decoder'

/** One dispatched event; `data` is undefined for an event with no `data` line (a keep-alive). */
export interface SseEvent {
  type: string
  data: string | undefined
  /** The last event ID after this event. */
  lastEventId: string
}

const SIZE = 0
const DATA = 1
const CRLF = 2

/** Feeds bytes in, calls `onEvent` per event. One reader per connection. */
export class SseReader {
  /** HTTP status of the response, 0 until its head is in. */
  status = 0
  /** The stream's last event ID (what a reconnect sends as `Last-Event-ID`). */
  lastEventId: string
  private head = ''
  private chunked = false
  private state = SIZE
  private left = 0
  private sizeLine = ''
  private text = ''
  private readonly decoder = new StringDecoder('utf8')
  private data: string[] | undefined
  private type = ''
  /** The last event ID buffer: it becomes {@link lastEventId} when the event is dispatched. */
  private idBuffer: string

  constructor(
    lastEventId: string,
    private readonly onEvent: (event: SseEvent) => void,
  ) {
    this.lastEventId = lastEventId
    this.idBuffer = lastEventId
  }

  /** Takes the next bytes of the connection. */
  feed(bytes: Buffer): void {
    if (this.status !== 0) {
      this.body(bytes, 0)
      return
    }
    this.head += bytes.toString('latin1')
    const end = this.head.indexOf('\r\n\r\n')
    if (end < 0) return
    const head = this.head.slice(0, end)
    this.status = Number.parseInt(head.slice(9, 12), 10) || -1
    this.chunked = /\r\ntransfer-encoding:[ \t]*chunked/i.test(head)
    const rest = Buffer.from(this.head.slice(end + 4), 'latin1')
    this.head = ''
    if (rest.length > 0) this.body(rest, 0)
  }

  private body(bytes: Buffer, from: number): void {
    if (!this.chunked) {
      this.lines(this.decoder.write(from === 0 ? bytes : bytes.subarray(from)))
      return
    }
    let i = from
    while (i < bytes.length) {
      if (this.state === SIZE) {
        const nl = bytes.indexOf(10, i)
        if (nl < 0) {
          this.sizeLine += bytes.toString('latin1', i)
          return
        }
        // parseInt stops at a chunk extension's `;` or the CR.
        const size = Number.parseInt(this.sizeLine + bytes.toString('latin1', i, nl), 16)
        this.sizeLine = ''
        i = nl + 1
        if (size === 0) return
        this.left = size
        this.state = DATA
      } else if (this.state === DATA) {
        const take = Math.min(this.left, bytes.length - i)
        this.lines(this.decoder.write(bytes.subarray(i, i + take)))
        i += take
        this.left -= take
        if (this.left === 0) {
          this.state = CRLF
          this.left = 2
        }
      } else {
        const take = Math.min(this.left, bytes.length - i)
        i += take
        this.left -= take
        if (this.left === 0) this.state = SIZE
      }
    }
  }

  private lines(text: string): void {
    this.text += text
    let at = 0
    for (let nl = this.text.indexOf('\n'); nl >= 0; nl = this.text.indexOf('\n', at)) {
      const end = nl > at && this.text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl
      this.line(this.text.slice(at, end))
      at = nl + 1
    }
    this.text = this.text.slice(at)
  }

  private line(line: string): void {
    if (line === '') {
      this.dispatch()
      return
    }
    if (line.charCodeAt(0) === 58) return // a comment
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.charCodeAt(0) === 32) value = value.slice(1)
    if (field === 'data') {
      if (this.data === undefined) this.data = [value]
      else this.data.push(value)
    } else if (field === 'event') this.type = value
    else if (field === 'id' && !value.includes('\0')) this.idBuffer = value
  }

  private dispatch(): void {
    this.lastEventId = this.idBuffer
    const data = this.data?.join('\n')
    const type = this.type || 'message'
    this.data = undefined
    this.type = ''
    this.onEvent({ type, data, lastEventId: this.lastEventId })
  }
}
