/** Resources of the v2 resources API (SPEC §11) for specs. */
import type { JsonObject } from '../../src/core/json.js'

/** A waypoint at `lon`, `lat` named `name`, as Freeboard-SK saves one. */
export function waypoint(lon: number, lat: number, name = 'wp'): JsonObject {
  return {
    name,
    feature: {
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [lon, lat] },
      properties: {},
    },
  }
}
