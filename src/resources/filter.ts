/**
 * The list filters of the v2 resources API, as signalk-server's
 * resources-provider applies them: `position=[lon,lat]` with
 * `distance=<m>` keeps resources with a point within that great-circle
 * distance (the vessel's position when no `position` is given),
 * `bbox=[lon1,lat1,lon2,lat2]` those with a point inside the box, `href`
 * (notes linked to a resource), `group`, and `limit` the first N of what
 * passes, in id order. Query values are JSON (`position=[-1.5,50.2]`), as
 * signalk-server parses them; for the five standard types they are checked
 * against its OpenAPI parameters.
 *
 * @see https://github.com/SignalK/signalk-server/blob/master/packages/resources-provider-plugin/src/lib/utils.ts
 */
import { Errors, KeelsonError } from '../core/errors.js'
import { isObject, type Json, type JsonObject } from '../core/json.js'
import { parseHref } from './store.js'

/** The filters of one list request. */
export interface ListQuery {
  /** `[longitude, latitude]` the distance is measured from. */
  position?: readonly [number, number]
  /** Metres; applies only with a position. */
  distance?: number
  /** `[west, south, east, north]`. */
  bbox?: readonly [number, number, number, number]
  /** At most this many resources. */
  limit?: number
  /** Notes linked to this href. */
  href?: string
  /** Resources whose `group` is this. */
  group?: string
}

/** Mean radius geolib (and so signalk-server's filter) measures with, metres. */
const EARTH_RADIUS_M = 6_378_137

/**
 * Parses a list request's query (`params`: name to raw text, a repeated
 * name's first value). Throws BAD_QUERY for a value out of its range;
 * `standard` applies signalk-server's OpenAPI bounds (`distance` a whole
 * number of metres from 100, `limit` from 1).
 */
export function parseListQuery(params: URLSearchParams, standard: boolean): ListQuery {
  const query: ListQuery = {}
  const limit = params.get('limit')
  if (limit !== null) {
    const n = numberOf(limit, 'limit')
    if (!Number.isInteger(n) || n < 1) throw badQuery('limit must be a whole number from 1')
    query.limit = n
  }
  const distance = params.get('distance')
  if (distance !== null) {
    const n = numberOf(distance, 'distance')
    if (n < 0 || (standard && (!Number.isInteger(n) || n < 100))) {
      throw badQuery('distance must be a whole number of metres from 100')
    }
    query.distance = n
  }
  const position = params.get('position')
  if (position !== null) {
    const p = numbersOf(position, 'position', 2)
    checkLonLat(p[0]!, p[1]!, 'position')
    query.position = [p[0]!, p[1]!]
  }
  const bbox = params.get('bbox')
  if (bbox !== null) {
    const b = numbersOf(bbox, 'bbox', 4)
    checkLonLat(b[0]!, b[1]!, 'bbox')
    checkLonLat(b[2]!, b[3]!, 'bbox')
    query.bbox = [b[0]!, b[1]!, b[2]!, b[3]!]
  }
  const href = params.get('href')
  if (href !== null) query.href = href
  const group = params.get('group')
  if (group !== null) query.group = group
  return query
}

function badQuery(detail: string): KeelsonError {
  return new KeelsonError(Errors.BAD_QUERY, detail)
}

/** A query value as JSON when it parses (signalk-server's reading), else the text. */
function jsonOf(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

function numberOf(text: string, name: string): number {
  const value = jsonOf(text)
  const n = typeof value === 'number' ? value : Number.NaN
  if (!Number.isFinite(n)) throw badQuery(`${name} must be a finite number`)
  return n
}

/** `[a,b,...]` (or `a,b,...`) of `count` finite numbers. */
function numbersOf(text: string, name: string, count: number): number[] {
  // Bounded before parsing: a query string cannot make this read a long array.
  if (text.length > 256) throw badQuery(`${name} is too long`)
  const value = jsonOf(text.trim().startsWith('[') ? text : `[${text}]`)
  if (!Array.isArray(value) || value.length !== count) {
    throw badQuery(`${name} must be [${count === 2 ? 'lon,lat' : 'lon1,lat1,lon2,lat2'}]`)
  }
  const out: number[] = []
  for (const item of value) {
    if (typeof item !== 'number' || !Number.isFinite(item)) {
      throw badQuery(`${name} must hold finite numbers`)
    }
    out.push(item)
  }
  return out
}

function checkLonLat(lon: number, lat: number, name: string): void {
  if (lon < -180 || lon > 180 || lat < -90 || lat > 90) {
    throw badQuery(`${name}: longitude from -180 to 180, latitude from -90 to 90`)
  }
}

/** Great-circle distance between two `[lon, lat]` points, metres (haversine). */
export function distanceM(a: readonly number[], b: readonly number[]): number {
  const rad = Math.PI / 180
  const dLat = (b[1]! - a[1]!) * rad
  const dLon = (b[0]! - a[0]!) * rad
  const h =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(a[1]! * rad) * Math.cos(b[1]! * rad) * Math.sin(dLon / 2) ** 2
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)))
}

/** True when `resource` (of `type`) passes `query`'s position, box, href and group filters. */
export function passes(resource: JsonObject, type: string, query: ListQuery): boolean {
  const { position, distance, bbox } = query
  if (position !== undefined && distance !== undefined) {
    if (!anyPoint(resource, type, (p) => distanceM(p, position) <= distance, true)) return false
  }
  if (bbox !== undefined) {
    const [w, s, e, n] = bbox
    const inBox = (p: readonly number[]) =>
      p[0]! >= Math.min(w, e) &&
      p[0]! <= Math.max(w, e) &&
      p[1]! >= Math.min(s, n) &&
      p[1]! <= Math.max(s, n)
    if (!anyPoint(resource, type, inBox, false)) return false
  }
  if (query.href !== undefined) {
    const want = parseHref(query.href) ?? bareHref(query.href)
    const have = typeof resource.href === 'string' ? parseHref(resource.href) : undefined
    if (have === undefined || want === undefined) return false
    if (have.type !== want.type || have.id !== want.id) return false
  }
  if (query.group !== undefined && resource.group !== query.group) return false
  return true
}

/** An href given as a bare id names a region, as signalk-server reads it. */
function bareHref(href: string): { type: string; id: string } | undefined {
  return href.includes('/') ? undefined : { type: 'regions', id: href }
}

/**
 * True when one point of the resource passes `test`: a note's `position`,
 * else each point of its feature's geometry. A resource with no location
 * gives `otherwise` (signalk-server keeps it within any distance, never in
 * a box).
 */
function anyPoint(
  resource: JsonObject,
  type: string,
  test: (p: readonly number[]) => boolean,
  otherwise: boolean,
): boolean {
  if (type === 'notes' && isObject(resource.position)) {
    const { longitude, latitude } = resource.position
    if (typeof longitude !== 'number' || typeof latitude !== 'number') return otherwise
    return test([longitude, latitude])
  }
  const geometry = isObject(resource.feature) ? resource.feature.geometry : undefined
  if (!isObject(geometry)) return otherwise
  const c = geometry.coordinates
  switch (geometry.type) {
    case 'Point':
      return isPoint(c) ? test(c) : otherwise
    case 'LineString':
      return somePoint(c, test)
    case 'MultiLineString':
    case 'Polygon':
      return Array.isArray(c) && c.some((line) => somePoint(line, test))
    case 'MultiPolygon':
      return (
        Array.isArray(c) &&
        c.some((poly) => Array.isArray(poly) && poly.some((line) => somePoint(line, test)))
      )
    default:
      return otherwise
  }
}

function isPoint(value: Json | undefined): value is number[] {
  return Array.isArray(value) && typeof value[0] === 'number' && typeof value[1] === 'number'
}

function somePoint(line: Json | undefined, test: (p: readonly number[]) => boolean): boolean {
  return Array.isArray(line) && line.some((p) => isPoint(p) && test(p))
}
