/**
 * A keelson server that can stop and come back on the same port, for the
 * client's reconnection tests: `resume()` brings the same app back (its
 * history is there, so clients resume by `Last-Event-ID`), `replace()`
 * brings a fresh app (a new epoch: every resume is answered with a reset).
 */
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createApp, type Keelson } from '../../src/app.js'
import type { Json } from '../../src/core/json.js'
import { parseUrlPath } from '../../src/core/path.js'
import type { KeelsonOptions } from '../../src/options.js'

export class Restartable {
  private server: Server | undefined
  port = 0

  private constructor(
    public keelson: Keelson,
    private readonly options: Partial<KeelsonOptions>,
  ) {}

  /** Starts an app on 127.0.0.1, port 0. */
  static async start(options: Partial<KeelsonOptions> = {}): Promise<Restartable> {
    const running = new Restartable(createApp(options), options)
    await running.listen()
    return running
  }

  /** `http://127.0.0.1:PORT` */
  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** The listening `http.Server`, undefined while stopped. */
  get http(): Server | undefined {
    return this.server
  }

  /** Writes an RFC 7396 patch at a URL path below the API (`/vessels/self/x`), even while stopped. */
  patch(urlPath: string, value: Json): void {
    const { tree } = this.keelson
    this.keelson.writes.patch(parseUrlPath(urlPath, tree.selfKey, 64), value)
  }

  /** Stops listening and ends every open stream; the app and its tree stay. */
  async stop(): Promise<void> {
    const server = this.server
    if (!server) return
    this.server = undefined
    for (const protocol of ['sse', 'ws']) {
      for (const connection of [...this.keelson.streams.connectionsOf(protocol)]) {
        connection.end()
        connection.close()
      }
    }
    server.closeAllConnections()
    server.close()
    await once(server, 'close')
  }

  /** Listens again on the same port with the same app. */
  async resume(): Promise<void> {
    await this.listen()
  }

  /** Stops, then listens on the same port with a fresh app (new epoch, empty tree). */
  async replace(): Promise<void> {
    await this.stop()
    this.keelson.close()
    this.keelson = createApp(this.options)
    await this.listen()
  }

  /** Stops for good. */
  async close(): Promise<void> {
    await this.stop()
    this.keelson.close()
  }

  private async listen(): Promise<void> {
    const server = createServer(this.keelson.app)
    this.keelson.attach(server)
    server.listen(this.port, '127.0.0.1')
    await once(server, 'listening')
    this.port = (server.address() as AddressInfo).port
    this.server = server
  }
}
