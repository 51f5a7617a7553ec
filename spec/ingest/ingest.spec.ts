import { spawn } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { generateVoyage } from '../../fixtures/generate-demo-voyage.js'
import { loadConfig } from '../../src/config.js'
import { StateTree } from '../../src/core/state-tree.js'
import { DEMO_FILE, type Ingest, IngestConfigError, startIngest } from '../../src/ingest/ingest.js'
import { capturingLog, silent, tempDir } from './support.js'

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
