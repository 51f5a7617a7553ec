import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { KeelsonError } from '../../src/core/errors.js'
import type { JsonObject } from '../../src/core/json.js'
import { parseDotPath } from '../../src/core/path.js'
import { StateTree } from '../../src/core/state-tree.js'
import { applyDelta, type Delta, parsedPathCacheSize, sourceId } from '../../src/signalk/delta.js'

const schema = createRequire(import.meta.url)('@signalk/signalk-schema') as {
  validateFull(tree: unknown): { valid: boolean; errors: { message: string; dataPath: string }[] }
}

const MMSI = '230099999'
const T1 = '2026-01-01T00:00:00.000Z'
const T2 = '2026-01-01T00:00:01.000Z'
const gps = { label: 'ttyUSB0', type: 'NMEA0183', talker: 'GP', sentence: 'RMC' }

function tree(): StateTree {
  return new StateTree({ mmsi: MMSI })
}

function get(t: StateTree, dotted: string): unknown {
  return t.get(parseDotPath(dotted, t.selfKey))
}

describe('applyDelta', () => {
  it('writes a value with its $source and timestamp under the self vessel', () => {
    const t = tree()
    const change = applyDelta(t, {
      context: 'vessels.self',
      updates: [
        {
          source: gps,
          timestamp: T1,
          values: [{ path: 'navigation.speedOverGround', value: 3.85 }],
        },
      ],
    })
    expect(change?.rev).toBe(1)
    expect(get(t, 'vessels.self.navigation.speedOverGround')).toEqual({
      value: 3.85,
      $source: 'ttyUSB0.GP',
      timestamp: T1,
      sentence: 'RMC',
    })
    expect(get(t, 'sources.ttyUSB0')).toEqual({
      label: 'ttyUSB0',
      type: 'NMEA0183',
      GP: { talker: 'GP', sentences: { RMC: T1 } },
    })
    expect(schema.validateFull(t.get({ segments: [], starAt: -1 })).valid).toBe(true)
  })

  it('treats a missing context as the self vessel and path "" as root fields', () => {
    const t = tree()
    applyDelta(t, { updates: [{ $source: 'a.b', values: [{ path: '', value: { name: 'Kea' } }] }] })
    expect(get(t, 'vessels.self.name')).toBe('Kea')
    expect(get(t, 'sources.a')).toEqual({ b: {} })
  })

  it('keeps every source of a path in the values map with the latest on top', () => {
    const t = tree()
    const sog = (s: string, value: number, timestamp: string): Delta => ({
      updates: [{ $source: s, timestamp, values: [{ path: 'navigation.speedOverGround', value }] }],
    })
    applyDelta(t, sog('gps.GP', 3.1, T1))
    applyDelta(t, sog('log.VW', 2.9, T2))
    expect(get(t, 'vessels.self.navigation.speedOverGround')).toEqual({
      value: 2.9,
      $source: 'log.VW',
      timestamp: T2,
      values: {
        'gps.GP': { value: 3.1, timestamp: T1 },
        'log.VW': { value: 2.9, timestamp: T2 },
      },
    })
    applyDelta(t, sog('gps.GP', 3.2, T2))
    expect(get(t, 'vessels.self.navigation.speedOverGround')).toMatchObject({
      value: 3.2,
      $source: 'gps.GP',
      values: { 'gps.GP': { value: 3.2 }, 'log.VW': { value: 2.9 } },
    })
  })

  it('removes only the value key for a null value, keeping timestamp and $source', () => {
    const t = tree()
    applyDelta(t, {
      updates: [{ $source: 's.1', timestamp: T1, values: [{ path: 'a.b', value: 1 }] }],
    })
    applyDelta(t, {
      updates: [{ $source: 's.1', timestamp: T2, values: [{ path: 'a.b', value: null }] }],
    })
    expect(get(t, 'vessels.self.a.b')).toEqual({ $source: 's.1', timestamp: T2 })
  })

  it('replaces an object value whole instead of merging it', () => {
    const t = tree()
    const position = (value: JsonObject): Delta => ({
      updates: [
        { $source: 's.1', timestamp: T1, values: [{ path: 'navigation.position', value }] },
      ],
    })
    applyDelta(t, position({ latitude: 60, longitude: 24, altitude: 3 }))
    applyDelta(t, position({ latitude: 61, longitude: 25 }))
    expect(get(t, 'vessels.self.navigation.position.value')).toEqual({
      latitude: 61,
      longitude: 25,
    })
  })

  it('merges meta into <path>.meta', () => {
    const t = tree()
    applyDelta(t, {
      updates: [
        {
          $source: 's.1',
          meta: [{ path: 'environment.depth.belowKeel', value: { units: 'm', zones: [] } }],
        },
      ],
    })
    expect(get(t, 'vessels.self.environment.depth.belowKeel.meta')).toEqual({
      units: 'm',
      zones: [],
    })
  })

  it('applies a whole delta as one revision, and a repeated one as none', () => {
    const t = tree()
    const delta: Delta = {
      updates: [
        { $source: 's.1', timestamp: T1, values: [{ path: 'a', value: 1 }] },
        { $source: 's.1', timestamp: T1, values: [{ path: 'b', value: 2 }] },
      ],
    }
    expect(applyDelta(t, delta)?.rev).toBe(1)
    expect(applyDelta(t, structuredClone(delta))).toBeUndefined()
    expect(t.rev).toBe(1)
  })

  it('fills the identity of a new vessel context', () => {
    const t = tree()
    applyDelta(t, {
      context: 'vessels.urn:mrn:imo:mmsi:123456789',
      updates: [
        {
          $source: 'ais.AI',
          timestamp: T1,
          values: [{ path: 'navigation.courseOverGroundTrue', value: 1 }],
        },
      ],
    })
    expect(get(t, 'vessels.urn:mrn:imo:mmsi:123456789.mmsi')).toBe('123456789')
  })

  it('refuses forbidden keys and malformed deltas, applying nothing', () => {
    const t = tree()
    const bad: unknown[] = [
      {
        updates: [
          {
            $source: 's',
            values: [
              { path: 'a', value: 1 },
              { path: 'x.__proto__.y', value: 1 },
            ],
          },
        ],
      },
      JSON.parse(
        '{"updates":[{"$source":"s","values":[{"path":"a","value":{"__proto__":{"z":1}}}]}]}',
      ),
      { updates: [{ $source: 'constructor', values: [{ path: 'a', value: 1 }] }] },
      { updates: [{ source: { label: 'prototype' }, values: [{ path: 'a', value: 1 }] }] },
      { updates: [{ $source: 's', values: [{ path: 'a', value: 1 }, { path: 'b' }] }] },
      { updates: [{ $source: 's', values: [{ path: 'a.*', value: 1 }] }] },
      { context: 'vessels', updates: [] },
      { updates: 'nope' },
    ]
    for (const delta of bad) {
      expect(() => applyDelta(t, delta as Delta)).toThrow(KeelsonError)
      expect(() => applyDelta(t, delta as Delta, { builtInProcess: true })).toThrow(KeelsonError)
    }
    expect(t.rev).toBe(0)
    expect(({} as Record<string, unknown>).z).toBeUndefined()
  })
})

describe('sourceId', () => {
  it('derives the $source label as signalk-server does', () => {
    expect(sourceId({ label: 'n2k', src: '3' })).toBe('n2k.3')
    expect(sourceId({ label: 'n2k', canName: 'c0ffee', src: '3' })).toBe('n2k.c0ffee')
    expect(sourceId({ label: 'tcp', talker: 'GP' })).toBe('tcp.GP')
    expect(sourceId({ label: 'tcp' })).toBe('tcp.XX')
    expect(sourceId(undefined)).toBe('no_source')
  })
})

describe('the parsed delta path cache', () => {
  it('keeps no long paths, so refused deltas with huge paths hold no memory', () => {
    const t = tree()
    const before = parsedPathCacheSize()
    for (let i = 0; i < 20; i++) {
      const path = `${'p'.repeat(900_000)}${i}`
      expect(() =>
        applyDelta(t, { updates: [{ values: [{ path, value: Number.POSITIVE_INFINITY }] }] }),
      ).toThrow(KeelsonError)
    }
    expect(parsedPathCacheSize()).toBe(before)
    expect(t.rev).toBe(0)
  })
})
