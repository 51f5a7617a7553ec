/**
 * The resources of the Signal K v2 resources API (SPEC §11): routes,
 * waypoints, notes, regions, charts and registered custom types, each a map
 * of id to resource. This is what other parts read (the course API resolves
 * a destination's `href` here); the HTTP routes (src/resources/routes.ts)
 * are the only writers.
 *
 * @see https://signalk.org/specification/1.7.0/doc/resources.html
 * @see https://demo.signalk.io/documentation/Developing/REST_APIs/Resources_API.html
 */
import type { JsonObject } from '../core/json.js'

/** The types every server has (signalk-server's `SIGNALKRESOURCETYPES`). */
export const STANDARD_TYPES: readonly string[] = Object.freeze([
  'routes',
  'waypoints',
  'notes',
  'regions',
  'charts',
])

/** A resource named by its type and id, as an href names it. */
export interface ResourceRef {
  readonly type: string
  readonly id: string
}

/**
 * The type and id an href names: Signal K's `/resources/<type>/<id>` (the
 * course API's `href`, a note's `href`), also with the v2 API's prefix
 * `/signalk/v2/api/resources/<type>/<id>`. Undefined for anything else.
 */
export function parseHref(href: unknown): ResourceRef | undefined {
  if (typeof href !== 'string') return undefined
  const match = /^(?:\/signalk\/v2\/api)?\/resources\/([^/]+)\/([^/]+)\/?$/.exec(href)
  if (match === null) return undefined
  try {
    return { type: decodeURIComponent(match[1]!), id: decodeURIComponent(match[2]!) }
  } catch {
    return undefined
  }
}

/** The resources this server holds, by type and id. */
export class ResourceStore {
  protected readonly byType = new Map<string, Map<string, JsonObject>>()

  /** The resource `id` of `type`, or undefined. Do not mutate it: it is the stored object. */
  get(type: string, id: string): JsonObject | undefined {
    return this.byType.get(type)?.get(id)
  }

  /**
   * The resource an href names (`/resources/waypoints/<id>`, see
   * {@link parseHref}) with its type and id, or undefined when the href is
   * malformed or names nothing stored.
   */
  resolve(href: string): (ResourceRef & { readonly value: JsonObject }) | undefined {
    const ref = parseHref(href)
    if (ref === undefined) return undefined
    const value = this.get(ref.type, ref.id)
    return value === undefined ? undefined : { ...ref, value }
  }
}
