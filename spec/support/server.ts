/**
 * A real keelson server on 127.0.0.1 port 0 for stream tests; close it in afterEach.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createApp, type Keelson } from '../../src/app.js'
import type { KeelsonOptions } from '../../src/options.js'

export interface Running {
  keelson: Keelson
  server: Server
  /** `http://127.0.0.1:PORT` */
  url: string
  close(): Promise<void>
}

export async function startServer(options: Partial<KeelsonOptions> = {}): Promise<Running> {
  const keelson = createApp(options)
  const server = createServer(keelson.app)
  keelson.attach(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    keelson,
    server,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await keelson.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
