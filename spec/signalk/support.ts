/**
 * Test support for the Signal K stream: a keelson app on a real
 * `http.Server` at port 0, and a `ws` client that queues every message.
 */
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocket } from 'ws'
import { createApp, type Keelson } from '../../src/app.js'
import type { KeelsonOptions } from '../../src/options.js'
import { applyDelta } from '../../src/signalk/delta.js'

/** A listening keelson. */
export interface Running {
  keelson: Keelson
  server: Server
  port: number
  /** Writes `value` at a self vessel dot path, as a delta from `source`. */
  write(path: string, value: unknown, source?: string, context?: string): void
  close(): Promise<void>
}

/** Starts keelson on port 0 (the caller closes it). */
export async function start(
  options: Partial<KeelsonOptions> = {},
  host = '127.0.0.1',
): Promise<Running> {
  const keelson = createApp({ mmsi: '230099999', ...options })
  const server = createServer(keelson.app)
  keelson.attach(server)
  server.listen(0, host)
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  let tick = 0
  return {
    keelson,
    server,
    port,
    write(path, value, source = 'test.XX', context = 'vessels.self') {
      const timestamp = new Date(Date.UTC(2026, 0, 1, 0, 0, 0, tick++)).toISOString()
      applyDelta(keelson.tree, {
        context,
        updates: [{ $source: source, timestamp, values: [{ path, value: value as never }] }],
      })
    },
    async close() {
      keelson.close()
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}

/** A `ws` client that keeps every message, parsed. */
export class Client {
  readonly messages: any[] = []
  private read = 0
  private waiters: (() => void)[] = []
  private syncs = 0
  closed = false

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      // Signal K messages are JSON text frames; a binary frame would break browsers.
      this.messages.push(isBinary ? { binaryFrame: true } : JSON.parse(data.toString()))
      for (const wake of this.waiters.splice(0)) wake()
    })
    ws.on('close', () => {
      this.closed = true
      for (const wake of this.waiters.splice(0)) wake()
    })
  }

  /** Connects to `/signalk/v1/stream?<query>` and reads the hello. */
  static async open(port: number, query = '', options: { autoPong?: boolean; host?: string } = {}) {
    const host = options.host ?? '127.0.0.1'
    const ws = new WebSocket(`ws://${host}:${port}/signalk/v1/stream${query ? `?${query}` : ''}`, {
      autoPong: options.autoPong ?? true,
    })
    const client = new Client(ws)
    await once(ws, 'open')
    return client
  }

  /** The next unread message. */
  async next(): Promise<any> {
    while (this.read >= this.messages.length) {
      if (this.closed) throw new Error('closed')
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
    return this.messages[this.read++]
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

  /** Deltas among `messages`, flattened to `{context, path, value}`. */
  static values(messages: any[]): { context: string; path: string; value: unknown }[] {
    return messages.flatMap((m) =>
      (m.updates ?? []).flatMap((u: any) =>
        (u.values ?? []).map((v: any) => ({ context: m.context, path: v.path, value: v.value })),
      ),
    )
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message))
  }

  close(): void {
    this.ws.terminate()
  }
}
