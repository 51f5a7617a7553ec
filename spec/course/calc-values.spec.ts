import { describe, expect, it } from 'vitest'
import { calculate, remaining } from '../../src/course/calc-values.js'
import type { CourseInfo } from '../../src/course/course-info.js'
import {
  bearing,
  crossTrackDistance,
  distance,
  passedPerpendicular,
  velocityMadeGood,
} from '../../src/course/geodesy.js'

const R = 6_371_000
const rad = (deg: number) => (deg * Math.PI) / 180
/** One degree of a great circle on the course calculations' sphere, metres: R·π/180. */
const DEGREE_M = (R * Math.PI) / 180

function course(
  from: [number, number],
  to: [number, number],
  extra: Partial<CourseInfo> = {},
): CourseInfo {
  return {
    startTime: '2026-12-02T10:00:00.000Z',
    targetArrivalTime: null,
    arrivalCircle: 0,
    activeRoute: null,
    previousPoint: { type: 'VesselPosition', position: { latitude: from[0], longitude: from[1] } },
    nextPoint: { type: 'Location', position: { latitude: to[0], longitude: to[1] } },
    ...extra,
  }
}

describe('great-circle geometry', () => {
  it('measures a degree of a meridian and of the equator as R·π/180', () => {
    expect(distance({ latitude: 0, longitude: 0 }, { latitude: 1, longitude: 0 })).toBeCloseTo(
      DEGREE_M,
      6,
    )
    expect(distance({ latitude: 0, longitude: 0 }, { latitude: 0, longitude: 1 })).toBeCloseTo(
      DEGREE_M,
      6,
    )
    expect(DEGREE_M).toBeCloseTo(111_194.93, 2)
  })

  it('measures (0,0) to (1,1) as the haversine gives it by hand: 157 249.38 m', () => {
    // a = sin²(0.5°)·(1 + cos 1°), c = 2·asin(√a)
    const a = Math.sin(rad(0.5)) ** 2 * (1 + Math.cos(rad(1)))
    const byHand = 2 * R * Math.asin(Math.sqrt(a))
    expect(byHand).toBeCloseTo(157_249.38, 2)
    expect(distance({ latitude: 0, longitude: 0 }, { latitude: 1, longitude: 1 })).toBeCloseTo(
      byHand,
      6,
    )
  })

  it('gives the initial bearing true, in radians from north clockwise', () => {
    const origin = { latitude: 0, longitude: 0 }
    expect(bearing(origin, { latitude: 1, longitude: 0 })).toBeCloseTo(0, 12)
    expect(bearing(origin, { latitude: 0, longitude: 1 })).toBeCloseTo(Math.PI / 2, 12)
    expect(bearing(origin, { latitude: -1, longitude: 0 })).toBeCloseTo(Math.PI, 12)
    expect(bearing(origin, { latitude: 0, longitude: -1 })).toBeCloseTo((3 * Math.PI) / 2, 12)
    // From (0,0) to (1,1): atan2(sin 1°·cos 1°, sin 1°) = atan(cos 1°), a hair under 45°.
    expect(bearing(origin, { latitude: 1, longitude: 1 })).toBeCloseTo(
      Math.atan(Math.cos(rad(1))),
      12,
    )
    expect(bearing(origin, { latitude: 1, longitude: 1 })).toBeCloseTo(rad(44.995636), 6)
  })

  it('gives London Heathrow to New York JFK as published: 5 540 km on a bearing of 288°', () => {
    const lhr = { latitude: 51.47, longitude: -0.4543 }
    const jfk = { latitude: 40.6413, longitude: -73.7781 }
    expect(distance(lhr, jfk) / 1000).toBeCloseTo(5540, 0)
    expect((bearing(lhr, jfk) * 180) / Math.PI).toBeCloseTo(287.94, 1)
  })

  it('signs the cross-track error as Signal K does: left of the track negative, right positive', () => {
    const start = { latitude: 0, longitude: 0 }
    const east = { latitude: 0, longitude: 1 }
    // Sailing east along the equator, 0.01° north is to port (left), 0.01° south to starboard (right);
    // off a great circle by an angle φ the cross-track distance is R·φ.
    expect(crossTrackDistance({ latitude: 0.01, longitude: 0.5 }, start, east)).toBeCloseTo(
      -R * rad(0.01),
      6,
    )
    expect(crossTrackDistance({ latitude: -0.01, longitude: 0.5 }, start, east)).toBeCloseTo(
      R * rad(0.01),
      6,
    )
    // Sailing north along the meridian, east is to starboard.
    const north = { latitude: 1, longitude: 0 }
    expect(crossTrackDistance({ latitude: 0.5, longitude: 0.01 }, start, north)).toBeGreaterThan(
      1111,
    )
    expect(crossTrackDistance({ latitude: 0.5, longitude: -0.01 }, start, north)).toBeLessThan(
      -1111,
    )
    expect(crossTrackDistance({ latitude: 0.5, longitude: 0 }, start, north)).toBeCloseTo(0, 6)
  })

  it('tells when the vessel has passed the perpendicular of the next point', () => {
    const start = { latitude: 0, longitude: 0 }
    const end = { latitude: 1, longitude: 0 }
    expect(passedPerpendicular({ latitude: 0.99, longitude: 0.05 }, start, end)).toBe(false)
    expect(passedPerpendicular({ latitude: 1.01, longitude: 0.05 }, start, end)).toBe(true)
  })

  it('gives velocity made good as SOG·cos(bearing − COG)', () => {
    expect(velocityMadeGood(5, 0, 0)).toBeCloseTo(5, 12)
    expect(velocityMadeGood(5, rad(60), rad(90))).toBeCloseTo(5 * Math.cos(rad(30)), 12)
    expect(velocityMadeGood(5, rad(350), rad(10))).toBeCloseTo(5 * Math.cos(rad(20)), 12)
    expect(velocityMadeGood(5, Math.PI, 0)).toBeCloseTo(-5, 12)
    expect(velocityMadeGood(5, 0, Math.PI / 2)).toBeCloseTo(0, 12)
  })
})

describe('the calculated values', () => {
  const now = Date.parse('2026-12-02T12:00:00.000Z')

  it('gives bearing, distance, cross-track error, VMG, time to go and ETA of a destination', () => {
    // Started at (0,0) for (0,1) due east; now 0.01° north of the track, halfway, heading east at 5 m/s.
    const result = calculate(
      course([0, 0], [0, 1]),
      {
        position: { latitude: 0.01, longitude: 0.5 },
        speedOverGround: 5,
        courseOverGroundTrue: Math.PI / 2,
      },
      now,
    )!
    const v = result.values
    expect(v.calcMethod).toBe('GreatCircle')
    expect(v.bearingTrackTrue).toBeCloseTo(Math.PI / 2, 12)
    expect(v.crossTrackError).toBeCloseTo(-R * rad(0.01), 6)
    // Half a degree along, 0.01° across: at this scale the sphere is flat to a few cm.
    expect(v.distance as number).toBeCloseTo(Math.hypot(DEGREE_M / 2, R * rad(0.01)), 0)
    expect(v['previousPoint.distance'] as number).toBeCloseTo(v.distance as number, 6)
    // The next point is a little to the south of east: VMG a hair under SOG.
    expect(v.bearingTrue as number).toBeGreaterThan(Math.PI / 2)
    expect(v.bearingTrue as number).toBeLessThan(Math.PI / 2 + rad(1.2))
    const vmg = 5 * Math.cos((v.bearingTrue as number) - Math.PI / 2)
    expect(v.velocityMadeGood).toBeCloseTo(vmg, 12)
    expect(v.timeToGo).toBeCloseTo((v.distance as number) / vmg, 2)
    expect(Date.parse(v.estimatedTimeOfArrival as string) - now).toBeCloseTo(
      ((v.distance as number) / vmg) * 1000,
      -1,
    )
    // No variation known: no magnetic bearing; no route, no target time.
    expect(v.bearingMagnetic).toBeNull()
    expect(v.bearingTrackMagnetic).toBeNull()
    expect(v['route.distance']).toBeNull()
    expect(v.targetSpeed).toBeNull()
    expect(result.distance).toBe(v.distance)
  })

  it('gives the magnetic bearing as true minus an easterly variation', () => {
    const result = calculate(
      course([0, 0], [1, 0]),
      { position: { latitude: 0, longitude: 0 }, magneticVariation: rad(10) },
      now,
    )!
    // True 0°, variation 10° E: magnetic 350°.
    expect(result.values.bearingMagnetic).toBeCloseTo(rad(350), 12)
    expect(result.values.bearingTrackMagnetic).toBeCloseTo(rad(350), 12)
  })

  it('has no time to go while the vessel does not close on the next point', () => {
    const result = calculate(
      course([0, 0], [1, 0]),
      {
        position: { latitude: 0.5, longitude: 0 },
        speedOverGround: 3,
        courseOverGroundTrue: Math.PI,
      },
      now,
    )!
    expect(result.values.velocityMadeGood).toBeCloseTo(-3, 12)
    expect(result.values.timeToGo).toBeNull()
    expect(result.values.estimatedTimeOfArrival).toBeNull()
  })

  it('adds the legs left of an active route and the speed needed for a target arrival time', () => {
    const points = [
      { latitude: 0, longitude: 0 },
      { latitude: 1, longitude: 0 },
      { latitude: 2, longitude: 0 },
      { latitude: 2, longitude: 1 },
    ]
    const info = course([0, 0], [1, 0], {
      activeRoute: { href: '/resources/routes/x', pointIndex: 1, pointTotal: 4, reverse: false },
      targetArrivalTime: new Date(now + 3_600_000).toISOString(),
    })
    const result = calculate(
      info,
      { position: { latitude: 0.5, longitude: 0 }, speedOverGround: 4, courseOverGroundTrue: 0 },
      now,
      points,
    )!
    // Half a degree to point 1, then a degree of meridian and a degree of the parallel at 2°N.
    const rest = DEGREE_M + distance(points[2]!, points[3]!)
    expect(remaining(points, info.activeRoute!)).toBeCloseTo(rest, 6)
    expect(result.values['route.distance']).toBeCloseTo(DEGREE_M / 2 + rest, 3)
    expect(result.values['route.timeToGo']).toBeCloseTo((DEGREE_M / 2 + rest) / 4, 2)
    expect(result.values.targetSpeed).toBeCloseTo((DEGREE_M / 2 + rest) / 3600, 6)
  })

  it('is nothing without a vessel position', () => {
    expect(calculate(course([0, 0], [1, 0]), {}, now)).toBeUndefined()
  })
})
