/**
 * The servers under test and how the load generator reaches each: where its
 * clients stream from and how changes are injected. keelson's Signal K
 * WebSocket joins once `src/signalk/` exists.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type Child, startTsChild } from './lib/spawn.js'
import type { LoadConfig } from './load/main.js'
import { startSignalk } from './servers/signalk.js'

/** A started server. */
export interface Running {
  child: Child
  port: number
  stop(): Promise<void>
}

/** One server (and transport) the bench measures. */
export interface Target {
  /** Short name in the tables. */
  id: string
  role: 'keelson' | 'peer' | 'ceiling'
  transport: 'sse' | 'ws'
  /** Why it is skipped, when it is. */
  skip?: string
  start(options: { cpuProf?: string }): Promise<Running>
  /** The load generator's streams and injection for this server. */
  load(port: number): Pick<LoadConfig, 'transport' | 'port' | 'streamPath' | 'streamUrl' | 'inject'>
  /** The REST path of the self vessel, for scenario (e); none when it has no REST. */
  restPath?: string
}

const SELF = '/signalk/v1/api/vessels/self'
// keelson's Signal K WebSocket counts once createApp wires it in (src/signalk/ is being built).
const SIGNALK_WS_EXISTS = readFileSync(
  fileURLToPath(new URL('../src/app.ts', import.meta.url)),
  'utf8',
).includes('./signalk/')

async function startTs(file: string, cpuProf?: string): Promise<Running> {
  const nodeArgs = [
    '--expose-gc',
    ...(process.env.BENCH_SERVER_ARGS?.split(' ').filter(Boolean) ?? []),
    ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] : []),
  ]
  const child = startTsChild(file, file, [], { nodeArgs })
  const ready = await child.next('ready', 30_000)
  return { child, port: ready.port as number, stop: () => child.stop() }
}

/** Every target, in table order. */
export const TARGETS: Target[] = [
  {
    id: 'keelson-sse',
    role: 'keelson',
    transport: 'sse',
    start: ({ cpuProf }) => startTs('servers/keelson.ts', cpuProf),
    load: (port) => ({
      transport: 'sse',
      port,
      streamPath: SELF,
      streamUrl: '',
      inject: { kind: 'http-patch', port, path: SELF },
    }),
    restPath: SELF,
  },
  {
    id: 'keelson-ws',
    role: 'keelson',
    transport: 'ws',
    skip: SIGNALK_WS_EXISTS ? undefined : 'keelson Signal K WebSocket not built yet (src/signalk/)',
    start: ({ cpuProf }) => startTs('servers/keelson.ts', cpuProf),
    load: (port) => ({
      transport: 'ws',
      port,
      streamPath: '',
      streamUrl: '/signalk/v1/stream?subscribe=all',
      inject: { kind: 'ws-delta', url: `ws://127.0.0.1:${port}/signalk/v1/stream?subscribe=none` },
    }),
  },
  {
    id: 'signalk-server',
    role: 'peer',
    transport: 'ws',
    start: async () => {
      const sk = await startSignalk()
      return { child: sk.child, port: sk.port, stop: sk.stop }
    },
    load: (port) => ({
      transport: 'ws',
      port,
      streamPath: '',
      streamUrl: '/signalk/v1/stream?subscribe=all',
      inject: { kind: 'ws-delta', url: `ws://127.0.0.1:${port}/signalk/v1/stream?subscribe=none` },
    }),
    restPath: SELF,
  },
  {
    id: 'ceiling',
    role: 'ceiling',
    transport: 'sse',
    start: ({ cpuProf }) => startTs('servers/ceiling.ts', cpuProf),
    load: (port) => ({
      transport: 'sse',
      port,
      streamPath: '/',
      streamUrl: '',
      inject: { kind: 'http-patch', port, path: '/' },
    }),
  },
]
