/**
 * The v2 resources API on a cluster (SPEC §9, §11) with in-process nodes on
 * a real Redis: what any node saved is served by every node, a node started
 * late has it from the cluster's snapshot and log, no node writes files of
 * its own, and a write refused on one node leaves nothing anywhere.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedis } from '../support/redis.js'
import { waypoint } from '../support/resources.js'
import { call, type Node, patch, startNode, until } from './support.js'

const API = '/signalk/v2/api/resources'
const CONFIG = '/plugins/resources-provider/_config'

let redis: RedisServer
const nodes: Node[] = []
const dirs: string[] = []
/** Each node's persist dir, where one server would keep its resource files. */
const persistDirs = new Map<Node, string>()
let key = 0

beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.close()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()))
})

/** A node of the test's cluster (its own key prefix on the shared Redis), with a persist dir of its own. */
async function node(options: Parameters<typeof startNode>[1] = {}): Promise<Node> {
  const persistDir = mkdtempSync(join(tmpdir(), 'keelson-cluster-res-'))
  dirs.push(persistDir)
  const started = await startNode(redis.url, {
    clusterKey: `r${key}`,
    clusterSnapshotMs: 200,
    persistDir,
    ...options,
  })
  nodes.push(started)
  persistDirs.set(started, persistDir)
  return started
}

/** The ids `url` lists for `type`. */
async function ids(url: string, type: string): Promise<string[]> {
  const res = await call(url, 'GET', `${API}/${type}`)
  expect(res.status).toBe(200)
  return Object.keys(res.body).sort()
}

describe('resources on a cluster', () => {
  it('a resource saved through A is listed and read through B; replaced and deleted on B, so on A', async () => {
    key++
    const [a, b] = [await node(), await node()]
    const saved = await call(a.url, 'POST', `${API}/waypoints`, waypoint(-1.5, 50.6, 'Home'))
    expect(saved.status).toBe(201)
    const id = saved.body.id as string
    // A answers once its replica applied the write: A serves it at once, B once it applied it.
    expect(await ids(a.url, 'waypoints')).toEqual([id])
    await until(async () => (await ids(b.url, 'waypoints')).includes(id))
    const onA = await call(a.url, 'GET', `${API}/waypoints/${id}`)
    const onB = await call(b.url, 'GET', `${API}/waypoints/${id}`)
    expect(onB).toEqual(onA)
    expect(onB.body).toMatchObject({ name: 'Home', $source: 'resources-provider' })
    expect(
      (await call(b.url, 'GET', `${API}/waypoints?position=[-1.5,50.6]&distance=100`)).body[id],
    ).toBeDefined()

    expect(
      (await call(b.url, 'PUT', `${API}/waypoints/${id}`, waypoint(2, 3, 'Moved'))).status,
    ).toBe(200)
    await until(
      async () => (await call(a.url, 'GET', `${API}/waypoints/${id}`)).body.name === 'Moved',
    )

    expect((await call(b.url, 'DELETE', `${API}/waypoints/${id}`)).status).toBe(200)
    await until(async () => (await call(a.url, 'GET', `${API}/waypoints/${id}`)).status === 404)
    expect(await ids(a.url, 'waypoints')).toEqual([])
    // Deleted once: a second delete through the other node finds nothing.
    expect((await call(a.url, 'DELETE', `${API}/waypoints/${id}`)).status).toBe(404)
  })

  it('a node started late serves every resource and custom type, and no node wrote files', async () => {
    key++
    const a = await node()
    const registered = await call(a.url, 'POST', `${CONFIG}/tracks`, { description: 'Old tracks' })
    expect(registered.status).toBe(200)
    const kept: string[] = []
    for (let i = 0; i < 5; i++) {
      kept.push((await call(a.url, 'POST', `${API}/waypoints`, waypoint(i, i, `wp${i}`))).body.id)
    }
    expect(
      (await call(a.url, 'PUT', `${API}/tracks/first`, { feature: { points: [1, 2] } })).status,
    ).toBe(200)
    // Past a snapshot (every 200 ms here) and a few entries after it.
    await until(() => a.cluster.stats.snapshots >= 1)
    await new Promise((resolve) => setTimeout(resolve, 300))
    kept.push((await call(a.url, 'POST', `${API}/waypoints`, waypoint(9, 9, 'last'))).body.id)

    const c = await node()
    expect(await ids(c.url, 'waypoints')).toEqual(kept.sort())
    expect((await call(c.url, 'GET', API)).body).toHaveProperty('tracks')
    expect((await call(c.url, 'GET', CONFIG)).body.custom).toEqual([
      { name: 'tracks', description: 'Old tracks' },
    ])
    expect((await call(c.url, 'GET', `${API}/tracks/first`)).body).toMatchObject({
      feature: { points: [1, 2] },
    })
    // The tree held in Redis is the truth: no node keeps resource files that could disagree.
    for (const n of [a, c]) {
      expect(existsSync(join(persistDirs.get(n)!, 'resources'))).toBe(false)
    }

    // A type unregistered on C is gone on A, its resources with it.
    expect((await call(c.url, 'DELETE', `${CONFIG}/tracks`)).status).toBe(200)
    await until(async () => (await call(a.url, 'GET', `${API}/tracks`)).status === 404)
    expect((await call(a.url, 'GET', CONFIG)).body.custom).toEqual([])
    // Registered again: empty, as its resources lived only in the cluster.
    expect((await call(a.url, 'POST', `${CONFIG}/tracks`)).status).toBe(200)
    await until(async () => (await call(c.url, 'GET', `${API}/tracks`)).status === 200)
    expect(await ids(c.url, 'tracks')).toEqual([])
  })

  it('every node restarted: the resources are served again from Redis', async () => {
    key++
    const a = await node()
    const id = (await call(a.url, 'POST', `${API}/routes`, route())).body.id as string
    await until(() => a.cluster.stats.snapshots >= 1)
    await Promise.all(nodes.splice(0).map((n) => n.close()))
    const b = await node()
    expect(await ids(b.url, 'routes')).toEqual([id])
    expect((await call(b.url, 'GET', `${API}/routes/${id}`)).body.name).toBe('Out')
  })

  it('a write refused on A leaves nothing on B, and what the tree holds that is no resource is not served', async () => {
    key++
    const [a, b] = [await node({ maxResourcesPerType: 1, maxBodyBytes: 4096 }), await node()]
    const first = await call(a.url, 'POST', `${API}/waypoints`, waypoint(1, 1))
    expect(first.status).toBe(201)
    await until(async () => (await ids(b.url, 'waypoints')).length === 1)
    const rev = b.keelson.tree.rev
    const appended = a.cluster.stats.appended
    const deep = JSON.parse(`${'{"a":'.repeat(200)}1${'}'.repeat(200)}`)
    const refusals: [string, string, unknown, number][] = [
      ['POST', `${API}/waypoints`, waypoint(2, 2), 507], // past maxResourcesPerType
      ['POST', `${API}/routes`, { name: 'no geometry' }, 400],
      ['PUT', `${API}/waypoints/not-a-uuid`, waypoint(3, 3), 400],
      ['POST', `${API}/notes`, '{"name": ', 400], // malformed JSON
      ['POST', `${API}/notes`, { name: 'x'.repeat(10_000) }, 413],
      ['POST', `${API}/regions`, { name: 'deep', feature: deep }, 400],
      ['POST', `${API}/nosuchtype`, waypoint(4, 4), 404],
      ['POST', `${CONFIG}/bad name`, {}, 400],
      ['POST', `${CONFIG}/waypoints`, {}, 409],
      ['DELETE', `${CONFIG}/routes`, undefined, 400],
    ]
    for (const [method, path, body, status] of refusals) {
      expect([method, path, (await call(a.url, method, path, body)).status]).toEqual([
        method,
        path,
        status,
      ])
    }
    // A custom type's "meta" holds its description on a cluster: no resource may take that id.
    expect((await call(a.url, 'POST', `${CONFIG}/things`)).status).toBe(200)
    expect((await call(a.url, 'PUT', `${API}/things/meta`, { a: 1 })).status).toBe(400)
    // Nothing of the refusals was appended: B applied only the registration.
    expect(a.cluster.stats.appended).toBe(appended + 1)
    await until(() => b.keelson.tree.rev === rev + 1)
    expect(await ids(b.url, 'waypoints')).toHaveLength(1)
    expect(await ids(b.url, 'routes')).toEqual([])
    expect(await ids(b.url, 'things')).toEqual([])

    // Written into the tree through the v1 API, not as resources: every node leaves them out.
    const uuid = 'ac3a3b2d-07e8-4f25-92bc-98e7c92f7f1a'
    const junk = {
      waypoints: {
        [uuid]: { value: { name: 'no feature' }, $source: 'resources-provider', timestamp: 'x' },
        'not-a-uuid': { value: waypoint(5, 5), $source: 'resources-provider', timestamp: 'x' },
      },
      notes: { [uuid]: { value: { name: 'from someone else' }, $source: 'other', timestamp: 'x' } },
      routes: 7,
      '1type': { x: { value: {}, $source: 'resources-provider', timestamp: 'x' } },
    }
    expect((await patch(b.url, 'vessels/self/resources', junk)).status).toBe(200)
    await until(() => a.keelson.tree.rev === b.keelson.tree.rev)
    for (const n of [a, b]) {
      expect(await ids(n.url, 'waypoints')).toEqual([first.body.id])
      expect(await ids(n.url, 'notes')).toEqual([])
      expect(await ids(n.url, 'routes')).toEqual([])
      expect(Object.keys((await call(n.url, 'GET', API)).body)).toEqual([
        'routes',
        'waypoints',
        'notes',
        'regions',
        'charts',
        'things',
      ])
    }
  })
})

function route(): Record<string, unknown> {
  return {
    name: 'Out',
    feature: {
      type: 'Feature',
      geometry: {
        type: 'LineString',
        coordinates: [
          [1, 1],
          [2, 2],
        ],
      },
      properties: {},
    },
  }
}
