/**
 * The messages of a subscribed unit (SPEC §6), as the vendor guide's client
 * reads them: `gps` (position, speed, course and heading from the vessel's
 * navigation, SI units as Signal K keeps them: radians and m/s) and
 * `telemetry` (an RFC 7396 merge patch of the unit's subtree).
 */
import { isObject, type Json, type JsonObject } from '../core/json.js'
import type { TreePath } from '../core/path.js'
import type { StateTree } from '../core/state-tree.js'
import { readThrough, type View } from '../core/view.js'

/** The navigation members a `gps` message reports; a change to any of them sends one. */
const GPS_KEYS = ['position', 'speedOverGround', 'courseOverGroundTrue', 'headingTrue'] as const

/** The `navigation` path below a unit's path. */
export function navigationPath(path: TreePath): TreePath {
  return { segments: [...path.segments, 'navigation'], starAt: -1 }
}

/** A Signal K leaf's value, stored as `{value, timestamp, $source}` or plain. */
function leafValue(node: Json | undefined): Json | undefined {
  return isObject(node) && Object.hasOwn(node, 'value') ? node.value : node
}

function numberOf(node: Json | undefined): number | null {
  const value = leafValue(node)
  return typeof value === 'number' ? value : null
}

/** True when `patch` (scoped to a unit's subtree) may change what its `gps` message says. */
export function touchesGps(patch: Json): boolean {
  if (!isObject(patch)) return true
  if (!Object.hasOwn(patch, 'navigation')) return false
  const navigation = patch.navigation!
  if (!isObject(navigation)) return true
  for (const key of GPS_KEYS) if (Object.hasOwn(navigation, key)) return true
  return false
}

/**
 * The `gps` message of unit `unitId` from the tree now, as `view` reads it;
 * undefined while no position is known.
 */
export function gpsMessage(
  tree: StateTree,
  navigation: TreePath,
  view: View,
  unitId: string,
): string | undefined {
  const nav = readThrough(tree, navigation, view)
  if (!isObject(nav)) return undefined
  const positionNode = nav.position
  const position = leafValue(positionNode)
  if (!isObject(position)) return undefined
  const { latitude, longitude } = position as JsonObject
  if (typeof latitude !== 'number' || typeof longitude !== 'number') return undefined
  const stamp = isObject(positionNode) ? positionNode.timestamp : undefined
  return JSON.stringify({
    type: 'gps',
    message_type: 'gps',
    unit_id: unitId,
    timestamp: typeof stamp === 'string' ? stamp : new Date().toISOString(),
    telemetry: {
      gps: {
        latitude,
        longitude,
        speed: numberOf(nav.speedOverGround),
        course: numberOf(nav.courseOverGroundTrue),
        heading: numberOf(nav.headingTrue),
      },
    },
  })
}

/** The `telemetry` message of unit `unitId` for a merge patch already serialised. */
export function telemetryMessage(unitIdJson: string, patchJson: string): string {
  return `{"type":"telemetry","unit_id":${unitIdJson},"patch":${patchJson}}`
}
