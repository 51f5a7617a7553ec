/**
 * Great-circle geometry on a sphere, the formulas signalk-server's course
 * calculations use (its `@signalk/course-provider` plugin, after Chris
 * Veness's latlon-spherical): the mean Earth radius of 6 371 km, angles in
 * radians, distances in metres. Positions are Signal K's
 * `{latitude, longitude}` in degrees.
 *
 * @see https://www.movable-type.co.uk/scripts/latlong.html
 */

/** A Signal K position, degrees. */
export interface Position {
  readonly latitude: number
  readonly longitude: number
}

/** The mean Earth radius the course calculations use, metres. */
export const EARTH_RADIUS_M = 6_371_000

const TWO_PI = 2 * Math.PI
const RAD = Math.PI / 180

/** `angle` (radians) in [0, 2π). */
export function wrap2Pi(angle: number): number {
  const a = angle % TWO_PI
  return a < 0 ? a + TWO_PI : a
}

/** `angle` (radians) in (-π, π]. */
export function wrapPi(angle: number): number {
  const a = wrap2Pi(angle)
  return a > Math.PI ? a - TWO_PI : a
}

/** Great-circle (haversine) distance from `a` to `b`, metres. */
export function distance(a: Position, b: Position): number {
  return EARTH_RADIUS_M * angularDistance(a, b)
}

/** The angle at the Earth's centre between `a` and `b`, radians. */
function angularDistance(a: Position, b: Position): number {
  const φ1 = a.latitude * RAD
  const φ2 = b.latitude * RAD
  const sinΔφ = Math.sin((φ2 - φ1) / 2)
  const sinΔλ = Math.sin(((b.longitude - a.longitude) * RAD) / 2)
  const h = sinΔφ * sinΔφ + Math.cos(φ1) * Math.cos(φ2) * sinΔλ * sinΔλ
  // min(): rounding can push h a hair past 1 for antipodal points.
  return 2 * Math.asin(Math.sqrt(Math.min(1, h)))
}

/**
 * Initial great-circle bearing from `a` to `b`, radians true in [0, 2π);
 * 0 when the points coincide (atan2(0, 0)).
 */
export function bearing(a: Position, b: Position): number {
  return wrap2Pi(signedBearing(a, b))
}

/** The bearing of {@link bearing} in (-π, π], as atan2 gives it. */
function signedBearing(a: Position, b: Position): number {
  const φ1 = a.latitude * RAD
  const φ2 = b.latitude * RAD
  const Δλ = (b.longitude - a.longitude) * RAD
  const y = Math.sin(Δλ) * Math.cos(φ2)
  const x = Math.cos(φ1) * Math.sin(φ2) - Math.sin(φ1) * Math.cos(φ2) * Math.cos(Δλ)
  return Math.atan2(y, x)
}

/**
 * Cross-track distance of `p` from the great circle through `start` and
 * `end`, metres, with Signal K's sign: positive when `p` is to the right
 * of the track (steer left), negative to the left (steer right), as the
 * `navigation.course.calcValues.crossTrackError` meta of signalk-server says.
 */
export function crossTrackDistance(p: Position, start: Position, end: Position): number {
  const δ13 = angularDistance(start, p)
  const θ13 = signedBearing(start, p)
  const θ12 = signedBearing(start, end)
  return Math.asin(Math.sin(δ13) * Math.sin(θ13 - θ12)) * EARTH_RADIUS_M
}

/**
 * True once `p` has passed the line through `end` perpendicular to the
 * track from `start`: the bearings from `end` to `p` and to `start` differ
 * by more than 90°.
 */
export function passedPerpendicular(p: Position, start: Position, end: Position): boolean {
  return Math.abs(wrapPi(signedBearing(end, p) - signedBearing(end, start))) > Math.PI / 2
}

/**
 * Velocity made good towards a bearing: the part of the speed over ground
 * along it, m/s (negative when moving away). `bearingTo` and `cog` in radians.
 */
export function velocityMadeGood(sog: number, cog: number, bearingTo: number): number {
  return sog * Math.cos(wrapPi(bearingTo - cog))
}

/** True for a finite latitude in [-90, 90] and longitude in [-180, 180]. */
export function isPosition(value: unknown): value is Position {
  if (typeof value !== 'object' || value === null) return false
  const { latitude, longitude } = value as Record<string, unknown>
  return (
    typeof latitude === 'number' &&
    typeof longitude === 'number' &&
    latitude >= -90 &&
    latitude <= 90 &&
    longitude >= -180 &&
    longitude <= 180
  )
}
