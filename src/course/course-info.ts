/**
 * The course state of the Signal K v2 course API (SPEC §11) and the deltas
 * that put it in the tree, in signalk-server's shapes: `CourseInfo` as
 * `GET /signalk/v2/api/vessels/self/navigation/course` answers it and as
 * `navigation.course.*` holds it, plus the v1 paths signalk-server still
 * writes (`navigation.courseGreatCircle.*`, `navigation.courseRhumbline.*`:
 * KIP's "Next WPT" widget reads `courseGreatCircle.nextPoint.position`).
 *
 * @see https://demo.signalk.io/documentation/Developing/REST_APIs/Course_API.html
 */
import type { Json, JsonObject } from '../core/json.js'
import type { Delta, PathValue } from '../signalk/delta.js'
import { isPosition, type Position } from './geodesy.js'

/** What a course point is (signalk-server's `COURSE_POINT_TYPES`, or a waypoint's own `type`). */
export type CoursePointType = 'VesselPosition' | 'RoutePoint' | 'Location' | string

/** `nextPoint` or `previousPoint`. */
export interface CoursePoint {
  readonly type: CoursePointType
  readonly position: Position & { readonly altitude?: number }
  /** The waypoint a destination was set to (`/resources/waypoints/<id>`). */
  readonly href?: string
  readonly name?: string
}

/** The route being followed. */
export interface ActiveRoute {
  readonly href: string
  /** Index of `nextPoint` in the order the route is sailed (reversed when `reverse`). */
  readonly pointIndex: number
  readonly pointTotal: number
  readonly reverse: boolean
  readonly name?: string
}

/** The course state: signalk-server's `CourseInfo`. */
export interface CourseInfo {
  readonly startTime: string | null
  readonly targetArrivalTime: string | null
  /** Radius of the arrival zone around `nextPoint`, metres. */
  readonly arrivalCircle: number
  readonly activeRoute: ActiveRoute | null
  readonly nextPoint: CoursePoint | null
  readonly previousPoint: CoursePoint | null
}

/** No course: what a clear leaves (the arrival circle is kept). */
export const NO_COURSE: CourseInfo = Object.freeze({
  startTime: null,
  targetArrivalTime: null,
  arrivalCircle: 0,
  activeRoute: null,
  nextPoint: null,
  previousPoint: null,
})

/** The `$source` of the course state, signalk-server's. */
export const COURSE_SOURCE = 'courseApi'

/** The course state as JSON (absent optional members left out). */
export function courseJson(info: CourseInfo): JsonObject {
  return {
    startTime: info.startTime,
    targetArrivalTime: info.targetArrivalTime,
    arrivalCircle: info.arrivalCircle,
    activeRoute: info.activeRoute === null ? null : routeJson(info.activeRoute),
    nextPoint: pointJson(info.nextPoint),
    previousPoint: pointJson(info.previousPoint),
  }
}

function routeJson(route: ActiveRoute): JsonObject {
  const out: JsonObject = {
    href: route.href,
    pointIndex: route.pointIndex,
    pointTotal: route.pointTotal,
    reverse: route.reverse,
  }
  if (route.name !== undefined) out.name = route.name
  return out
}

function pointJson(point: CoursePoint | null): Json {
  if (point === null) return null
  const position: JsonObject = {
    latitude: point.position.latitude,
    longitude: point.position.longitude,
  }
  if (point.position.altitude !== undefined) position.altitude = point.position.altitude
  const out: JsonObject = { type: point.type, position }
  if (point.href !== undefined) out.href = point.href
  if (point.name !== undefined) out.name = point.name
  return out
}

/**
 * The delta that writes `info` to the tree: every `navigation.course.*`
 * member signalk-server's course API writes, and the v1 paths. A null
 * value removes the leaf's value (SPEC §1), as signalk-server's nulls do.
 */
export function courseDelta(info: CourseInfo): Delta {
  const json = courseJson(info)
  const values: PathValue[] = []
  for (const key of Object.keys(json))
    values.push({ path: `navigation.course.${key}`, value: json[key]! })
  const next = info.nextPoint?.position ?? null
  const previous = info.previousPoint?.position ?? null
  for (const v1 of ['navigation.courseGreatCircle', 'navigation.courseRhumbline']) {
    values.push(
      { path: `${v1}.activeRoute.href`, value: info.activeRoute?.href ?? null },
      { path: `${v1}.activeRoute.startTime`, value: info.startTime },
      { path: `${v1}.nextPoint.position`, value: next && positionJson(next) },
      { path: `${v1}.nextPoint.arrivalCircle`, value: info.arrivalCircle },
      { path: `${v1}.previousPoint.position`, value: previous && positionJson(previous) },
    )
  }
  return { context: 'vessels.self', updates: [{ $source: COURSE_SOURCE, values }] }
}

function positionJson(position: Position): JsonObject {
  return { latitude: position.latitude, longitude: position.longitude }
}

/**
 * A course state read back from `course.json`, checked member by member;
 * undefined when anything in it is not what keelson wrote (the file is then
 * ignored, as signalk-server ignores invalid course data).
 */
export function parseCourseInfo(value: unknown): CourseInfo | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const v = value as Record<string, unknown>
  const nextPoint = parsePoint(v.nextPoint)
  const previousPoint = parsePoint(v.previousPoint)
  const activeRoute = parseRoute(v.activeRoute)
  if (nextPoint === undefined || previousPoint === undefined || activeRoute === undefined) {
    return undefined
  }
  const arrivalCircle = v.arrivalCircle
  if (typeof arrivalCircle !== 'number' || !(arrivalCircle >= 0)) return undefined
  const startTime = v.startTime
  const targetArrivalTime = v.targetArrivalTime
  if (!(startTime === null || typeof startTime === 'string')) return undefined
  if (!(targetArrivalTime === null || typeof targetArrivalTime === 'string')) return undefined
  // A course is a next point and the point it started from, or nothing.
  if ((nextPoint === null) !== (previousPoint === null)) return undefined
  if (activeRoute !== null && nextPoint === null) return undefined
  return { startTime, targetArrivalTime, arrivalCircle, activeRoute, nextPoint, previousPoint }
}

function parsePoint(value: unknown): CoursePoint | null | undefined {
  if (value === null) return null
  if (typeof value !== 'object' || Array.isArray(value) || value === undefined) return undefined
  const { type, position, href, name } = value as Record<string, unknown>
  if (typeof type !== 'string' || !isPosition(position)) return undefined
  if (href !== undefined && typeof href !== 'string') return undefined
  if (name !== undefined && typeof name !== 'string') return undefined
  const altitude = (position as unknown as Record<string, unknown>).altitude
  const point: {
    type: string
    position: Position & { altitude?: number }
    href?: string
    name?: string
  } = {
    type,
    position: { latitude: position.latitude, longitude: position.longitude },
  }
  if (typeof altitude === 'number' && Number.isFinite(altitude)) point.position.altitude = altitude
  if (href !== undefined) point.href = href
  if (name !== undefined) point.name = name
  return point
}

function parseRoute(value: unknown): ActiveRoute | null | undefined {
  if (value === null) return null
  if (typeof value !== 'object' || Array.isArray(value) || value === undefined) return undefined
  const { href, pointIndex, pointTotal, reverse, name } = value as Record<string, unknown>
  if (typeof href !== 'string' || typeof reverse !== 'boolean') return undefined
  if (!Number.isSafeInteger(pointIndex) || !Number.isSafeInteger(pointTotal)) return undefined
  const index = pointIndex as number
  const total = pointTotal as number
  if (index < 0 || index >= total) return undefined
  if (name !== undefined && typeof name !== 'string') return undefined
  return name === undefined
    ? { href, pointIndex: index, pointTotal: total, reverse }
    : { href, pointIndex: index, pointTotal: total, reverse, name }
}
