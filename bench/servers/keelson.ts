/**
 * keelson under test: `createApp` listening on 127.0.0.1 (port 0), seeded
 * with the paths the injector writes. Tells the bench its port over IPC.
 * `--security FILE` opens that security file (users, ACLs: scenario h and
 * the login flood); without it the server has none, as before.
 */
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import pino from 'pino'
import '../lib/gc-on-signal.js'
import '../lib/gc-stats.js'
import '../lib/loop-delay.js'
import type { AddressInfo } from 'node:net'
import { createApp } from '../../src/app.js'
import type { JsonObject } from '../../src/core/json.js'
import { parseUrlPath } from '../../src/core/path.js'
import { SecurityStore } from '../../src/security/store.js'
import { ACL_PATHS } from '../load/acl-classes.js'
import { PATHS, seedPatch } from '../load/changes.js'

const { values } = parseArgs({ options: { security: { type: 'string' } } })
const security = values.security
  ? await SecurityStore.open(values.security, pino({ level: 'silent' }))
  : undefined

// The load generator opens up to 19,000 streams from a few 127.0.0.x addresses: past the
// default per-IP connection limit (SPEC §8), which is not what the bench measures.
// The journal bench (bench/journal.ts): BENCH_DATA_DIR with BENCH_JOURNAL sync, async or
// each (sync with an fsync per write instead of one per turn).
const dataDir = process.env.BENCH_DATA_DIR
const journal = process.env.BENCH_JOURNAL
const keelson = createApp({
  keepAliveMs: 15_000,
  maxConnectionsPerIp: 100_000,
  ...(dataDir && {
    dataDir,
    journal: journal === 'async' ? 'async' : 'sync',
    journalGroupCommit: journal !== 'each',
  }),
  ...(security !== undefined && { security }),
})
// Seeded at 0 with the paths the scenario writes, so every snapshot has its final shape.
keelson.writes.patch(parseUrlPath('/'), {
  vessels: { [keelson.tree.selfKey]: seedPatch(security ? ACL_PATHS : PATHS) },
} as JsonObject)
const server = createServer(keelson.app)
keelson.attach(server)
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  process.send?.({ type: 'ready', port })
})

function shutdown(): void {
  keelson.close()
  security?.close()
  server.closeAllConnections()
  server.close(() => process.exit(0))
  // Upgraded (WebSocket) sockets keep close() waiting; exit anyway so --cpu-prof is written.
  setTimeout(() => process.exit(0), 500).unref()
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
process.on('disconnect', shutdown)
