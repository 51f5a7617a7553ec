import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { generateVoyage, voyageFixes } from '../../fixtures/generate-demo-voyage.js'
import type { JsonObject } from '../../src/core/json.js'
import { parseDotPath } from '../../src/core/path.js'
import { StateTree } from '../../src/core/state-tree.js'
import { type ReplayProvider, startReplayProvider } from '../../src/ingest/replay-provider.js'
import { applyDelta, type Delta } from '../../src/signalk/delta.js'
import { silent, tempDir, until } from './support.js'

const SECONDS = 20
const KNOT = 1852 / 3600
const rad = (deg: number) => (deg * Math.PI) / 180
const START = new Date('2031-05-01T12:00:00.000Z')

let tmp: ReturnType<typeof tempDir>
let replay: ReplayProvider | undefined
let tree: StateTree

function value(path: string): unknown {
  return (tree.get(parseDotPath(path, tree.selfKey)) as JsonObject | undefined)?.value
}

/** Advances fake time in steps, letting file reads complete in between, until `r` ends or `predicate` holds. */
async function drive(r: ReplayProvider, predicate?: () => boolean): Promise<void> {
  let ended = false
  void r.done.then(() => {
    ended = true
  })
  const deadline = Date.now() + 600_000
  while (!(predicate ? predicate() : ended)) {
    if (Date.now() > deadline) throw new Error('the replay did not get there in 10 fake minutes')
    await vi.advanceTimersByTimeAsync(100)
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

function start(lines: string[], options: { rate?: number; loop?: boolean } = {}): ReplayProvider {
  const file = tmp.file('voyage.nmea', lines)
  replay = startReplayProvider({
    file,
    sink: (delta) => void applyDelta(tree, delta as Delta),
    log: silent,
    ...options,
  })
  return replay
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  vi.setSystemTime(START)
  tmp = tempDir()
  tree = new StateTree({ mmsi: '230099999' })
})

afterEach(async () => {
  await replay?.close()
  replay = undefined
  vi.useRealTimers()
  tmp.remove()
})

describe('log replay', () => {
  it('gives the tree of the last fix, in Signal K units (degrees, m/s, radians, kelvin)', async () => {
    const r = start(generateVoyage({ seconds: SECONDS }), { rate: 1000 })
    await drive(r)
    const last = voyageFixes({ seconds: SECONDS }).at(-1)!
    const position = value('vessels.self.navigation.position') as {
      latitude: number
      longitude: number
    }
    expect(position.latitude).toBeCloseTo(last.lat, 5)
    expect(position.longitude).toBeCloseTo(last.lon, 5)
    expect(value('vessels.self.navigation.speedOverGround')).toBeCloseTo(
      Number(last.sog.toFixed(1)) * KNOT,
      4,
    )
    expect(value('vessels.self.navigation.courseOverGroundTrue')).toBeCloseTo(
      rad(Number(last.cog.toFixed(1))),
      6,
    )
    expect(value('vessels.self.navigation.headingTrue')).toBeCloseTo(
      rad(Number(last.heading.toFixed(1))),
      6,
    )
    expect(value('vessels.self.environment.depth.belowTransducer')).toBeCloseTo(
      Number(last.depth.toFixed(1)),
      6,
    )
    // MTW comes every 10 s: the last one is second 10's.
    const temp = voyageFixes({ seconds: SECONDS })[10]!.waterTemp
    expect(value('vessels.self.environment.water.temperature')).toBeCloseTo(
      Number(temp.toFixed(1)) + 273.15,
      2,
    )
    expect(typeof value('vessels.self.environment.wind.angleApparent')).toBe('number')
    expect(typeof value('vessels.self.environment.wind.speedApparent')).toBe('number')
    const leaf = tree.get(parseDotPath('vessels.self.navigation.speedOverGround', tree.selfKey))
    expect(leaf).toMatchObject({ $source: 'replay-voyage.GP', sentence: 'RMC' })
    expect((leaf as JsonObject).timestamp).toMatch(/^2031-05-01T12:0\d:\d\d\.\d{3}Z$/)
    expect(r.counters).toMatchObject({ badChecksum: 0, malformed: 0, unknown: 0, rejected: 0 })
  })

  it('puts AIS targets in their own vessels.urn:mrn:imo:mmsi contexts', async () => {
    const r = start(generateVoyage({ seconds: SECONDS }), { rate: 1000 })
    await drive(r)
    const ferry = tree.get(parseDotPath('vessels.urn:mrn:imo:mmsi:228456780')) as JsonObject
    expect(ferry).toMatchObject({ mmsi: '228456780', name: 'BELLE ILOISE' })
    expect(value('vessels.urn:mrn:imo:mmsi:228456780.navigation.speedOverGround')).toBeCloseTo(
      14.5 * KNOT,
      4,
    )
    const vessels = Object.keys(tree.get(parseDotPath('vessels')) as JsonObject)
    expect(vessels.sort()).toEqual(
      [
        tree.selfKey,
        'urn:mrn:imo:mmsi:226543210',
        'urn:mrn:imo:mmsi:227123450',
        'urn:mrn:imo:mmsi:227987650',
        'urn:mrn:imo:mmsi:228456780',
      ].sort(),
    )
  })

  it('plays in real time from the RMC times: one second of log per second', async () => {
    const lines = generateVoyage({ seconds: SECONDS })
    const fixes = voyageFixes({ seconds: SECONDS })
    const r = start(lines)
    const perSecond = lines.findIndex((line, i) => i > 0 && line.startsWith('$GPRMC'))
    await until(() => r.counters.lines === perSecond)
    expect(value('vessels.self.navigation.position')).toMatchObject({
      latitude: expect.closeTo(fixes[0]!.lat, 5),
    })
    await vi.advanceTimersByTimeAsync(5000)
    expect(value('vessels.self.navigation.position')).toMatchObject({
      latitude: expect.closeTo(fixes[5]!.lat, 5),
    })
    expect(value('vessels.self.navigation.datetime')).toBe('2026-06-21T09:00:05.000Z')
  })

  it('plays at --replay-rate lines per second when given', async () => {
    const r = start(generateVoyage({ seconds: SECONDS }), { rate: 10 })
    await until(() => r.counters.lines === 1)
    await vi.advanceTimersByTimeAsync(2000)
    expect(r.counters.lines).toBe(21)
  })

  it('starts again at the end of the file with loop, and stops on close', async () => {
    const lines = generateVoyage({ seconds: 3 })
    const r = start(lines, { loop: true })
    await until(() => r.counters.lines > 0)
    const started = Date.now()
    await drive(r, () => r.counters.lines > 2 * lines.length)
    // Three passes of a 3-second log: 2 s of RMC times each, at least 1 s a pass.
    expect(Date.now() - started).toBeGreaterThanOrEqual(4000)
    await r.close()
    const seen = r.counters.lines
    await vi.advanceTimersByTimeAsync(5000)
    expect(r.counters.lines).toBe(seen)
  })

  it('counts the bad lines of a log and applies the good ones', async () => {
    const good = generateVoyage({ seconds: 2 })
    const r = start(
      ['garbage \x00\xff', ...good.slice(0, 3), `${good[0]!.slice(0, 20)}`, ...good.slice(3)],
      {
        rate: 1000,
      },
    )
    await drive(r)
    expect(r.counters).toMatchObject({ lines: good.length + 2, malformed: 2 })
    expect(value('vessels.self.navigation.headingTrue')).toBeTypeOf('number')
  })

  it('ends quietly when the file cannot be read', async () => {
    replay = startReplayProvider({ file: `${tmp.dir}/missing.nmea`, sink: () => {}, log: silent })
    await expect(replay.done).resolves.toBeUndefined()
  })
})
