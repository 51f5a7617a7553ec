/**
 * The peer: signalk-server 2.32.0 from npm, installed on first use into the
 * git-ignored bench/.peers/signalk (it installs from the registry only with
 * `@signalk/streams` pinned to 6.0.0 by an npm override). Each start gets a
 * fresh config dir: security off, mDNS and the TCP/NMEA interfaces off,
 * every listener forced onto 127.0.0.1 by the `loopback.cjs` preload.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { BENCH_DIR, type Child, startChild } from '../lib/spawn.js'

/** The signalk-server version measured. */
export const SIGNALK_VERSION = '2.32.0'

const PEER_DIR = join(BENCH_DIR, '.peers', 'signalk')
const BIN = join(PEER_DIR, 'node_modules', 'signalk-server', 'bin', 'signalk-server')

/** Installs signalk-server into bench/.peers/signalk unless it is there already. */
export function ensureSignalk(): void {
  if (existsSync(BIN)) return
  mkdirSync(PEER_DIR, { recursive: true })
  writeFileSync(
    join(PEER_DIR, 'package.json'),
    JSON.stringify({
      name: 'keelson-bench-peers',
      private: true,
      dependencies: { 'signalk-server': SIGNALK_VERSION },
      overrides: { '@signalk/streams': '6.0.0' },
    }),
  )
  console.error(`installing signalk-server ${SIGNALK_VERSION} into ${PEER_DIR} (once)…`)
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: PEER_DIR,
    stdio: 'inherit',
  })
}

/** A running signalk-server. */
export interface RunningSignalk {
  child: Child
  port: number
  /** Stops it and removes its config dir. */
  stop(): Promise<void>
}

/** Starts a fresh signalk-server on 127.0.0.1 and waits until it answers. */
export async function startSignalk(): Promise<RunningSignalk> {
  ensureSignalk()
  const port = await freePort()
  const configDir = mkdtempSync(join(PEER_DIR, 'config-'))
  writeFileSync(
    join(configDir, 'settings.json'),
    JSON.stringify({
      mdns: false,
      ssl: false,
      pipedProviders: [],
      interfaces: { tcp: false, 'nmea-tcp': false, appstore: false, 'n2k-discovery': false },
    }),
  )
  const child = startChild('signalk-server', BIN, ['--no-plugins', '--no-webapps'], {
    cwd: configDir,
    nodeArgs: ['--expose-gc', '-r', join(BENCH_DIR, 'servers', 'loopback.cjs')],
    // Its start-up warnings (node version, WASI) would drown the bench's progress lines.
    stderrFile: join(PEER_DIR, 'signalk.log'),
    env: {
      PORT: String(port),
      SIGNALK_NODE_CONFIG_DIR: configDir,
      MAX_WS_CONNECTIONS_PER_IP: '1000000',
      SIGNALK_DISABLE_SERVER_UPDATES: '1',
      NODE_ENV: 'production',
    },
  })
  const stop = async () => {
    await child.stop()
    rmSync(configDir, { recursive: true, force: true })
  }
  try {
    await waitForHttp(`http://127.0.0.1:${port}/signalk`, child, 60_000)
  } catch (error) {
    await stop()
    throw error
  }
  return { child, port, stop }
}

async function waitForHttp(url: string, child: Child, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exited) throw new Error('signalk-server exited during start-up')
    try {
      const res = await fetch(url)
      if (res.ok) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`signalk-server did not answer ${url} within ${timeoutMs} ms`)
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      const port = typeof address === 'object' && address ? address.port : 0
      probe.close(() => resolve(port))
    })
  })
}
