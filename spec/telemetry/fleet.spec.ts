/**
 * The fleet file (SPEC §6, `--fleet FILE`): unit and vehicle ids mapped to
 * contexts, MMSIs as unit ids besides them, reloaded when the file changes
 * with a log line, a bad file refused with a clear message and the old
 * mapping kept.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { parseFleet } from '../../src/telemetry/fleet.js'
import { type Running, startServer } from '../support/server.js'
import { fix, GuideClient, seedVessel, UNIT_A, UNIT_B } from './support.js'

let running: Running | undefined
let dir: string | undefined
const clients: GuideClient[] = []

afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  await running?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
  running = undefined
  dir = undefined
})

async function token(url: string, path: string) {
  const res = await fetch(`${url}/api/v1/monitoring/${path}`)
  return { status: res.status, body: (await res.json()) as any }
}

describe('parseFleet', () => {
  it('reads units as contexts or key arrays and vehicles as their primary unit', () => {
    const fleet = parseFleet(
      JSON.stringify({
        units: {
          '1': 'vessels.urn:mrn:imo:mmsi:1',
          t: { context: 'vessels.self' },
          b: ['atons', 'x'],
        },
        vehicles: { '42': { primary: '1' }, d: 't' },
      }),
    )
    expect([...fleet.units]).toEqual([
      ['1', ['vessels', 'urn:mrn:imo:mmsi:1']],
      ['t', ['vessels', 'self']],
      ['b', ['atons', 'x']],
    ])
    expect([...fleet.vehicles]).toEqual([
      ['42', '1'],
      ['d', 't'],
    ])
  })

  it.each([
    ['not JSON', '{', /not JSON/],
    ['an array', '[]', /JSON object/],
    ['an unknown member', '{"unit":{}}', /unknown member "unit"/],
    ['a context without a key', '{"units":{"1":"vessels"}}', /unit "1" must map to a context/],
    ['a forbidden key', '{"units":{"1":["vessels","__proto__"]}}', /unit "1"/],
    ['a wildcard context', '{"units":{"1":"vessels.*"}}', /unit "1": a unit names one context/],
    ['a vehicle without a primary unit', '{"vehicles":{"v":{}}}', /vehicle "v" must name/],
  ])('refuses %s with a message saying what is wrong', (_name, text, message) => {
    expect(() => parseFleet(text)).toThrow(message)
  })
})

describe('--fleet FILE', () => {
  it('maps unit and vehicle ids to contexts, reloads on change with a log line and keeps the old mapping for a bad file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'keelson-fleet-'))
    const file = join(dir, 'fleet.json')
    await writeFile(
      file,
      JSON.stringify({
        units: { boat: `vessels.urn:mrn:imo:mmsi:${UNIT_A}` },
        vehicles: { '7': { primary: 'boat' } },
      }),
    )
    const lines: any[] = []
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => lines.push(JSON.parse(line)) },
    )
    running = await startServer({ fleetFile: file, fleetPollMs: 20, logger })
    const { url, keelson } = running
    seedVessel(keelson.tree, UNIT_A, fix(60, 25))
    seedVessel(keelson.tree, UNIT_B, fix(59, 24))
    expect(lines.some((l) => l.msg === 'fleet file loaded')).toBe(true)

    expect((await token(url, 'unit/boat')).body.data.unit_id).toBe('boat')
    const vehicle = await token(url, 'vehicle/7/primary')
    expect(vehicle.body.data.unit_id).toBe('boat')
    // MMSIs stay unit ids beside the file's.
    expect((await token(url, `unit/${UNIT_B}`)).status).toBe(200)

    // The vehicle's token subscribes its primary unit, under the fleet's unit id.
    const client = new GuideClient(url)
    clients.push(client)
    await client.until(() => client.streamId !== undefined)
    await fetch(`${url}/sse/telemetry/subscribe/${client.streamId}/${vehicle.body.data.token}`, {
      method: 'POST',
    })
    await client.until(() => client.of('gps', 'boat').length === 1)
    expect(client.of('gps', 'boat')[0]).toMatchObject({ telemetry: { gps: { latitude: 60 } } })

    // Changed: reloaded, with a log line.
    await writeFile(
      file,
      JSON.stringify({
        units: { boat: `vessels.urn:mrn:imo:mmsi:${UNIT_B}`, extra: 'vessels.self' },
      }),
    )
    await vi.waitUntil(() => lines.some((l) => l.msg === 'fleet file reloaded'), { timeout: 3000 })
    expect((await token(url, 'unit/extra')).status).toBe(200)
    expect((await token(url, 'vehicle/7/primary')).status).toBe(404)

    // A bad edit: refused with the reason, the last good mapping kept.
    await writeFile(file, '{"units": {"boat": 12}}   ')
    await vi.waitUntil(() => lines.some((l) => l.level === 50), { timeout: 3000 })
    const refusal = lines.find((l) => l.level === 50)
    expect(refusal.msg).toMatch(/fleet file refused, the previous mapping is kept: unit "boat"/)
    expect((await token(url, 'unit/extra')).status).toBe(200)
  })

  it('stops createApp with a message naming the file when it cannot be used', async () => {
    const { createApp } = await import('../../src/app.js')
    expect(() => createApp({ fleetFile: '/nonexistent/fleet.json' })).toThrow(
      /cannot use the fleet file \/nonexistent\/fleet.json/,
    )
  })
})
