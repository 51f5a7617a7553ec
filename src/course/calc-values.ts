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

/** The `$source` of the calculated values, signalk-server's course-calculations plugin's. */
export const CALC_SOURCE = 'course-provider'

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

/**
 * The metadata of the calculated values, as the plugin sends it once: the
 * Signal K schema has none for `navigation.course.calcValues`, and apps
 * convert units from it (KIP shows `distance` in nautical miles from `m`).
 */
export const CALC_META: Readonly<Record<string, { description: string; units?: string }>> =
  Object.freeze({
    calcMethod: { description: 'Calculation type used (GreatCircle or Rhumbline).' },
    bearingTrackTrue: {
      description:
        'The bearing of a line between previousPoint and nextPoint, relative to true north.',
      units: 'rad',
    },
    bearingTrackMagnetic: {
      description:
        'The bearing of a line between previousPoint and nextPoint, relative to magnetic north.',
      units: 'rad',
    },
    crossTrackError: {
      description:
        "The distance from the vessel's present position to the closest point on a line (track) between previousPoint and nextPoint. A negative number indicates that the vessel is currently to the left of this line (and thus must steer right to compensate), a positive number means the vessel is to the right of the line (steer left to compensate).",
      units: 'm',
    },
    'previousPoint.distance': {
      description:
        "The distance in meters between the vessel's present position and the previousPoint.",
      units: 'm',
    },
    distance: {
      description:
        "The distance in meters between the vessel's present position and the nextPoint.",
      units: 'm',
    },
    bearingTrue: {
      description:
        "The bearing of a line between the vessel's current position and nextPoint, relative to true north.",
      units: 'rad',
    },
    bearingMagnetic: {
      description:
        "The bearing of a line between the vessel's current position and nextPoint, relative to magnetic north.",
      units: 'rad',
    },
    velocityMadeGood: {
      description: 'The velocity component of the vessel towards the nextPoint.',
      units: 'm/s',
    },
    timeToGo: {
      description:
        "Time in seconds to reach nextPoint's perpendicular with current speed & direction.",
      units: 's',
    },
    estimatedTimeOfArrival: { description: 'The estimated time of arrival at nextPoint position.' },
    'route.timeToGo': {
      description: 'Time in seconds to reach final destination with current speed & direction.',
      units: 's',
    },
    'route.estimatedTimeOfArrival': {
      description: 'The estimated time of arrival at final destination.',
    },
    'route.distance': {
      description: 'The remaining distance along the route to reach the final destination.',
      units: 'm',
    },
    targetSpeed: {
      description:
        'The average speed required to arrive at the destination at the targetArrivalTime.',
      units: 'm/s',
    },
  })

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
