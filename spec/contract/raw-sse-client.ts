/**
 * An SSE client on a raw `node:net` socket, for the contract suite: it
 * parses the HTTP/1.1 response head, decodes chunked transfer coding
 * (RFC 9112 §7.1) and the event stream as WHATWG §9.2.6 does, keeps every
 * frame with the time it arrived, and can stop reading its socket so the
 * server's side fills (congestion) and read again.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
import { connect, type Socket } from 'node:net'
import { StringDecoder } from 'node:string_decoder'

/** One frame of the stream, dispatched at its blank line. */
export interface SseFrame {
  /** The frame's own `id:` field, when it had one (WHATWG keeps the last one across frames). */
  id?: string
  /** The event type: "message" when unnamed. */
  event: string
  /** The data lines joined with "\n", or undefined when the frame had none. */
  data?: string
  /** `performance.now()` when the frame was parsed. */
  at: number
}

/** The answer to a request that did not open a stream. */
export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
}

const HEAD_END = '\r\n\r\n'

/** A GET with `Accept: text/event-stream` on its own connection. */
export class RawSseClient {
  readonly frames: SseFrame[] = []
  status = 0
  headers: Record<string, string> = {}
  closed = false
  private readonly socket: Socket
  private head = Buffer.alloc(0)
  private headDone = false
  private chunked = false
  private bodyBytes = Buffer.alloc(0)
  private readonly decoder = new StringDecoder('utf8')
  private text = ''
  private fields: { id?: string; event: string; data: string[] } = { event: '', data: [] }
  private waiters: (() => void)[] = []
  private onHead: ((ok: boolean) => void) | undefined

  private constructor(port: number, target: string, headers: Record<string, string>) {
    this.socket = connect(port, '127.0.0.1')
    this.socket.on('error', () => {})
    this.socket.on('data', (bytes: Buffer) => this.receive(bytes))
    this.socket.on('close', () => {
      this.closed = true
      this.onHead?.(false)
      this.wake()
    })
    const lines = [
      `GET ${target} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      'Accept: text/event-stream',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ]
    this.socket.write(`${lines.join('\r\n')}${HEAD_END}`)
  }

  /**
   * Sends the request to `url` and resolves once the response head is in:
   * with the client when it is a stream, else with the whole response.
   */
  static open(
    url: string,
    headers: Record<string, string> = {},
  ): Promise<RawSseClient | RawResponse> {
    const { port, pathname, search } = new URL(url)
    const client = new RawSseClient(Number(port), pathname + search, headers)
    return new Promise((resolve, reject) => {
      client.onHead = (ok) => {
        client.onHead = undefined
        if (!ok && client.status === 0) reject(new Error('connection closed before a response'))
        else if (client.isStream()) resolve(client)
        else client.rest().then(resolve, reject)
      }
    })
  }

  /** Whether the response is an open event stream. */
  isStream(): boolean {
    return this.status === 200 && /^text\/event-stream/.test(this.headers['content-type'] ?? '')
  }

  /** Resolves at the next frame or close, or after `ms`. */
  changed(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.waiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  /** Stops reading the socket: the kernel buffers fill, then the server's. */
  pause(): void {
    this.socket.pause()
  }

  /** Reads the socket again. */
  resume(): void {
    this.socket.resume()
  }

  close(): void {
    this.socket.destroy()
  }

  private receive(bytes: Buffer): void {
    if (this.headDone) {
      this.body(bytes)
      return
    }
    this.head = Buffer.concat([this.head, bytes])
    const end = this.head.indexOf(HEAD_END)
    if (end < 0) return
    const [statusLine = '', ...fieldLines] = this.head
      .subarray(0, end)
      .toString('latin1')
      .split('\r\n')
    this.status = Number(statusLine.split(' ')[1])
    for (const line of fieldLines) {
      const colon = line.indexOf(':')
      this.headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    this.chunked = /chunked/i.test(this.headers['transfer-encoding'] ?? '')
    this.headDone = true
    const rest = this.head.subarray(end + HEAD_END.length)
    this.head = Buffer.alloc(0)
    this.onHead?.(true)
    if (rest.length > 0) this.body(rest)
  }

  /** A response that is not a stream: its body, by Content-Length, chunks or close. */
  private async rest(): Promise<RawResponse> {
    const length = Number(this.headers['content-length'] ?? Number.NaN)
    while (!this.closed && !(this.bodyBytes.length >= length) && !this.chunksEnded()) {
      await this.changed(50)
    }
    this.socket.destroy()
    const body = this.chunked ? this.dechunk(true) : this.bodyBytes
    return { status: this.status, headers: this.headers, body: body.toString('utf8') }
  }

  private chunksEnded(): boolean {
    return this.chunked && this.bodyBytes.includes('\r\n0\r\n\r\n')
  }

  private body(bytes: Buffer): void {
    this.bodyBytes = Buffer.concat([this.bodyBytes, bytes])
    if (!this.isStream()) {
      this.wake()
      return
    }
    const data = this.chunked ? this.dechunk(false) : this.bodyBytes
    if (!this.chunked) this.bodyBytes = Buffer.alloc(0)
    this.parse(this.decoder.write(data))
    this.wake()
  }

  /** The payload of the complete chunks received; with `all`, of every chunk up to the last. */
  private dechunk(all: boolean): Buffer {
    const out: Buffer[] = []
    let at = 0
    for (;;) {
      const lineEnd = this.bodyBytes.indexOf('\r\n', at)
      if (lineEnd < 0) break
      const size = Number.parseInt(this.bodyBytes.subarray(at, lineEnd).toString('latin1'), 16)
      if (size === 0 || this.bodyBytes.length < lineEnd + 2 + size + 2) break
      out.push(this.bodyBytes.subarray(lineEnd + 2, lineEnd + 2 + size))
      at = lineEnd + 2 + size + 2
    }
    if (!all) this.bodyBytes = this.bodyBytes.subarray(at)
    return Buffer.concat(out)
  }

  /** WHATWG §9.2.6: lines end with CRLF, LF or CR; a blank line dispatches. */
  private parse(text: string): void {
    this.text += text
    // A CR at the end may be the first half of a CRLF: it waits for the next bytes.
    const lines = this.text.split(/\r\n|\r(?!$)|\n/)
    this.text = lines.pop() ?? ''
    for (const line of lines) {
      if (line === '') {
        this.dispatch()
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      let value = colon < 0 ? '' : line.slice(colon + 1)
      if (value.startsWith(' ')) value = value.slice(1)
      if (field === 'id' && !value.includes('\u0000')) this.fields.id = value
      else if (field === 'event') this.fields.event = value
      else if (field === 'data') this.fields.data.push(value)
    }
  }

  private dispatch(): void {
    const { id, event, data } = this.fields
    this.fields = { event: '', data: [] }
    const frame: SseFrame = { event: event || 'message', at: performance.now() }
    if (id !== undefined) frame.id = id
    if (data.length > 0) frame.data = data.join('\n')
    this.frames.push(frame)
  }

  private wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }
}
