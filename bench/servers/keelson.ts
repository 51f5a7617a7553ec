/**
 * keelson under test: `createApp` listening on 127.0.0.1 (port 0), seeded
 * with the paths the injector writes. Tells the bench its port over IPC.
 */
import { createServer } from 'node:http'
import '../lib/gc-on-signal.js'
import '../lib/loop-delay.js'
import type { AddressInfo } from 'node:net'
import { createApp } from '../../src/app.js'
import type { JsonObject } from '../../src/core/json.js'
import { parseUrlPath } from '../../src/core/path.js'
import { seedPatch } from '../load/changes.js'

// The load generator opens up to 19,000 streams from a few 127.0.0.x addresses: past the
// default per-IP connection limit (SPEC §8), which is not what the bench measures.
const keelson = createApp({ keepAliveMs: 15_000, maxConnectionsPerIp: 100_000 })
keelson.writes.patch(parseUrlPath('/'), {
  vessels: { [keelson.tree.selfKey]: seedPatch() },
} as JsonObject)
const server = createServer(keelson.app)
keelson.attach(server)
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  process.send?.({ type: 'ready', port })
})

function shutdown(): void {
  keelson.close()
  server.closeAllConnections()
  server.close(() => process.exit(0))
  // Upgraded (WebSocket) sockets keep close() waiting; exit anyway so --cpu-prof is written.
  setTimeout(() => process.exit(0), 500).unref()
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
process.on('disconnect', shutdown)
