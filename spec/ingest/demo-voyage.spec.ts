import { readFileSync } from 'node:fs'
import { Parser } from '@signalk/nmea0183-signalk'
import { describe, expect, it } from 'vitest'
import { DEMO_VOYAGE, generateVoyage, voyageFixes } from '../../fixtures/generate-demo-voyage.js'
import { aisPositionReport, aivdm, checksum } from '../../fixtures/nmea-encode.js'

describe('the demo voyage', () => {
  it('is what the generator makes, byte for byte (regenerate it after changing the generator)', () => {
    const lines = generateVoyage()
    expect(readFileSync(DEMO_VOYAGE, 'latin1')).toBe(`${lines.join('\r\n')}\r\n`)
  })

  it('is deterministic for a seed and changes with it', () => {
    expect(generateVoyage({ seconds: 30, seed: 7 })).toEqual(
      generateVoyage({ seconds: 30, seed: 7 }),
    )
    expect(generateVoyage({ seconds: 30, seed: 7 })).not.toEqual(
      generateVoyage({ seconds: 30, seed: 8 }),
    )
  })

  it('holds only sentences the parser accepts with their checksums', () => {
    const parser = new Parser({ validateChecksum: true })
    for (const line of generateVoyage()) {
      const star = line.lastIndexOf('*')
      expect(line.slice(star + 1)).toBe(checksum(line.slice(1, star)))
      expect(() => parser.parse(line)).not.toThrow()
    }
  })

  it('is 15 minutes at 1 Hz on a loop that ends where it starts, at a sailing boat speed', () => {
    const fixes = voyageFixes()
    expect(fixes).toHaveLength(900)
    const first = fixes[0]!
    const last = fixes.at(-1)!
    expect(Math.abs(last.lat - first.lat) * 111_320).toBeLessThan(10)
    for (const fix of fixes) {
      expect(fix.sog).toBeGreaterThan(2)
      expect(fix.sog).toBeLessThan(9)
    }
  })

  it('armours AIS position reports so that a decoder reads the same fields back', () => {
    const [line] = aivdm(
      aisPositionReport({
        mmsi: 227_123_450,
        navStatus: 8,
        sog: 5.8,
        lat: -33.85,
        lon: 151.21,
        cog: 305.5,
        heading: 307,
        second: 42,
      }),
      'B',
      0,
    )
    const delta = new Parser().parse(line!)!
    expect(delta.context).toBe('vessels.urn:mrn:imo:mmsi:227123450')
    const values = Object.fromEntries(delta.updates[0]!.values.map((v) => [v.path, v.value]))
    expect(values['navigation.position']).toEqual({ latitude: -33.85, longitude: 151.21 })
    expect(values['navigation.courseOverGroundTrue']).toBeCloseTo((305.5 * Math.PI) / 180, 6)
    expect(values['navigation.headingTrue']).toBeCloseTo((307 * Math.PI) / 180, 6)
    expect(values['navigation.state']).toBe('sailing')
  })
})
