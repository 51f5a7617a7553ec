/**
 * A `ws` client of `/signalk/v1/stream` that keeps every message, or the
 * HTTP answer of a refused upgrade: a refusal is a status on the socket
 * (`unexpected-response`), never a socket opened then closed.
 */
import { WebSocket } from 'ws'

/** An upgrade answered with an HTTP status instead of a WebSocket. */
export interface Refused {
  refused: true
  status: number
  body: string
  /** True when the socket was opened before the refusal (it must never be). */
  opened: boolean
}

/** One open connection. */
export class WsPeer {
  readonly refused = false
  readonly messages: any[] = []
  closed = false
  closeCode: number | undefined
  closeReason = ''
  private read = 0
  private syncs = 0
  private waiters: (() => void)[] = []

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      this.messages.push(isBinary ? { binaryFrame: true } : JSON.parse(data.toString()))
      this.wake()
    })
    ws.on('close', (code, reason) => {
      this.closed = true
      this.closeCode = code
      this.closeReason = reason.toString()
      this.wake()
    })
    ws.on('error', () => {})
  }

  /** Connects to `url` (a `ws://` URL) with `headers`; the open peer, or the refusal. */
  static connect(url: string, headers: Record<string, string> = {}): Promise<WsPeer | Refused> {
    const ws = new WebSocket(url, { headers })
    return new Promise((resolve, reject) => {
      let opened = false
      ws.once('open', () => {
        opened = true
        resolve(new WsPeer(ws))
      })
      ws.once('unexpected-response', (_req, res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve({ refused: true, status: res.statusCode ?? 0, body, opened }))
        res.on('error', () => resolve({ refused: true, status: res.statusCode ?? 0, body, opened }))
      })
      ws.once('error', (err) => {
        if (!opened) reject(err)
      })
    })
  }

  /** Connects and expects the upgrade to succeed. */
  static async open(url: string, headers: Record<string, string> = {}): Promise<WsPeer> {
    const peer = await WsPeer.connect(url, headers)
    if (peer.refused) throw new Error(`upgrade refused: ${peer.status} ${peer.body}`)
    return peer
  }

  /** The next unread message. */
  async next(ms = 3000): Promise<any> {
    const deadline = Date.now() + ms
    while (this.read >= this.messages.length) {
      if (this.closed) throw new Error(`closed (${this.closeCode} ${this.closeReason})`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('timed out waiting for a message')
      await this.wait(left)
    }
    return this.messages[this.read++]
  }

  /** The next unread message with this `requestId`, skipping others. */
  async reply(requestId: string): Promise<any> {
    for (;;) {
      const message = await this.next()
      if (message.requestId === requestId) return message
    }
  }

  /** Unread messages up to now, after a round trip proves the server sent all it had. */
  async drain(): Promise<any[]> {
    const requestId = `sync-${++this.syncs}`
    this.send({ requestId, sync: true })
    const out: any[] = []
    for (;;) {
      const message = await this.next()
      if (message.requestId === requestId) return out
      out.push(message)
    }
  }

  /** Resolves when the server has closed the connection, or rejects after `ms`. */
  async untilClosed(ms = 5000): Promise<void> {
    const deadline = Date.now() + ms
    while (!this.closed) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('the connection stayed open')
      await this.wait(left)
    }
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message))
  }

  close(): void {
    this.ws.terminate()
  }

  private wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.min(ms, 100))
      this.waiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake()
  }
}

/** Deltas among `messages`, flattened to `{context, path, value}`. */
export function deltaValues(messages: any[]): { context: string; path: string; value: unknown }[] {
  return messages.flatMap((m) =>
    (m.updates ?? []).flatMap((u: any) =>
      (u.values ?? []).map((v: any) => ({ context: m.context, path: v.path, value: v.value })),
    ),
  )
}
