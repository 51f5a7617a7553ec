import { spawn } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { afterEach, describe, expect, it } from 'vitest'
import { generateVoyage } from '../../fixtures/generate-demo-voyage.js'
import { sentence } from '../../fixtures/nmea-encode.js'
import { loadConfig } from '../../src/config.js'
import { StateTree } from '../../src/core/state-tree.js'
import {
  DEMO_FILE,
  type Ingest,
  type IngestConfig,
  IngestConfigError,
  startIngest,
} from '../../src/ingest/ingest.js'
import type { UdpProvider } from '../../src/ingest/udp-provider.js'
import { capturingLog, silent, tempDir, until } from './support.js'

let ingest: Ingest | undefined
const tmp = tempDir()

afterEach(async () => {
  await ingest?.close()
  ingest = undefined
})

function target() {
  return { tree: new StateTree({ mmsi: '230099999' }), log: silent }
}

describe('startIngest', () => {
  it('replays the demo voyage in a loop when nothing else is configured, and says which file', async () => {
    const { log, records } = capturingLog()
    ingest = await startIngest({ tree: new StateTree(), log }, loadConfig([], {}))
    expect(ingest.stats()).toEqual([
      { kind: 'replay', label: 'demo', counters: expect.any(Object) },
    ])
    expect(records.find((r) => String(r.msg).startsWith('demo voyage'))).toMatchObject({
      file: DEMO_FILE,
    })
  })

  it('plays no demo with --no-demo', async () => {
    ingest = await startIngest(target(), loadConfig(['--no-demo'], {}))
    expect(ingest.providers).toEqual([])
  })

  it('replaces the demo with --replay, and with any live input', async () => {
    const file = tmp.file('short.nmea', generateVoyage({ seconds: 2 }))
    ingest = await startIngest(
      target(),
      loadConfig(['--replay', file, '--replay-rate', '1000'], {}),
    )
    expect(ingest.stats().map((s) => s.label)).toEqual(['replay-short'])
    await ingest.close()
    ingest = await startIngest(target(), loadConfig(['--nmea-udp', '0'], {}))
    expect(ingest.stats().map((s) => s.kind)).toEqual(['udp'])
  })

  it('starts several providers at once from flags and the config file', async () => {
    const config = tmp.file('keelson.json', [JSON.stringify({ nmeaTcp: ['127.0.0.1:9'] })])
    ingest = await startIngest(
      target(),
      loadConfig(['--config', config, '--nmea-udp', '0', '--replay', DEMO_FILE], {}),
    )
    expect(ingest.stats().map((s) => `${s.kind} ${s.label}`)).toEqual([
      'tcp tcp-127_0_0_1-9',
      expect.stringMatching(/^udp udp-\d+$/),
      'replay replay-demo-voyage',
    ])
  })

  it('refuses a replay file that does not exist before starting anything', async () => {
    await expect(
      startIngest(target(), loadConfig(['--replay', `${tmp.dir}/nope.nmea`], {})),
    ).rejects.toBeInstanceOf(IngestConfigError)
  })
})

describe('startIngest with --nmea-udp', () => {
  /** The UDP provider of `ingest` (the only provider these tests start). */
  function udp(ingest: Ingest): UdpProvider {
    const provider = ingest.providers[0]
    expect(provider?.kind).toBe('udp')
    return provider as UdpProvider
  }

  function send(address: string, port: number, text: string): Promise<void> {
    const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4')
    return new Promise<void>((resolve, reject) =>
      socket.send(text, port, address, (err) => (err ? reject(err) : resolve())),
    ).finally(() => socket.close())
  }

  it("binds the UDP socket to the server's --host when it is an IPv4 address, and logs it", async () => {
    const { log, records } = capturingLog()
    ingest = await startIngest(
      { tree: new StateTree(), log },
      loadConfig(['--host', '127.0.0.1', '--nmea-udp', '0'], {}),
    )
    const provider = udp(ingest)
    expect(records.find((r) => String(r.msg).startsWith('NMEA 0183 over UDP'))).toMatchObject({
      address: '127.0.0.1',
      port: provider.port,
      msg: `NMEA 0183 over UDP on 127.0.0.1:${provider.port}`,
    })
    expect(provider.address).toBe('127.0.0.1')
    await send('127.0.0.1', provider.port, sentence('HEHDT', ['10.0', 'T']))
    await until(() => provider.counters.deltas === 1)
  })

  it('binds a udp6 socket when --host is an IPv6 address such as ::1', async () => {
    ingest = await startIngest(
      { tree: new StateTree(), log: silent },
      loadConfig(['--host', '::1', '--nmea-udp', '0'], {}),
    )
    const provider = udp(ingest)
    expect(provider.address).toBe('::1')
    await send('::1', provider.port, sentence('HEHDT', ['10.0', 'T']))
    await until(() => provider.counters.deltas === 1)
  })

  it('binds every IPv4 interface with no host or a wildcard host', async () => {
    const noHost: IngestConfig = { demo: false, loop: false, nmeaTcp: [], nmeaUdp: 0 }
    for (const config of [
      noHost,
      loadConfig(['--nmea-udp', '0'], {}),
      loadConfig(['--host', '::', '--nmea-udp', '0'], {}),
      loadConfig(['--host', '0.0.0.0', '--nmea-udp', '0'], {}),
    ]) {
      ingest = await startIngest(target(), config)
      expect(udp(ingest).address).toBe('0.0.0.0')
      await ingest.close()
      ingest = undefined
    }
  })
})

describe('the keelson command', () => {
  it('serves the replayed log at once with --no-demo --replay FILE --replay-rate', async () => {
    const file = tmp.file('cli.nmea', generateVoyage({ seconds: 3 }))
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli.ts',
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--mmsi',
        '230099999',
        '--no-demo',
        '--replay',
        file,
        '--replay-rate',
        '10000',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    try {
      let out = ''
      const port = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString()
          const match = /listening on http:\/\/localhost:(\d+)/.exec(out)
          if (match && out.includes('replay of')) resolve(match[1]!)
        })
        child.on('exit', (code) => reject(new Error(`keelson exited with ${code}: ${out}`)))
      })
      const res = await fetch(
        `http://127.0.0.1:${port}/signalk/v1/api/vessels/self/navigation/headingTrue`,
      )
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ $source: 'replay-cli.HE', sentence: 'HDT' })
      expect(out).not.toContain('demo voyage')
    } finally {
      child.kill('SIGTERM')
    }
  })
})
