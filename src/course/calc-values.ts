/**
 * The calculated course values, `navigation.course.calcValues.*`, as
 * signalk-server's course-calculations provider (`@signalk/course-provider`,
 * great-circle method) publishes them: bearing and distance to the next
 * point, cross-track error, velocity made good towards it, time to go and
 * ETA, and the same for the rest of an active route.
 *
 * Where keelson differs from that plugin, on purpose:
 * - `bearingMagnetic` and `bearingTrackMagnetic` are null while
 *   `navigation.magneticVariation` is unknown (the plugin takes it as 0 and
 *   publishes a true bearing labelled magnetic), and are true − variation
 *   (Signal K's variation is what is added to magnetic to get true; the
 *   plugin adds it).
 * - ETA counts from the server's clock, not `navigation.datetime` (a
 *   replayed log's GPS time would put every ETA in the past).
 */
import type { Json } from '../core/json.js'
import type { ActiveRoute, CourseInfo } from './course-info.js'
import {
  bearing,
  crossTrackDistance,
  distance,
  type Position,
  passedPerpendicular,
  velocityMadeGood,
  wrap2Pi,
} from './geodesy.js'

/** What the calculations read from the tree. */
export interface Navigation {
  /** `navigation.position`. */
  readonly position?: Position
  /** `navigation.speedOverGround`, m/s. */
  readonly speedOverGround?: number
  /** `navigation.courseOverGroundTrue`, radians. */
  readonly courseOverGroundTrue?: number
  /** `navigation.magneticVariation`, radians, east positive. */
  readonly magneticVariation?: number
}

/** The result of one calculation. */
export interface CourseCalculation {
  /** Every `navigation.course.calcValues.*` member, by its path below `calcValues`. */
  readonly values: Readonly<Record<string, Json>>
  /** Distance to the next point, metres. */
  readonly distance: number
  /** The vessel has passed the line through the next point square to the track. */
  readonly passedPerpendicular: boolean
}

/** The calculation method (the plugin's default; Rhumbline is not offered). */
export const CALC_METHOD = 'GreatCircle'

/** Paths below `calcValues`, in the order the plugin writes them. */
export const CALC_PATHS: readonly string[] = Object.freeze([
  'calcMethod',
  'bearingTrackTrue',
  'bearingTrackMagnetic',
  'crossTrackError',
  'previousPoint.distance',
  'distance',
  'bearingTrue',
  'bearingMagnetic',
  'velocityMadeGood',
  'timeToGo',
  'estimatedTimeOfArrival',
  'route.timeToGo',
  'route.estimatedTimeOfArrival',
  'route.distance',
  'targetSpeed',
])

/** Every calculated value null (and the method): what is written when a course ends. */
export function emptyValues(): Record<string, Json> {
  const out: Record<string, Json> = {}
  for (const path of CALC_PATHS) out[path] = null
  out.calcMethod = CALC_METHOD
  return out
}

/**
 * The calculated values for `course` at `nav`, `now` ms since the epoch;
 * undefined without a vessel position or a course. `route` is the active
 * route's points in sailing order (reversed when the route is), when known.
 */
export function calculate(
  course: CourseInfo,
  nav: Navigation,
  now: number,
  route?: readonly Position[],
): CourseCalculation | undefined {
  const position = nav.position
  const next = course.nextPoint?.position
  const previous = course.previousPoint?.position
  if (position === undefined || next === undefined || previous === undefined) return undefined
  const variation = nav.magneticVariation
  const trackTrue = bearing(previous, next)
  const bearingTrue = bearing(position, next)
  const toGo = distance(position, next)
  const sog = nav.speedOverGround
  const cog = nav.courseOverGroundTrue
  const vmg =
    sog === undefined || cog === undefined ? null : velocityMadeGood(sog, cog, bearingTrue)

  const values = emptyValues()
  values.bearingTrackTrue = trackTrue
  values.bearingTrackMagnetic = variation === undefined ? null : wrap2Pi(trackTrue - variation)
  values.crossTrackError = crossTrackDistance(position, previous, next)
  values['previousPoint.distance'] = distance(position, previous)
  values.distance = toGo
  values.bearingTrue = bearingTrue
  values.bearingMagnetic = variation === undefined ? null : wrap2Pi(bearingTrue - variation)
  values.velocityMadeGood = vmg

  const rest =
    course.activeRoute !== null && route !== undefined
      ? remaining(route, course.activeRoute)
      : undefined
  if (vmg !== null && vmg > 0) {
    const ttg = Math.floor((toGo / vmg) * 1000)
    values.timeToGo = ttg / 1000
    values.estimatedTimeOfArrival = new Date(now + ttg).toISOString()
    if (rest !== undefined) {
      const routeTtg = Math.floor(((toGo + rest) / vmg) * 1000)
      values['route.timeToGo'] = routeTtg / 1000
      values['route.estimatedTimeOfArrival'] = new Date(now + routeTtg).toISOString()
    }
  }
  if (rest !== undefined) values['route.distance'] = toGo + rest
  const arrival =
    course.targetArrivalTime === null ? Number.NaN : Date.parse(course.targetArrivalTime)
  if (arrival > now) values.targetSpeed = (toGo + (rest ?? 0)) / ((arrival - now) / 1000)

  return {
    values,
    distance: toGo,
    passedPerpendicular: passedPerpendicular(position, previous, next),
  }
}

/**
 * Metres along `points` (sailing order) from the next point to the last:
 * the route distance left once the next point is reached.
 */
export function remaining(points: readonly Position[], route: ActiveRoute): number {
  let total = 0
  for (let i = route.pointIndex; i + 1 < points.length; i++) {
    total += distance(points[i]!, points[i + 1]!)
  }
  return total
}
