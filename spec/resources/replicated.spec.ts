/**
 * The resource store of a cluster node (`replicated`, src/resources/mirror.ts)
 * on a real tree and write port: it serves what the tree holds, whoever
 * wrote it (operations committed as a cluster node applies its log), follows
 * a tree replaced whole (a reload of the cluster's snapshot), and leaves out
 * what the tree holds that is not a valid resource.
 */
import { describe, expect, it } from 'vitest'
import type { JsonObject } from '../../src/core/json.js'
import { StateTree } from '../../src/core/state-tree.js'
import { FULL_VIEW } from '../../src/core/view.js'
import { type Operation, WritePort } from '../../src/core/write-port.js'
import { DEFAULTS } from '../../src/options.js'
import { ResourceStore } from '../../src/resources/store.js'
import { waypoint } from '../support/resources.js'

const ROOT = { segments: [], starAt: -1 }
const IDS = [
  'ac3a3b2d-07e8-4f25-92bc-98e7c92f7f1a',
  'b1e2c3d4-0000-4000-8000-000000000002',
  'c1e2c3d4-0000-4000-8000-000000000003',
]

/** The delta a resource write appends to the cluster's log (as another node's would be). */
function saved(
  type: string,
  id: string,
  value: JsonObject,
  source = 'resources-provider',
): Operation {
  return {
    kind: 'delta',
    delta: {
      context: 'vessels.self',
      updates: [
        {
          $source: source,
          timestamp: '2026-01-01T00:00:00.000Z',
          values: [{ path: `resources.${type}.${id}`, value }],
        },
      ],
    },
  }
}

function open(options: Partial<typeof DEFAULTS> = {}) {
  const tree = new StateTree({ mmsi: '230099999' })
  const writes = new WritePort(tree)
  const store = new ResourceStore(writes, {
    ...DEFAULTS,
    ...options,
    replicated: true,
    dir: '/nonexistent',
  })
  return { tree, writes, store }
}

const ids = (store: ResourceStore, type: string) => Object.keys(store.list(type, {}, FULL_VIEW))

describe('the resource store of a cluster node', () => {
  it('serves what operations applied from the log put in the tree, and forgets what they remove', () => {
    const { writes, store } = open()
    expect(ids(store, 'waypoints')).toEqual([])
    writes.commit(saved('waypoints', IDS[0]!, waypoint(1, 2, 'first')))
    writes.commit(saved('waypoints', IDS[1]!, waypoint(3, 4, 'second')))
    expect(ids(store, 'waypoints')).toEqual([IDS[0], IDS[1]])
    expect(store.read('waypoints', IDS[0]!, FULL_VIEW)).toMatchObject({
      name: 'first',
      timestamp: '2026-01-01T00:00:00.000Z',
      $source: 'resources-provider',
    })
    writes.commit(saved('waypoints', IDS[0]!, waypoint(5, 6, 'moved')))
    expect(store.get('waypoints', IDS[0]!)?.name).toBe('moved')
    writes.commit({
      kind: 'delete',
      path: ['vessels', 'urn:mrn:imo:mmsi:230099999', 'resources', 'waypoints', IDS[1]!],
    })
    expect(ids(store, 'waypoints')).toEqual([IDS[0]])
    // The whole resources object removed, then a custom type with its description.
    writes.commit({ kind: 'delete', path: ['vessels', 'urn:mrn:imo:mmsi:230099999', 'resources'] })
    expect(ids(store, 'waypoints')).toEqual([])
    writes.commit({
      kind: 'merge',
      path: ['vessels', 'urn:mrn:imo:mmsi:230099999', 'resources', 'tracks', 'meta'],
      value: { description: 'Old tracks' },
    })
    writes.commit(saved('tracks', 'one', { points: [1] }))
    expect(store.customTypes()).toEqual([{ name: 'tracks', description: 'Old tracks' }])
    expect(store.types()).toEqual(['routes', 'waypoints', 'notes', 'regions', 'charts', 'tracks'])
    expect(ids(store, 'tracks')).toEqual(['one'])
  })

  it('follows a tree replaced whole (a reload of the snapshot), resources and custom types', () => {
    const { tree, writes, store } = open()
    writes.commit(saved('waypoints', IDS[0]!, waypoint(1, 2, 'before')))
    writes.commit(
      saved('notes', IDS[2]!, { name: 'a note', position: { latitude: 1, longitude: 2 } }),
    )
    expect(ids(store, 'waypoints')).toEqual([IDS[0]])
    const other = open()
    other.writes.commit(saved('waypoints', IDS[1]!, waypoint(7, 8, 'after')))
    other.writes.commit({
      kind: 'merge',
      path: ['vessels', 'urn:mrn:imo:mmsi:230099999', 'resources', 'tracks', 'meta'],
      value: { description: 'd' },
    })
    tree.reset({ root: structuredClone(other.tree.get(ROOT)) as JsonObject, rev: 99, epoch: 'e2' })
    expect(ids(store, 'waypoints')).toEqual([IDS[1]])
    expect(ids(store, 'notes')).toEqual([])
    expect(store.customTypes()).toEqual([{ name: 'tracks', description: 'd' }])
    // And changes after the reload are followed one by one again.
    writes.commit(saved('waypoints', IDS[2]!, waypoint(0, 0)))
    expect(ids(store, 'waypoints')).toEqual([IDS[1], IDS[2]].sort())
  })

  it('leaves out what is no valid resource, and counts the bounds on what it serves', async () => {
    const { writes, store } = open({ maxResourcesPerType: 2 })
    const self = ['vessels', 'urn:mrn:imo:mmsi:230099999', 'resources']
    writes.commit(saved('waypoints', IDS[0]!, { name: 'no feature' }))
    writes.commit(saved('waypoints', 'not-a-uuid', waypoint(1, 1)))
    writes.commit(saved('waypoints', IDS[1]!, waypoint(1, 1), 'someone-else'))
    writes.commit({ kind: 'merge', path: [...self, 'routes'], value: 7 })
    writes.commit({ kind: 'merge', path: [...self, '1type'], value: { a: { value: {} } } })
    expect(ids(store, 'waypoints')).toEqual([])
    expect(ids(store, 'routes')).toEqual([])
    expect(store.types()).toEqual(['routes', 'waypoints', 'notes', 'regions', 'charts'])
    // The same leaf written by the resources provider since: served.
    writes.commit(saved('waypoints', IDS[1]!, waypoint(2, 2, 'now')))
    expect(ids(store, 'waypoints')).toEqual([IDS[1]])
    writes.commit(saved('waypoints', IDS[2]!, waypoint(3, 3)))
    await expect(store.set('waypoints', IDS[0]!, waypoint(4, 4))).rejects.toMatchObject({
      code: 'KEELSON_ERR_RESOURCES_FULL',
    })
    // A custom type's "meta" is its description, never a resource.
    writes.commit(saved('things', 'meta', { a: 1 }))
    expect(ids(store, 'things')).toEqual([])
    await expect(store.set('things', 'meta', { a: 1 })).rejects.toMatchObject({
      code: 'KEELSON_ERR_BAD_RESOURCE_ID',
    })
  })
})
