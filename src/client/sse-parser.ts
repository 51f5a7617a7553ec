/**
 * An `text/event-stream` parser that follows the WHATWG rules: lines end in
 * CRLF, LF or CR (even when a chunk splits a CRLF), `:` starts a comment,
 * one leading space of a value is dropped, `id` containing NUL is ignored,
 * `retry` takes digits only, a blank line dispatches, and an event without
 * data is not dispatched but still moves the last event id (a keep-alive
 * with an `id:` moves the resume point). A byte-order mark is the decoder's
 * business (`TextDecoder` drops it).
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */

/** One dispatched event, as `EventSource` would hand it to a listener. */
export interface SseMessage {
  /** The event type: `message` when the stream named none. */
  type: string
  /** The data lines joined by LF. */
  data: string
  /** The last event id when it was dispatched (`''` when the stream never set one). */
  lastEventId: string
}

/** Feeds decoded text in, calls back with each event. */
export class SseParser {
  /** The last event id string of WHATWG §9.2.6: survives events, moved by `id:` at dispatch. */
  lastEventId: string
  /** The last valid `retry:` value, ms; undefined until the stream sends one. */
  retry: number | undefined
  private line = ''
  private afterCR = false
  private data = ''
  private type = ''
  private idBuffer: string

  /**
   * @param onMessage called with every dispatched event.
   * @param lastEventId the id to start from (a resumed stream keeps it until it sends another).
   */
  constructor(
    private readonly onMessage: (message: SseMessage) => void,
    lastEventId = '',
  ) {
    this.lastEventId = lastEventId
    this.idBuffer = lastEventId
  }

  /** Parses the next piece of the stream's text. */
  feed(chunk: string): void {
    let start = 0
    for (let i = 0; i < chunk.length; i++) {
      const code = chunk.charCodeAt(i)
      if (code === 10 && this.afterCR) {
        // The LF of a CRLF (its CR may have ended the previous piece).
        this.afterCR = false
        start = i + 1
        continue
      }
      this.afterCR = false
      if (code === 10 || code === 13) {
        this.processLine(this.line + chunk.slice(start, i))
        this.line = ''
        this.afterCR = code === 13
        start = i + 1
      }
    }
    this.line += chunk.slice(start)
  }

  private processLine(line: string): void {
    if (line === '') {
      this.dispatch()
      return
    }
    if (line.charCodeAt(0) === 58 /* : */) return
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.charCodeAt(0) === 32) value = value.slice(1)
    switch (field) {
      case 'event':
        this.type = value
        break
      case 'data':
        this.data += `${value}\n`
        break
      case 'id':
        if (!value.includes('\0')) this.idBuffer = value
        break
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retry = Number(value)
        break
    }
  }

  private dispatch(): void {
    this.lastEventId = this.idBuffer
    if (this.data === '') {
      this.type = ''
      return
    }
    const message = {
      type: this.type || 'message',
      data: this.data.slice(0, -1),
      lastEventId: this.lastEventId,
    }
    this.data = ''
    this.type = ''
    this.onMessage(message)
  }
}
