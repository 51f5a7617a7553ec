/**
 * A small SSE test client over node:http, parsing frames as WHATWG §9.2.6
 * does (id, event, data; comments and retry ignored), keeping every event.
 */
import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http'

export interface SseEvent {
  /** The event's `id:` when it had one. */
  id?: string
  /** The event type; "message" when unnamed. */
  event: string
  /** The data, or undefined for frames without data (keep-alives). */
  data?: string
}

export class SseClient {
  readonly events: SseEvent[] = []
  /** Called with each event as it is parsed (when its arrival time matters). */
  onEvent: ((event: SseEvent) => void) | undefined
  response!: IncomingMessage
  closed = false
  /** The last id seen in any frame, as EventSource keeps it. */
  lastEventId: string | undefined
  private buffer = ''
  private waiters: (() => void)[] = []
  private req!: ClientRequest

  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = new SseClient()
    return new Promise((resolve, reject) => {
      client.req = httpRequest(
        url,
        { headers: { Accept: 'text/event-stream', ...headers } },
        (res) => {
          client.response = res
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => client.feed(chunk))
          res.on('close', () => {
            client.closed = true
            client.wake()
          })
          resolve(client)
        },
      )
      client.req.on('error', reject)
      client.req.end()
    })
  }

  /** Messages only (events with data), as `onmessage` sees them. */
  get messages(): SseEvent[] {
    return this.events.filter((e) => e.data !== undefined && e.event === 'message')
  }

  /** Resolves when `predicate` holds, or rejects after `ms`. */
  async until(predicate: () => boolean, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms
    while (!predicate()) {
      if (this.closed) throw new Error('stream closed')
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out; got ${JSON.stringify(this.events.slice(-5))}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50))
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  close(): void {
    this.req.destroy()
  }

  private feed(chunk: string): void {
    this.buffer += chunk
    let end = this.buffer.indexOf('\n\n')
    while (end >= 0) {
      this.parse(this.buffer.slice(0, end))
      this.buffer = this.buffer.slice(end + 2)
      end = this.buffer.indexOf('\n\n')
    }
    this.wake()
  }

  private parse(block: string): void {
    const event: SseEvent = { event: 'message' }
    const data: string[] = []
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'id') event.id = this.lastEventId = value
      else if (field === 'event') event.event = value
      else if (field === 'data') data.push(value)
    }
    if (data.length > 0) event.data = data.join('\n')
    this.events.push(event)
    this.onEvent?.(event)
  }

  private wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }
}
