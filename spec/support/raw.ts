/**
 * A raw TCP client for requests no HTTP client library sends (pipelining,
 * odd upgrade targets), and parsers for what comes back: HTTP/1.1 responses
 * with a Content-Length, response heads, chunked transfer coding and SSE
 * events (WHATWG §9.2.6: id, event, data).
 */
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'

/** A raw connection that keeps every byte it receives, as latin1 text. */
export class RawClient {
  received = ''
  closed = false

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.toString('latin1')
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      this.closed = true
    })
  }

  /** Starts connecting to 127.0.0.1:`port`; what is sent before the connection is up is queued. */
  static open(port: number): RawClient {
    return new RawClient(connect(port, '127.0.0.1'))
  }

  /** Connects to 127.0.0.1:`port`. */
  static async connect(port: number): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    return new RawClient(socket)
  }

  send(data: string | Uint8Array): void {
    this.socket.write(data)
  }

  /** Resolves when `predicate` holds, or rejects after `ms` with what was received. */
  async until(predicate: () => boolean, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms
    while (!predicate()) {
      if (Date.now() > deadline) {
        throw new Error(`timed out (closed: ${this.closed}); got ${JSON.stringify(this.received)}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }

  /** The first complete response received. */
  async response(): Promise<RawResponse> {
    let parsed: RawResponse | undefined
    await this.until(() => {
      parsed = parseResponse(this.received)
      return parsed !== undefined
    })
    return parsed!
  }

  /** Resolves when the server closed the connection. */
  async untilClosed(ms?: number): Promise<void> {
    await this.until(() => this.closed, ms)
  }

  close(): void {
    this.socket.destroy()
  }
}

/** A response head: its status, headers (lower-case names) and the bytes after it. */
export interface RawHead {
  status: number
  headers: Record<string, string>
  /** The bytes after the head. */
  rest: string
}

/** A response with its Content-Length body. */
export interface RawResponse extends RawHead {
  body: string
}

/** Parses one response head from the start of `text`, or undefined when it is not all there. */
export function parseHead(text: string): RawHead | undefined {
  const end = text.indexOf('\r\n\r\n')
  if (end < 0) return undefined
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, rest: text.slice(end + 4) }
}

/** Parses one response with a Content-Length (none: no body) from the start of `text`. */
export function parseResponse(text: string): RawResponse | undefined {
  const head = parseHead(text)
  if (head === undefined) return undefined
  const length = Number(head.headers['content-length'] ?? 0)
  if (head.rest.length < length) return undefined
  return { ...head, body: head.rest.slice(0, length), rest: head.rest.slice(length) }
}

/** The body carried by the complete chunks at the start of `text` (RFC 9112 §7.1). */
export function dechunk(text: string): string {
  let out = ''
  let at = 0
  for (;;) {
    const eol = text.indexOf('\r\n', at)
    if (eol < 0) return out
    const size = Number.parseInt(text.slice(at, eol).split(';')[0]!, 16)
    if (!(size > 0)) return out
    const start = eol + 2
    if (text.length < start + size + 2) return out
    out += text.slice(start, start + size)
    at = start + size + 2
  }
}

/** One SSE event. */
export interface RawEvent {
  id?: string
  event: string
  data?: string
}

/** The complete SSE events in `text` (a stream body, already dechunked). */
export function sseEvents(text: string): RawEvent[] {
  const events: RawEvent[] = []
  const blocks = text.split('\n\n')
  blocks.pop()
  for (const block of blocks) {
    const event: RawEvent = { event: 'message' }
    const data: string[] = []
    for (const line of block.split('\n')) {
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'id') event.id = value
      else if (field === 'event') event.event = value
      else if (field === 'data') data.push(value)
    }
    if (data.length > 0) event.data = data.join('\n')
    events.push(event)
  }
  return events
}
