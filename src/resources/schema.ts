/**
 * The resource schemas of the Signal K v2 resources API, checked as
 * signalk-server checks a POST or PUT body (its OpenAPI document, built from
 * `@signalk/server-api`'s TypeBox schemas): a waypoint is a GeoJSON Point
 * feature, a route a LineString of two points or more, a region a Polygon or
 * MultiPolygon, a note may carry a position and an href, a chart names its
 * source type. Members a schema does not name are kept, as there
 * (`additionalProperties` is open). Coordinates must also be finite and on
 * the globe, which the schemas leave to the plotters.
 *
 * @see https://github.com/SignalK/signalk-server/blob/master/packages/server-api/src/typebox/resources-schemas.ts
 */
import { Errors, KeelsonError } from '../core/errors.js'
import { isObject, type Json, type JsonObject } from '../core/json.js'

/** A Signal K UUID (v4), the id of every standard resource but charts (signalk-server's `validate.uuid`). */
export const UUID_PATTERN =
  /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-4[0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}$/

/** A chart id (signalk-server's `validate.chartId`), bounded here: it is a file name. */
const CHART_ID_PATTERN = /^[A-Za-z0-9_-]{8,128}$/

/**
 * The id of a custom type's resource. signalk-server takes any string and
 * makes it a file name; keelson takes what is safe as a file name and as one
 * key of a Signal K dot path (no `.`, no `/`).
 */
const CUSTOM_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/

/** A resource href (`/resources/<type>/<uuid>`), as the schemas' `SignalKHref`. */
const HREF_PATTERN =
  /^\/resources\/(\w*)\/[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-4[0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}$/

/** Chart source types (`TileLayerSource` and `MapServerSource`). */
const CHART_TYPES: ReadonlySet<string> = new Set([
  'tilelayer',
  'tileJSON',
  'WMS',
  'WMTS',
  'mapstyleJSON',
  'S-57',
])
const TILE_FORMATS: ReadonlySet<string> = new Set(['jpg', 'pbf', 'png', 'webp'])

/** True when `id` may name a resource of `type` (`standard`: one of the five Signal K types). */
export function isValidId(type: string, id: string, standard: boolean): boolean {
  if (!standard) return CUSTOM_ID_PATTERN.test(id)
  return type === 'charts' ? CHART_ID_PATTERN.test(id) : UUID_PATTERN.test(id)
}

/** Throws BAD_RESOURCE unless `id` may name a resource of `type`. */
export function checkId(type: string, id: string, standard: boolean): void {
  if (isValidId(type, id, standard)) return
  const expected = !standard
    ? '1 to 128 letters, digits, "_" or "-"'
    : type === 'charts'
      ? '8 to 128 letters, digits, "_" or "-"'
      : 'a UUID v4 (xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx)'
  throw new KeelsonError(
    Errors.BAD_RESOURCE_ID,
    `Invalid resource id provided (${JSON.stringify(id).slice(0, 140)}): a ${type} id is ${expected}`,
  )
}

/**
 * Throws BAD_RESOURCE, naming the first offending member, unless `value` is
 * a valid resource of `type`. Custom types only need an object.
 */
export function checkResource(type: string, value: Json): asserts value is JsonObject {
  if (!isObject(value)) throw bad('', 'must be a JSON object')
  switch (type) {
    case 'waypoints':
      optionalStrings(value, ['name', 'description', 'type'])
      feature(value, 'Point')
      if (value.position !== undefined) position(value.position, 'position')
      return
    case 'routes':
      optionalStrings(value, ['name', 'description'])
      if (value.distance !== undefined) number(value.distance, 'distance', 0)
      feature(value, 'LineString')
      return
    case 'regions':
      optionalStrings(value, ['name', 'description'])
      feature(value, 'Polygon')
      return
    case 'notes':
      optionalStrings(value, ['name', 'title', 'description', 'mimeType', 'url'])
      optionalObject(value.properties, 'properties')
      if (value.position !== undefined) position(value.position, 'position')
      if (value.href !== undefined) href(value.href, 'href')
      return
    case 'charts':
      chart(value)
      return
  }
}

function bad(at: string, what: string): KeelsonError {
  return new KeelsonError(
    Errors.BAD_RESOURCE,
    at === '' ? `The resource ${what}` : `The resource's "${at}" ${what}`,
  )
}

function optionalStrings(value: JsonObject, keys: readonly string[]): void {
  for (const key of keys) {
    const member = value[key]
    if (member !== undefined && typeof member !== 'string') throw bad(key, 'must be a string')
  }
}

function optionalObject(member: Json | undefined, at: string): void {
  if (member !== undefined && !isObject(member)) throw bad(at, 'must be an object')
}

function number(member: Json | undefined, at: string, min?: number, max?: number): number {
  // The body was checked for non-finite numbers when parsed; this holds for values made in-process too.
  if (typeof member !== 'number' || !Number.isFinite(member))
    throw bad(at, 'must be a finite number')
  if ((min !== undefined && member < min) || (max !== undefined && member > max)) {
    throw bad(at, `must be from ${min ?? '-∞'} to ${max ?? '∞'}`)
  }
  return member
}

/** `{latitude, longitude, altitude?}` (the `SignalKPosition` schema). */
function position(member: Json, at: string): void {
  if (!isObject(member)) throw bad(at, 'must be {"latitude","longitude"} in degrees')
  number(member.latitude, `${at}.latitude`, -90, 90)
  number(member.longitude, `${at}.longitude`, -180, 180)
  if (member.altitude !== undefined) number(member.altitude, `${at}.altitude`)
}

/** A GeoJSON position `[longitude, latitude]` on the globe. */
function lonLat(member: Json | undefined, at: string): void {
  if (!Array.isArray(member) || member.length !== 2) {
    throw bad(at, 'must be [longitude, latitude] in degrees')
  }
  number(member[0], `${at}[0]`, -180, 180)
  number(member[1], `${at}[1]`, -90, 90)
}

function list(member: Json | undefined, at: string, minItems: number): Json[] {
  if (!Array.isArray(member)) throw bad(at, 'must be an array')
  if (member.length < minItems) throw bad(at, `must hold at least ${minItems} items`)
  return member
}

/** `coordinates` of a linear ring list (a Polygon): rings of 4 positions or more. */
function rings(member: Json | undefined, at: string): void {
  const all = list(member, at, 0)
  for (let r = 0; r < all.length; r++) {
    const ring = list(all[r], `${at}[${r}]`, 4)
    for (let i = 0; i < ring.length; i++) lonLat(ring[i], `${at}[${r}][${i}]`)
  }
}

/**
 * `feature`: `{geometry, properties?}` with a geometry of `kind` (a region's
 * `Polygon` also admits `MultiPolygon`).
 */
function feature(value: JsonObject, kind: 'Point' | 'LineString' | 'Polygon'): void {
  const f = value.feature
  if (!isObject(f)) throw bad('feature', 'must be a GeoJSON feature object with a geometry')
  if (f.type !== undefined && f.type !== 'Feature') throw bad('feature.type', 'must be "Feature"')
  optionalObject(f.properties, 'feature.properties')
  const g = f.geometry
  if (!isObject(g)) throw bad('feature.geometry', 'must be a GeoJSON geometry object')
  const coordinates = g.coordinates
  const at = 'feature.geometry.coordinates'
  if (kind === 'Point') {
    if (g.type !== 'Point') throw bad('feature.geometry.type', 'must be "Point"')
    lonLat(coordinates, at)
  } else if (kind === 'LineString') {
    if (g.type !== 'LineString') throw bad('feature.geometry.type', 'must be "LineString"')
    const points = list(coordinates, at, 2)
    for (let i = 0; i < points.length; i++) lonLat(points[i], `${at}[${i}]`)
    const meta = isObject(f.properties) ? f.properties.coordinatesMeta : undefined
    if (meta !== undefined) routePointMeta(meta)
  } else if (g.type === 'Polygon') {
    rings(coordinates, at)
  } else if (g.type === 'MultiPolygon') {
    const polygons = list(coordinates, at, 0)
    for (let p = 0; p < polygons.length; p++) rings(polygons[p], `${at}[${p}]`)
  } else {
    throw bad('feature.geometry.type', 'must be "Polygon" or "MultiPolygon"')
  }
}

/** `feature.properties.coordinatesMeta`: per point, `{name, ...}` or `{href}`. */
function routePointMeta(meta: Json): void {
  const at = 'feature.properties.coordinatesMeta'
  const items = list(meta, at, 0)
  for (let i = 0; i < items.length; i++) {
    const item = items[i]
    if (!isObject(item)) throw bad(`${at}[${i}]`, 'must be an object')
    if (typeof item.name === 'string') continue
    if (item.href !== undefined) href(item.href, `${at}[${i}].href`)
    else throw bad(`${at}[${i}]`, 'must hold a "name" string or an "href"')
  }
}

function href(member: Json, at: string): void {
  if (typeof member !== 'string' || !HREF_PATTERN.test(member)) {
    throw bad(at, 'must be a resource href: /resources/<type>/<uuid>')
  }
}

/** A chart: a tile layer or a map server source (`ChartSchema`). */
function chart(value: JsonObject): void {
  optionalStrings(value, ['identifier', 'name', 'description', 'url'])
  if (value.layers !== undefined) {
    const layers = list(value.layers, 'layers', 0)
    for (let i = 0; i < layers.length; i++) {
      if (typeof layers[i] !== 'string') throw bad(`layers[${i}]`, 'must be a string')
    }
  }
  if (typeof value.type !== 'string' || !CHART_TYPES.has(value.type)) {
    throw bad('type', `must be one of ${[...CHART_TYPES].join(', ')}`)
  }
  if (value.type !== 'tilelayer') return
  if (value.bounds !== undefined) {
    const b = value.bounds
    if (!Array.isArray(b) || b.length !== 4) {
      throw bad('bounds', 'must be [west, south, east, north] in degrees')
    }
    number(b[0], 'bounds[0]', -180, 180)
    number(b[1], 'bounds[1]', -90, 90)
    number(b[2], 'bounds[2]', -180, 180)
    number(b[3], 'bounds[3]', -90, 90)
  }
  if (value.format !== undefined) {
    if (typeof value.format !== 'string' || !TILE_FORMATS.has(value.format)) {
      throw bad('format', `must be one of ${[...TILE_FORMATS].join(', ')}`)
    }
  }
  if (value.minzoom !== undefined) number(value.minzoom, 'minzoom', 0, 30)
  if (value.maxzoom !== undefined) number(value.maxzoom, 'maxzoom', 0, 30)
  if (value.scale !== undefined) number(value.scale, 'scale', 1)
}
