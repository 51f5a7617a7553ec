/**
 * The list filters' arithmetic and parsing (src/resources/filter.ts) against
 * hand-computed values: great-circle distances on geolib's sphere (radius
 * 6378137 m, as signalk-server's filter), and signalk-server's query bounds.
 */
import { describe, expect, it } from 'vitest'
import { distanceM, parseListQuery, passes } from '../../src/resources/filter.js'

const R = 6_378_137

describe('distanceM', () => {
  it('gives a quarter of a great circle between the equator and a pole, or 90° of the equator', () => {
    expect(distanceM([0, 0], [0, 90])).toBeCloseTo((R * Math.PI) / 2, 3)
    expect(distanceM([0, 0], [90, 0])).toBeCloseTo((R * Math.PI) / 2, 3)
    expect(distanceM([-45, 0], [135, 0])).toBeCloseTo(R * Math.PI, 3)
  })

  it('shrinks a degree of longitude by the cosine of the latitude (short arcs)', () => {
    // At 60° N one degree of longitude is half a degree of the equator, to a few centimetres.
    expect(distanceM([0, 60], [1, 60])).toBeCloseTo((R * Math.PI) / 360, -1)
    expect(distanceM([10, 60], [10, 60])).toBe(0)
  })

  it('is the short way round across the antimeridian', () => {
    expect(distanceM([179.5, 0], [-179.5, 0])).toBeCloseTo((R * Math.PI) / 180, 3)
  })
})

describe('parseListQuery', () => {
  const q = (s: string, standard = true) => parseListQuery(new URLSearchParams(s), standard)

  it('reads JSON values as signalk-server does', () => {
    expect(q('position=[-1.5,50.25]&distance=20000&limit=5&bbox=[-2,50,-1,51]')).toEqual({
      position: [-1.5, 50.25],
      distance: 20000,
      limit: 5,
      bbox: [-2, 50, -1, 51],
    })
    expect(q('position=-1.5,50.25').position).toEqual([-1.5, 50.25])
    expect(q('href=/resources/waypoints/x&group=g')).toEqual({
      href: '/resources/waypoints/x',
      group: 'g',
    })
  })

  it("holds standard types to signalk-server's OpenAPI bounds, custom types to finite numbers", () => {
    expect(() => q('distance=99')).toThrow(/distance/)
    expect(() => q('distance=150.5')).toThrow(/distance/)
    expect(q('distance=0.5', false).distance).toBe(0.5)
    expect(() => q('distance=-1', false)).toThrow(/distance/)
    expect(() => q('limit=0', false)).toThrow(/limit/)
  })
})

describe('passes', () => {
  const at = (lon: number, lat: number) => ({
    feature: { geometry: { type: 'Point', coordinates: [lon, lat] } },
  })

  it('takes a polygon or multipolygon within distance when any vertex is', () => {
    const ring = [
      [
        [0, 1],
        [1, 1],
        [1, 2],
        [0, 1],
      ],
    ]
    const query = { position: [0, 0] as const, distance: 111_320 }
    expect(
      passes({ feature: { geometry: { type: 'Polygon', coordinates: ring } } }, 'regions', query),
    ).toBe(true)
    expect(
      passes(
        { feature: { geometry: { type: 'MultiPolygon', coordinates: [ring] } } },
        'regions',
        query,
      ),
    ).toBe(true)
    expect(
      passes({ feature: { geometry: { type: 'Polygon', coordinates: ring } } }, 'regions', {
        ...query,
        distance: 111_319,
      }),
    ).toBe(false)
  })

  it('keeps a point in the box whichever corners the box names first', () => {
    expect(passes(at(5, 5), 'waypoints', { bbox: [0, 0, 10, 10] })).toBe(true)
    expect(passes(at(5, 5), 'waypoints', { bbox: [10, 10, 0, 0] })).toBe(true)
    expect(passes(at(11, 5), 'waypoints', { bbox: [0, 0, 10, 10] })).toBe(false)
    expect(passes({ name: 'nowhere' }, 'waypoints', { bbox: [0, 0, 10, 10] })).toBe(false)
  })
})
