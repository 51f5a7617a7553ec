import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { voyageFixes } from '../../fixtures/generate-demo-voyage.js'
import type { JsonObject } from '../../src/core/json.js'
import { parseDotPath } from '../../src/core/path.js'
import { bearing, distance } from '../../src/course/geodesy.js'
import { type Ingest, startIngest } from '../../src/ingest/ingest.js'
import { type Running, startServer } from '../support/server.js'

/** A destination 0.02° north of the middle of the demo boat's loop (47.5°N, 3.03°W). */
const NORTH = { latitude: 47.52, longitude: -3.03 }
/** Where the demo boat sails, fix by fix (fixtures/generate-demo-voyage.ts). */
const FIXES = voyageFixes().map((f) => ({ latitude: f.lat, longitude: f.lon }))

let running: Running
let ingest: Ingest | undefined

beforeEach(async () => {
  running = await startServer({ coursePeriodMs: 50 })
})

afterEach(async () => {
  await ingest?.close()
  ingest = undefined
  await running.close()
})

function value(path: string): unknown {
  const tree = running.keelson.tree
  return (tree.get(parseDotPath(`vessels.self.${path}`, tree.selfKey)) as JsonObject | undefined)
    ?.value
}

async function until(predicate: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('the course of the demo boat', () => {
  it('gives bearing and distance to a destination that change as the boat sails, until cleared', async () => {
    // The demo voyage replayed 20 times faster than sailed (about 7.5 lines a fix).
    ingest = await startIngest(running.keelson, {
      demo: true,
      loop: true,
      nmeaTcp: [],
      replayRate: 150,
    })
    await until(() => value('navigation.position') !== undefined)
    const res = await fetch(
      `${running.url}/signalk/v2/api/vessels/self/navigation/course/destination`,
      {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ position: NORTH }),
      },
    )
    expect(res.status).toBe(200)

    // The bounds of what the boat's fixes give; a calculation is made from one of them.
    const distances = FIXES.map((p) => distance(p, NORTH))
    const bearings = FIXES.map((p) => {
      const b = bearing(p, NORTH)
      return b > Math.PI ? b - 2 * Math.PI : b
    })
    const seen = new Set<number>()
    await until(() => {
      const d = value('navigation.course.calcValues.distance')
      if (typeof d === 'number') seen.add(d)
      // Sailing across the line of sight changes the distance little: wait for a few metres.
      return seen.size >= 5 && Math.max(...seen) - Math.min(...seen) > 5
    })
    // The NMEA positions are rounded to 0.0001 minute (under 0.2 m).
    for (const d of seen) {
      expect(d).toBeGreaterThanOrEqual(Math.min(...distances) - 0.5)
      expect(d).toBeLessThanOrEqual(Math.max(...distances) + 0.5)
    }
    const b = value('navigation.course.calcValues.bearingTrue') as number
    const signed = b > Math.PI ? b - 2 * Math.PI : b
    expect(signed).toBeGreaterThanOrEqual(Math.min(...bearings) - 1e-4)
    expect(signed).toBeLessThanOrEqual(Math.max(...bearings) + 1e-4)
    // The RMC sentences give a variation of 0.5° W: magnetic is true + 0.5°.
    const variation = value('navigation.magneticVariation') as number
    expect(variation).toBeCloseTo((-0.5 * Math.PI) / 180, 6)
    await until(() => {
      const t = value('navigation.course.calcValues.bearingTrue') as number
      const m = value('navigation.course.calcValues.bearingMagnetic') as number
      return Math.abs(((m - (t - variation) + 3 * Math.PI) % (2 * Math.PI)) - Math.PI) < 1e-9
    })
    const vmg = value('navigation.course.calcValues.velocityMadeGood')
    expect(typeof vmg).toBe('number')
    expect(Math.abs(vmg as number)).toBeLessThan(9 * (1852 / 3600))

    const clear = await fetch(`${running.url}/signalk/v2/api/vessels/self/navigation/course`, {
      method: 'DELETE',
    })
    expect(clear.status).toBe(200)
    expect(value('navigation.course.calcValues.distance')).toBeUndefined()
    // The boat sails on; no course values come back.
    const rev = running.keelson.tree.rev
    await until(() => running.keelson.tree.rev > rev + 10)
    expect(value('navigation.course.calcValues.distance')).toBeUndefined()
    expect(value('navigation.course.nextPoint')).toBeUndefined()
  })
})
