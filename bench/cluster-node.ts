/**
 * One node of the cluster benches (j) and (k) (bench/cluster.ts): a keelson
 * cluster node on `--redis URL` (startClusterNode, as `keelson --redis`
 * does), or with `--single` a plain keelson without Redis (the (j)
 * baseline), listening on 127.0.0.1 port 0. `--seed` writes the injector's
 * paths at 0 first. Tells the bench its port over IPC and answers `stats`.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import './lib/gc-on-signal.js'
import { createApp, type Keelson } from '../src/app.js'
import type { Cluster } from '../src/cluster/cluster.js'
import { startClusterNode } from '../src/cluster/index.js'
import type { JsonObject } from '../src/core/json.js'
import { PATHS, seedPatch } from './load/changes.js'

const { values } = parseArgs({
  options: {
    redis: { type: 'string' },
    key: { type: 'string', default: 'bench' },
    seed: { type: 'boolean', default: false },
  },
})
const options = {
  keepAliveMs: 15_000,
  // The load generator opens thousands of streams from 127.0.0.1: past the per-IP limit (SPEC §8).
  maxConnectionsPerIp: 1_000_000,
  maxConnections: 1_000_000,
  clusterKey: values.key,
}
let keelson: Keelson
let cluster: Cluster | undefined
if (values.redis !== undefined)
  ({ keelson, cluster } = await startClusterNode(values.redis, options))
else keelson = createApp(options)
if (values.seed) {
  await keelson.writes.submit({
    kind: 'merge',
    path: ['vessels', keelson.tree.selfKey],
    value: seedPatch(PATHS) as JsonObject,
  })
}
const server = createServer(keelson.app)
keelson.attach(server)
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  process.send?.({ type: 'ready', port, rev: keelson.tree.rev })
})
process.on('message', (m: { type?: string; dir?: string; ms?: number }) => {
  if (m.type === 'profile') void profile(m.dir!, m.ms!)
  if (m.type === 'stats') {
    process.send?.({
      type: 'stats',
      rev: keelson.tree.rev,
      eventId: keelson.tree.eventId,
      streams: keelson.streams.size,
      rss: process.memoryUsage().rss,
      ...(cluster !== undefined && { cluster: cluster.stats }),
    })
  }
})

function shutdown(): void {
  void cluster?.close()
  keelson.close()
  server.closeAllConnections()
  server.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 500).unref()
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
process.on('disconnect', shutdown)

/** Writes a CPU profile of the next `ms` to `dir` (BENCH_PROFILE in bench/cluster.ts). */
async function profile(dir: string, ms: number): Promise<void> {
  const { Session } = await import('node:inspector/promises')
  const { writeFile } = await import('node:fs/promises')
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 200 })
  await session.post('Profiler.start')
  await new Promise((resolve) => setTimeout(resolve, ms))
  const { profile } = await session.post('Profiler.stop')
  await writeFile(`${dir}/node-${process.pid}.cpuprofile`, JSON.stringify(profile))
  session.disconnect()
}
