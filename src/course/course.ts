/**
 * The course of the self vessel (SPEC §11, Signal K v2 course API): a
 * destination (a position or a waypoint) or an active route, the arrival
 * circle and target arrival time, as signalk-server's course API keeps
 * them; written to the tree as Signal K deltas through the write port;
 * persisted in `course.json`; and, while a course is active, the
 * calculated values (`navigation.course.calcValues.*`) refreshed every
 * {@link CourseOptions.periodMs} from the tree's position, SOG and COG,
 * advancing along a route once the vessel is inside the arrival circle.
 *
 * Changes are made one at a time (a queue), each written to the tree
 * before the in-memory state takes it: a write refused by the ACLs or by an
 * unavailable journal leaves the course as it was.
 *
 * On a cluster node ({@link CourseOptions.lease}) the tree is the course's
 * truth: its state is read back from there (src/course/course-tree.ts), so
 * a course set through any node is every node's, and the values are
 * calculated by the one node that holds the lease, so they are written
 * once per period whatever the number of nodes.
 */
import type { Logger } from 'pino'
import { Errors, KeelsonError } from '../core/errors.js'
import { isObject, type Json, type JsonObject } from '../core/json.js'
import { monotonicNow, type Scheduler, type Timer } from '../core/scheduler.js'
import type { StateTree } from '../core/state-tree.js'
import type { Authorize, Operation, WritePort } from '../core/write-port.js'
import { MAX_ARRIVAL_CIRCLE_M } from '../options.js'
import { parseHref, type ResourceStore } from '../resources/store.js'
import type { Delta, PathValue } from '../signalk/delta.js'
import { stampDelta } from '../signalk/delta.js'
import {
  CALC_META,
  CALC_PATHS,
  CALC_SOURCE,
  type CourseCalculation,
  calculate,
  emptyValues,
  type Navigation,
} from './calc-values.js'
import { CourseFile } from './course-file.js'
import {
  type ActiveRoute,
  type CourseInfo,
  type CoursePoint,
  courseDelta,
  NO_COURSE,
} from './course-info.js'
import { CourseInTree } from './course-tree.js'
import { isPosition, type Position } from './geodesy.js'

/** Options of {@link Course}. */
export interface CourseOptions {
  /** Where waypoint and route hrefs are resolved. */
  resources: ResourceStore
  /** The app's shared timer heap; the calculation timer is one of its entries. */
  scheduler: Scheduler
  log: Logger
  /** Period of the calculated values, ms (KeelsonOptions.coursePeriodMs, default 1000). */
  periodMs: number
  /** The file the course is kept in across restarts; none: not kept. Not read on a cluster node. */
  file?: string
  /**
   * Set on a cluster node (SPEC §9): the course state is the tree's, which
   * every node holds alike (no `file`), and the values are calculated only
   * while this node holds `lease`. Default none: one server, which always
   * calculates.
   */
  lease?: CourseLease
}

/**
 * The turn to calculate the course values, which the nodes of a cluster
 * take one at a time (src/cluster/lease.ts): the course knows only whether
 * it is its turn.
 */
export interface CourseLease {
  /** True while this node is the one that calculates. */
  readonly held: boolean
  /** Gives the turn up, so that another node takes it at once, and stops asking for it. */
  close(): Promise<void>
}

export { CALC_SOURCE } from './calc-values.js'

/** The route actions of `PUT .../course/activeRoute/<action>`. */
export const ROUTE_ACTIONS: ReadonlySet<string> = new Set([
  'nextPoint',
  'pointIndex',
  'reverse',
  'refresh',
])

const VESSEL_POSITION = 'VesselPosition'
const ROUTE_POINT = 'RoutePoint'
const LOCATION = 'Location'

/** The course of one tree's self vessel. */
export class Course {
  private info: CourseInfo = NO_COURSE
  private queue: Promise<unknown> = Promise.resolve()
  private timer: Timer | undefined
  /** The tree holds calculated values (they are emptied once when the course ends). */
  private calculated = false
  private last: CourseCalculation | undefined
  private closed = false
  private metaWritten = false
  private readonly file: CourseFile | undefined
  /** Set on a cluster node: the course as the tree holds it, the state every node shares. */
  private readonly shared: CourseInTree | undefined
  private readonly tree: StateTree
  /** The scheduler's task: a failure is logged and the next calculation armed, never thrown into the heap's loop. */
  private readonly tick = {
    run: (): void => {
      try {
        this.calculate()
      } catch (err) {
        this.options.log.error({ err }, 'a course calculation failed')
        this.arm()
      }
    },
  }

  constructor(
    private readonly port: WritePort,
    private readonly options: CourseOptions,
  ) {
    this.tree = port.tree
    if (options.lease !== undefined) {
      this.shared = new CourseInTree(this.tree)
      this.file = undefined
      this.arm()
      return
    }
    this.shared = undefined
    if (options.file !== undefined) {
      this.file = new CourseFile(options.file, options.log)
      const kept = this.file.read()
      if (kept !== undefined && kept.nextPoint !== null) {
        this.info = kept
        try {
          this.port.write(this.operation(courseDelta(kept)))
        } catch (err) {
          options.log.warn({ err }, 'the kept course could not be written to the tree')
        }
        this.arm()
      } else if (kept !== undefined) {
        this.info = kept
      }
    }
  }

  /** The course state, as `GET .../navigation/course` answers it. */
  get state(): CourseInfo {
    return this.current()
  }

  /** The last calculated values, nested as signalk-server answers `GET .../course/calcValues`. */
  calcValues(): JsonObject {
    if (this.current().nextPoint === null) {
      throw new KeelsonError(Errors.COURSE_NOT_ACTIVE, 'No active destination')
    }
    // On a cluster node another node may be the one calculating: the tree has its values.
    const values = this.shared?.values() ?? this.last?.values ?? emptyValues()
    const out: JsonObject = {}
    for (const path of CALC_PATHS) {
      const dot = path.indexOf('.')
      if (dot < 0) out[path] = values[path] ?? null
      else {
        const group = path.slice(0, dot)
        const member = isObject(out[group]) ? out[group] : {}
        member[path.slice(dot + 1)] = values[path] ?? null
        out[group] = member
      }
    }
    return out
  }

  /** `PUT .../destination`: `{position}` or `{href: "/resources/waypoints/<id>"}`, optional `arrivalCircle`. */
  setDestination(body: Json, authorize?: Authorize): Promise<void> {
    const request = fields(body, ['position', 'href', 'arrivalCircle'])
    const arrivalCircle = optionalCircle(request.arrivalCircle)
    return this.change(authorize, (info) => {
      let nextPoint: CoursePoint
      if (request.href !== undefined) {
        if (request.position !== undefined) {
          throw bad('Send either "position" or "href", not both')
        }
        nextPoint = this.waypoint(request.href)
      } else if (request.position !== undefined) {
        nextPoint = { type: LOCATION, position: position(request.position), name: 'DP' }
      } else {
        throw bad(
          'Send {"position":{"latitude","longitude"}} or {"href":"/resources/waypoints/<id>"}',
        )
      }
      return {
        ...info,
        startTime: new Date().toISOString(),
        arrivalCircle: arrivalCircle ?? info.arrivalCircle,
        activeRoute: null,
        nextPoint,
        previousPoint: { type: VESSEL_POSITION, position: this.vesselPosition(), name: 'VP' },
      }
    })
  }

  /** `PUT .../activeRoute`: `{href: "/resources/routes/<id>", pointIndex?, reverse?, arrivalCircle?}`. */
  activateRoute(body: Json, authorize?: Authorize): Promise<void> {
    const request = fields(body, ['href', 'pointIndex', 'reverse', 'arrivalCircle'])
    const arrivalCircle = optionalCircle(request.arrivalCircle)
    const reverse = request.reverse ?? false
    if (typeof reverse !== 'boolean') throw bad('"reverse" must be true or false')
    if (request.href === undefined) throw bad('Send the route as {"href":"/resources/routes/<id>"}')
    return this.change(authorize, (info) => {
      const route = this.route(request.href)
      const pointIndex =
        request.pointIndex === undefined || request.pointIndex === null
          ? 0
          : index(request.pointIndex, route.points)
      const activeRoute: ActiveRoute = {
        href: request.href as string,
        pointIndex,
        pointTotal: route.points.length,
        reverse,
        ...(route.name !== undefined && { name: route.name }),
      }
      return {
        ...info,
        startTime: new Date().toISOString(),
        arrivalCircle: arrivalCircle ?? info.arrivalCircle,
        ...this.legTo(activeRoute, route),
      }
    })
  }

  /**
   * `PUT .../activeRoute/<action>`: `nextPoint` (`{value}`: points to move,
   * default 1, kept within the route), `pointIndex` (`{value}`), `reverse`
   * (optional `{pointIndex}`), `refresh` (reread the route).
   */
  routeAction(action: string, body: Json, authorize?: Authorize): Promise<void> {
    if (!ROUTE_ACTIONS.has(action)) {
      throw new KeelsonError(Errors.NOT_FOUND, `No course route action ${quote(action)}`)
    }
    const request = fields(body ?? {}, ['value', 'pointIndex'])
    return this.change(authorize, (info) => {
      const active = info.activeRoute
      if (active === null) {
        throw new KeelsonError(Errors.COURSE_NOT_ACTIVE, 'No route is active')
      }
      const route = this.route(active.href)
      const forward = route.points
      let { pointIndex, reverse } = active
      switch (action) {
        case 'nextPoint': {
          const step = request.value ?? 1
          if (!Number.isSafeInteger(step)) throw bad('"value" must be a whole number of points')
          // As signalk-server: 0 means the default step, and the index stays within the route.
          pointIndex = clamp(pointIndex + ((step as number) || 1), forward.length)
          break
        }
        case 'pointIndex':
          pointIndex = index(request.value, forward)
          break
        case 'reverse':
          pointIndex =
            request.pointIndex === undefined
              ? clamp(active.pointTotal - 1 - pointIndex, forward.length)
              : index(request.pointIndex, forward)
          reverse = !reverse
          break
        default: {
          // refresh: the route may have changed; find the next point in it again.
          const next = info.nextPoint?.position
          const sailed = reverse ? [...forward].reverse() : forward
          let found = -1
          for (let i = 0; i < sailed.length; i++) {
            const p = sailed[i]!
            if (p.latitude === next?.latitude && p.longitude === next?.longitude) found = i
          }
          const refreshed = {
            ...active,
            pointTotal: forward.length,
            pointIndex: found >= 0 ? found : clamp(pointIndex, forward.length),
          }
          return { ...info, activeRoute: refreshed }
        }
      }
      return {
        ...info,
        ...this.legTo({ ...active, pointIndex, reverse, pointTotal: forward.length }, route),
      }
    })
  }

  /** `PUT .../arrivalCircle`: `{value}`, metres (null: no arrival circle). */
  setArrivalCircle(body: Json, authorize?: Authorize): Promise<void> {
    const { value } = fields(body, ['value'])
    const circle = value === null ? 0 : optionalCircle(value)
    if (circle === undefined) throw bad('Send {"value": <radius in metres>}')
    return this.change(authorize, (info) => ({ ...info, arrivalCircle: circle }))
  }

  /** `PUT .../targetArrivalTime`: `{value}`, an ISO 8601 time or null. */
  setTargetArrivalTime(body: Json, authorize?: Authorize): Promise<void> {
    const { value } = fields(body, ['value'])
    if (value === undefined || (value !== null && !isIsoTime(value))) {
      throw bad('"value" must be an ISO 8601 date and time with a zone (or null)')
    }
    return this.change(authorize, (info) => ({
      ...info,
      targetArrivalTime: value as string | null,
    }))
  }

  /** `PUT .../restart`: the leg starts again from the vessel's position. */
  restart(authorize?: Authorize): Promise<void> {
    return this.change(authorize, (info) => {
      if (info.nextPoint === null)
        throw new KeelsonError(Errors.COURSE_NOT_ACTIVE, 'No active destination')
      return {
        ...info,
        previousPoint: { type: VESSEL_POSITION, position: this.vesselPosition(), name: 'VP' },
      }
    })
  }

  /** `DELETE .../course`: no destination, no route (the arrival circle stays). */
  clear(authorize?: Authorize): Promise<void> {
    return this.change(authorize, (info) => ({ ...NO_COURSE, arrivalCircle: info.arrivalCircle }))
  }

  /** Stops the calculations, gives the lease up and waits for the course file's last write. */
  async close(): Promise<void> {
    this.closed = true
    this.options.scheduler.cancel(this.timer)
    this.timer = undefined
    await Promise.all([this.file?.flush(), this.options.lease?.close()])
  }

  /** The course state: this server's, or on a cluster node the tree's. */
  private current(): CourseInfo {
    return this.shared?.state() ?? this.info
  }

  /** True when the tree holds calculated values (to be emptied when the course ends). */
  private holdsValues(): boolean {
    return this.shared?.holdsValues() ?? this.calculated
  }

  /**
   * Queues a change: `make` derives the new state from the current one (or
   * throws a refusal); it is written to the tree, then taken, kept and the
   * calculations armed.
   */
  private change(
    authorize: Authorize | undefined,
    make: (info: CourseInfo) => CourseInfo,
  ): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.closed) throw new KeelsonError(Errors.UNAVAILABLE, 'The server is shutting down')
      const next = make(this.current())
      const delta = courseDelta(next)
      const ending = next.nextPoint === null && this.holdsValues()
      if (ending) appendValues(delta, emptyValues())
      await this.port.submit(this.operation(delta), authorize && this.courseOnly(authorize))
      this.take(next)
      if (ending) {
        this.calculated = false
        this.last = undefined
      }
    }
    const done = this.queue.then(run, run)
    this.queue = done.catch(() => undefined)
    return done
  }

  private take(next: CourseInfo): void {
    if (this.shared !== undefined) {
      // The tree holds it now; the node holding the lease calculates at once.
      this.arm(true)
      return
    }
    this.info = next
    // Values of the course before: the calculation armed below gives the new ones.
    this.last = undefined
    this.file?.write(next)
    // A new course gets its values at once, not a period later.
    this.arm(true)
  }

  /**
   * Arms the next calculation (`now`: at once) while a course is active;
   * none otherwise. On a cluster node it is always armed: another node may
   * set a course, or hand this one the lease.
   */
  private arm(now = false): void {
    const scheduler = this.options.scheduler
    const idle = this.closed || (this.shared === undefined && this.info.nextPoint === null)
    if (now || idle) {
      scheduler.cancel(this.timer)
      this.timer = undefined
    }
    if (idle || this.timer?.pending) return
    this.timer = scheduler.at(monotonicNow() + (now ? 0 : this.options.periodMs), this.tick)
  }

  /** One calculation: the values written, and a route advanced on arrival. */
  private calculate(): void {
    this.timer = undefined
    if (this.closed) return
    const info = this.current()
    if (info.nextPoint === null || this.options.lease?.held === false) {
      if (this.shared === undefined) return
      // Values a node calculated as another cleared the course may land after the clear: emptied here.
      if (info.nextPoint === null && this.options.lease?.held === true && this.holdsValues()) {
        this.writeValues(undefined)
      }
      this.arm()
      return
    }
    this.follow(info)
    const route = info.activeRoute === null ? undefined : this.sailedPoints(info.activeRoute)
    const result = calculate(info, this.navigation(), Date.now(), route)
    if (result !== undefined || this.holdsValues()) this.writeValues(result)
    this.arm()
    const active = info.activeRoute
    if (
      result !== undefined &&
      active !== null &&
      route !== undefined &&
      info.arrivalCircle > 0 &&
      result.distance <= info.arrivalCircle &&
      active.pointIndex + 1 < route.length
    ) {
      this.advance(active)
    }
  }

  /**
   * A waypoint or route edited (moved, points added) while the course
   * follows it: the course takes the new positions, as signalk-server's
   * course API follows resource deltas. One map lookup per calculation; a
   * resource deleted meanwhile leaves the course as it is.
   */
  private follow(info: CourseInfo): void {
    const next = info.nextPoint
    if (next === null) return
    const edited = (update: (info: CourseInfo) => CourseInfo): void => {
      this.change(undefined, (current) => (current === info ? update(current) : current)).catch(
        (err) => this.options.log.warn({ err }, 'the course could not follow an edited resource'),
      )
    }
    const active = info.activeRoute
    if (active === null) {
      if (next.href === undefined) return
      const ref = parseHref(next.href)
      const resource = ref && this.options.resources.get(ref.type, ref.id)
      if (resource === undefined) return
      let moved: CoursePoint
      try {
        moved = this.waypoint(next.href)
      } catch {
        return
      }
      if (samePoint(moved, next)) return
      edited((current) => ({ ...current, nextPoint: moved }))
      return
    }
    let route: ResolvedRoute
    try {
      route = this.route(active.href)
    } catch {
      return
    }
    const pointIndex = clamp(active.pointIndex, route.points.length)
    const nextPoint = routePoint(route, pointIndex, active.reverse)
    const previousPoint =
      info.previousPoint?.type === ROUTE_POINT && pointIndex > 0
        ? routePoint(route, pointIndex - 1, active.reverse)
        : info.previousPoint
    if (
      route.points.length === active.pointTotal &&
      route.name === active.name &&
      samePoint(nextPoint, next) &&
      (previousPoint === null ||
        info.previousPoint === null ||
        samePoint(previousPoint, info.previousPoint))
    ) {
      return
    }
    const activeRoute: ActiveRoute = {
      href: active.href,
      pointIndex,
      pointTotal: route.points.length,
      reverse: active.reverse,
      ...(route.name !== undefined && { name: route.name }),
    }
    edited((current) => ({ ...current, activeRoute, nextPoint, previousPoint }))
  }

  /** Arrival inside the circle: the next leg of the route, from the point reached. */
  private advance(from: ActiveRoute): void {
    this.change(undefined, (info) => {
      const active = info.activeRoute
      // Someone moved on meanwhile (a PUT, a clear): theirs stands.
      if (active === null || active.href !== from.href || active.pointIndex !== from.pointIndex)
        return info
      const route = this.route(active.href)
      if (active.pointIndex + 1 >= route.points.length) return info
      return {
        ...info,
        ...this.legTo(
          { ...active, pointIndex: active.pointIndex + 1, pointTotal: route.points.length },
          route,
        ),
      }
    }).catch((err) =>
      this.options.log.warn({ err }, 'the route could not advance to its next point'),
    )
  }

  /** Writes the values of `result`, or empties them (undefined); a refusal is logged. */
  private writeValues(result: CourseCalculation | undefined): void {
    try {
      this.write(result?.values ?? emptyValues())
      this.last = result
      this.calculated = result !== undefined
    } catch (err) {
      this.options.log.warn({ err }, 'the course values could not be written')
    }
  }

  private write(values: Readonly<Record<string, Json>>): void {
    const delta: Delta = { context: 'vessels.self', updates: [] }
    appendValues(delta, values)
    // The units apps convert with, once per process (the tree keeps them).
    if (!this.metaWritten) {
      delta.updates[0]!.meta = Object.entries(CALC_META).map(([path, meta]) => ({
        path: `navigation.course.calcValues.${path}`,
        value: { ...meta },
      }))
    }
    this.port.write(this.operation(delta))
    this.metaWritten = true
  }

  private operation(delta: Delta): Operation {
    return { kind: 'delta', delta: stampDelta(delta) }
  }

  /**
   * The writer's check of a course change, on what it writes under
   * `navigation.course` (signalk-server asks for the right to PUT
   * `navigation.course`): the v1 paths and calculated values that come
   * with it are the server's own bookkeeping.
   */
  private courseOnly(authorize: Authorize): Authorize {
    const self = this.tree.selfKey
    return (patch, operation) => {
      const vessel = (patch.vessels as JsonObject | undefined)?.[self]
      const navigation = isObject(vessel) ? vessel.navigation : undefined
      let course = isObject(navigation) ? navigation.course : undefined
      // Nothing under navigation.course changed (same values in the same millisecond): check a probe.
      if (!isObject(course) || Object.keys(course).length === 0) {
        course = { startTime: { $source: 'courseApi' } }
      }
      authorize({ vessels: { [self]: { navigation: { course } } } }, operation)
    }
  }

  /** The leg to `active.pointIndex` of `route`: from the point before it, or from the vessel at the first point. */
  private legTo(
    active: ActiveRoute,
    route: ResolvedRoute,
  ): Pick<CourseInfo, 'activeRoute' | 'nextPoint' | 'previousPoint'> {
    const at = (i: number): CoursePoint => routePoint(route, i, active.reverse)
    return {
      activeRoute: active,
      nextPoint: at(active.pointIndex),
      previousPoint:
        active.pointIndex === 0
          ? { type: VESSEL_POSITION, position: this.vesselPosition(), name: 'VP' }
          : at(active.pointIndex - 1),
    }
  }

  private vesselPosition(): Position {
    const position = this.navigation().position
    if (position === undefined) {
      throw new KeelsonError(Errors.COURSE_NO_POSITION, 'navigation.position has no value')
    }
    return position
  }

  /** What the calculations read from the tree. */
  private navigation(): Navigation {
    const nav = this.tree.get({
      segments: ['vessels', this.tree.selfKey, 'navigation'],
      starAt: -1,
    })
    if (!isObject(nav)) return {}
    const value = (key: string): Json | undefined => {
      const leaf = nav[key]
      return isObject(leaf) ? leaf.value : undefined
    }
    const position = value('position')
    const number = (key: string): number | undefined => {
      const v = value(key)
      return typeof v === 'number' && Number.isFinite(v) ? v : undefined
    }
    return {
      ...(isPosition(position) && {
        position: { latitude: position.latitude, longitude: position.longitude },
      }),
      speedOverGround: number('speedOverGround'),
      courseOverGroundTrue: number('courseOverGroundTrue'),
      magneticVariation: number('magneticVariation'),
    } as Navigation
  }

  /** The waypoint an href names, as the next point. */
  private waypoint(href: unknown): CoursePoint {
    const resource = this.resolve(href, 'waypoints')
    const feature = resource.feature
    const geometry = isObject(feature) ? feature.geometry : undefined
    const coordinates = isObject(geometry) ? geometry.coordinates : undefined
    const position = lonLat(coordinates)
    if (position === undefined) {
      throw bad(`The waypoint ${quote(href)} has no valid position (feature.geometry.coordinates)`)
    }
    const type = typeof resource.type === 'string' ? resource.type : 'Waypoint'
    const name = typeof resource.name === 'string' ? resource.name : 'WP1'
    return { href: href as string, type, position, name }
  }

  /** The route an href names, its points checked. */
  private route(href: unknown): ResolvedRoute {
    const resource = this.resolve(href, 'routes')
    const points = routePoints(resource)
    if (points === undefined) {
      throw bad(`The route ${quote(href)} has no valid points (feature.geometry.coordinates)`)
    }
    const properties = isObject(resource.feature) ? resource.feature.properties : undefined
    const meta = isObject(properties) ? properties.coordinatesMeta : undefined
    return {
      points,
      names: Array.isArray(meta) ? meta : undefined,
      name: typeof resource.name === 'string' ? resource.name : undefined,
    }
  }

  /** The active route's points in sailing order, or undefined when it can no longer be read. */
  private sailedPoints(active: ActiveRoute): Position[] | undefined {
    const ref = parseHref(active.href)
    const resource = ref === undefined ? undefined : this.options.resources.get(ref.type, ref.id)
    const points = resource === undefined ? undefined : routePoints(resource)
    return points === undefined ? undefined : active.reverse ? [...points].reverse() : points
  }

  private resolve(href: unknown, type: 'waypoints' | 'routes'): JsonObject {
    const ref = parseHref(href)
    if (ref === undefined || ref.type !== type) {
      throw bad(`"href" must be /resources/${type}/<id>`)
    }
    const resource = this.options.resources.get(ref.type, ref.id)
    if (resource === undefined) {
      throw new KeelsonError(Errors.COURSE_HREF_NOT_FOUND, `No ${type} resource ${quote(ref.id)}`)
    }
    return resource
  }
}

/** A route resource as the course reads it. */
interface ResolvedRoute {
  /** Its points in the route's own order. */
  readonly points: readonly (Position & { altitude?: number })[]
  /** `feature.properties.coordinatesMeta`: a name per point. */
  readonly names: readonly Json[] | undefined
  readonly name: string | undefined
}

/** Point `i` of `route` in sailing order, with its name as signalk-server names it. */
function routePoint(route: ResolvedRoute, i: number, reverse: boolean): CoursePoint {
  const at = reverse ? route.points.length - 1 - i : i
  const position = route.points[at]!
  let name: string | undefined
  if (route.names !== undefined) {
    const meta = route.names[reverse ? route.names.length - 1 - i : i]
    name = isObject(meta) && typeof meta.name === 'string' ? meta.name : `WP${i + 1}`
  }
  return name === undefined
    ? { type: ROUTE_POINT, position }
    : { type: ROUTE_POINT, position, name }
}

/** The points of a route resource (`feature.geometry.coordinates`, `[lon, lat, alt?]` each), or undefined. */
function routePoints(resource: JsonObject): (Position & { altitude?: number })[] | undefined {
  const feature = resource.feature
  const geometry = isObject(feature) ? feature.geometry : undefined
  const coordinates = isObject(geometry) ? geometry.coordinates : undefined
  if (!Array.isArray(coordinates) || coordinates.length === 0) return undefined
  const points: (Position & { altitude?: number })[] = []
  for (const c of coordinates) {
    const p = lonLat(c)
    if (p === undefined) return undefined
    points.push(p)
  }
  return points
}

/** A GeoJSON position `[lon, lat, alt?]` as a Signal K position, or undefined. */
function lonLat(c: Json | undefined): (Position & { altitude?: number }) | undefined {
  if (!Array.isArray(c) || c.length < 2) return undefined
  const [longitude, latitude, altitude] = c
  const p = { latitude, longitude }
  if (!isPosition(p)) return undefined
  return typeof altitude === 'number' ? { ...p, altitude } : p
}

/** The members of a JSON object body that the request reads; anything else in it is refused. */
function fields<K extends string>(body: Json, keys: readonly K[]): Partial<Record<K, Json>> {
  if (!isObject(body)) throw bad('The body must be a JSON object')
  const out: Partial<Record<K, Json>> = {}
  for (const key of Object.keys(body)) {
    if (!(keys as readonly string[]).includes(key)) {
      throw bad(
        `Unknown member ${quote(key)}; this request takes ${keys.map((k) => `"${k}"`).join(', ')}`,
      )
    }
    out[key as K] = body[key]!
  }
  return out
}

/** A position from a request, checked. */
function position(value: Json): Position {
  if (!isObject(value) || !isPosition(value)) {
    throw bad('"position" must be {"latitude": -90..90, "longitude": -180..180}, finite numbers')
  }
  return { latitude: value.latitude as number, longitude: value.longitude as number }
}

/** An arrival circle from a request (null or absent: none given), checked. */
function optionalCircle(value: Json | undefined): number | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !(value >= 0 && value <= MAX_ARRIVAL_CIRCLE_M)) {
    throw bad(`The arrival circle must be a radius in metres from 0 to ${MAX_ARRIVAL_CIRCLE_M}`)
  }
  return value
}

/** A point index of a route from a request, checked. */
function index(value: Json | undefined, points: readonly unknown[]): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) >= points.length) {
    throw bad(
      `The point index must be a whole number from 0 to ${points.length - 1} (the route has ${points.length} points)`,
    )
  }
  return value as number
}

/** Same position and name. */
function samePoint(a: CoursePoint, b: CoursePoint): boolean {
  return (
    a.position.latitude === b.position.latitude &&
    a.position.longitude === b.position.longitude &&
    a.position.altitude === b.position.altitude &&
    a.name === b.name
  )
}

function clamp(i: number, length: number): number {
  return Math.min(Math.max(i, 0), length - 1)
}

/** An ISO 8601 date and time with a zone, as signalk-server accepts it, that names a real time. */
function isIsoTime(value: Json): value is string {
  return (
    typeof value === 'string' &&
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d*)?(?:[+-]\d{2}:\d{2}|Z)$/.test(value) &&
    Number.isFinite(Date.parse(value))
  )
}

/** The calculated values as an update of `delta`, with the plugin's copy of VMG under `performance`. */
function appendValues(delta: Delta, values: Readonly<Record<string, Json>>): void {
  const list: PathValue[] = []
  for (const path of CALC_PATHS)
    list.push({ path: `navigation.course.calcValues.${path}`, value: values[path] ?? null })
  list.push({
    path: 'performance.velocityMadeGoodToWaypoint',
    value: values.velocityMadeGood ?? null,
  })
  delta.updates.push({ $source: CALC_SOURCE, values: list })
}

/** `text` quoted for an error detail, cut short: it comes from the request. */
function quote(text: unknown): string {
  const json = JSON.stringify(text) ?? String(text)
  return json.length > 100 ? `${json.slice(0, 99)}…"` : json
}

function bad(detail: string): KeelsonError {
  return new KeelsonError(Errors.BAD_COURSE, detail)
}
