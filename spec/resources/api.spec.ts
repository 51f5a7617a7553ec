/**
 * The Signal K v2 resources API (SPEC §11) on a real server: CRUD in
 * signalk-server's shapes, schema refusals as problem+json with nothing
 * applied, list filters, custom types, the tree's copy of every change and
 * persistence across a restart on the same directory.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { KeelsonOptions } from '../../src/options.js'
import { Client } from '../signalk/support.js'
import { type Running, startServer } from '../support/server.js'
import { SseClient } from '../support/sse-client.js'

const API = '/signalk/v2/api/resources'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

let dir: string
let server: Running | undefined
const streams: SseClient[] = []

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keelson-res-'))
})

afterEach(async () => {
  for (const s of streams.splice(0)) s.close()
  await server?.close()
  server = undefined
  await rm(dir, { recursive: true, force: true })
})

async function start(options: Partial<KeelsonOptions> = {}): Promise<Running> {
  server = await startServer({ mmsi: '230099999', persistDir: dir, ...options })
  return server
}

function waypoint(lon: number, lat: number, name = 'wp'): Record<string, unknown> {
  return {
    name,
    description: 'a mark',
    feature: {
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [lon, lat] },
      properties: {},
    },
  }
}

async function call(method: string, path: string, body?: unknown, type = 'application/json') {
  const res = await fetch(`${server!.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': type },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    body: text === '' ? undefined : (JSON.parse(text) as any),
  }
}

/** A request whose path is sent as it is (fetch resolves `..` and `%2E%2E` segments first). */
function rawCall(method: string, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server!.url}${path}`,
      { method, headers: { 'Content-Type': 'application/json' } },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

async function post(type: string, body: unknown) {
  return call('POST', `${API}/${type}`, body)
}

function resourcesInTree(): unknown {
  const self = server!.keelson.tree.selfKey
  return server!.keelson.tree.get({ segments: ['vessels', self, 'resources'], starAt: -1 })
}

describe('resources API: CRUD', () => {
  it('lists the five standard types as signalk-server describes them', async () => {
    await start()
    const res = await call('GET', API)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      routes: { description: 'Path containing route resources' },
      waypoints: { description: 'Path containing waypoint resources' },
      notes: { description: 'Path containing note resources' },
      regions: { description: 'Path containing region resources' },
      charts: { description: 'Path containing chart resources' },
    })
    for (const type of ['routes', 'waypoints', 'notes', 'regions', 'charts']) {
      expect((await call('GET', `${API}/${type}`)).body).toEqual({})
    }
  })

  it('creates with POST (201 and a new UUID), reads it alone and in the list keyed by id', async () => {
    await start()
    const created = await post('waypoints', waypoint(-1.5, 50.5, 'Home'))
    expect(created.status).toBe(201)
    expect(created.body).toEqual({
      state: 'COMPLETED',
      statusCode: 201,
      id: expect.stringMatching(UUID),
    })
    const id = created.body.id as string
    const one = await call('GET', `${API}/waypoints/${id}`)
    expect(one.status).toBe(200)
    expect(one.body).toMatchObject({
      ...waypoint(-1.5, 50.5, 'Home'),
      $source: 'resources-provider',
    })
    expect(Date.parse(one.body.timestamp)).toBeGreaterThan(Date.now() - 60_000)
    const list = await call('GET', `${API}/waypoints`)
    expect(Object.keys(list.body)).toEqual([id])
    expect(list.body[id]).toEqual(one.body)
    expect((await call('GET', `${API}/waypoints/${id}/feature/geometry/type`)).body).toEqual({
      value: 'Point',
    })
    const second = await post('waypoints', waypoint(-1.6, 50.6))
    expect(second.body.id).not.toBe(id)
  })

  it('replaces with PUT at an id (creating it when new) and removes with DELETE', async () => {
    await start()
    const id = 'ac3a3b2d-07e8-4f25-92bc-98e7c92f7f1a'
    const put = await call('PUT', `${API}/waypoints/${id}`, waypoint(10, 20, 'first'))
    expect(put.status).toBe(200)
    expect(put.body).toMatchObject({ state: 'COMPLETED', statusCode: 200, message: id })
    await call('PUT', `${API}/waypoints/${id}`, {
      ...waypoint(11, 21, 'second'),
      $source: 'x',
      timestamp: 'y',
    })
    const one = await call('GET', `${API}/waypoints/${id}`)
    expect(one.body.name).toBe('second')
    expect(one.body.feature.geometry.coordinates).toEqual([11, 21])
    expect(one.body.$source).toBe('resources-provider')
    const del = await call('DELETE', `${API}/waypoints/${id}`)
    expect(del.status).toBe(200)
    expect(del.body).toMatchObject({ state: 'COMPLETED', statusCode: 200, message: id })
    expect((await call('GET', `${API}/waypoints/${id}`)).status).toBe(404)
    expect((await call('DELETE', `${API}/waypoints/${id}`)).status).toBe(404)
    expect(await call('GET', `${API}/waypoints`)).toMatchObject({ body: {} })
  })

  it('saves each standard type in its Signal K shape', async () => {
    await start()
    const route = {
      name: 'Out',
      distance: 1000,
      feature: {
        type: 'Feature',
        geometry: {
          type: 'LineString',
          coordinates: [
            [0, 0],
            [0.01, 0.01],
            [0.02, 0],
          ],
        },
        properties: {
          coordinatesMeta: [
            { name: 'a' },
            { name: 'b' },
            { href: '/resources/waypoints/ac3a3b2d-07e8-4f25-92bc-98e7c92f7f1a' },
          ],
        },
      },
    }
    const region = {
      name: 'Bay',
      feature: {
        geometry: {
          type: 'Polygon',
          coordinates: [
            [
              [0, 0],
              [1, 0],
              [1, 1],
              [0, 0],
            ],
          ],
        },
      },
    }
    const multi = {
      feature: {
        geometry: {
          type: 'MultiPolygon',
          coordinates: [
            [
              [
                [0, 0],
                [1, 0],
                [1, 1],
                [0, 0],
              ],
            ],
            [
              [
                [5, 5],
                [6, 5],
                [6, 6],
                [5, 5],
              ],
            ],
          ],
        },
      },
    }
    const note = { title: 'Fuel', description: 'diesel', position: { latitude: 50, longitude: -1 } }
    const linked = {
      title: 'On a mark',
      href: '/resources/waypoints/ac3a3b2d-07e8-4f25-92bc-98e7c92f7f1a',
    }
    const chart = {
      identifier: 'NZ615-local',
      name: 'Bay',
      type: 'tilelayer',
      url: 'http://x/{z}/{x}/{y}.png',
      bounds: [170, -45, 175, -40],
      minzoom: 1,
      maxzoom: 16,
      format: 'png',
    }
    for (const [type, body] of [
      ['routes', route],
      ['regions', region],
      ['regions', multi],
      ['notes', note],
      ['notes', linked],
      ['charts', chart],
      ['charts', { name: 'WMS', type: 'WMS', url: 'http://x/wms', layers: ['a'] }],
    ] as const) {
      const res = await post(type, body)
      expect(res.status, `${type} ${JSON.stringify(body)}`).toBe(201)
      expect((await call('GET', `${API}/${type}/${res.body.id}`)).body).toMatchObject(body)
    }
    // A chart's valid identifier is its id, as signalk-server does.
    expect((await call('GET', `${API}/charts/NZ615-local`)).status).toBe(200)
  })

  it("names the one provider of each type as signalk-server's _providers endpoints do", async () => {
    await start()
    expect((await call('GET', `${API}/routes/_providers`)).body).toEqual(['resources-provider'])
    expect((await call('GET', `${API}/routes/_providers/_default`)).body).toBe('resources-provider')
    expect((await call('GET', `${API}/tracks/_providers`)).status).toBe(404)
    const head = await fetch(`${server!.url}${API}/routes`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('content-length')).toBe('2')
  })

  it('answers an unknown type, id or endpoint 404 and other methods 405, as problem+json', async () => {
    await start()
    const unknown = await call('GET', `${API}/tracks`)
    expect(unknown.status).toBe(404)
    expect(unknown.type).toMatch(/application\/problem\+json/)
    expect(unknown.body.code).toBe('KEELSON_ERR_RESOURCE_TYPE_NOT_FOUND')
    expect((await post('tracks', { a: 1 })).status).toBe(404)
    const missing = await call('GET', `${API}/waypoints/ac3a3b2d-07e8-4f25-92bc-98e7c92f7f1a`)
    expect(missing.body.code).toBe('KEELSON_ERR_RESOURCE_NOT_FOUND')
    expect((await call('PATCH', `${API}/waypoints`, {})).status).toBe(405)
    expect((await call('DELETE', API)).status).toBe(405)
  })
})

describe('resources API: refusals', () => {
  const bad: [string, string, unknown][] = [
    ['waypoints', 'no feature', { name: 'x' }],
    [
      'waypoints',
      'a LineString',
      {
        feature: {
          geometry: {
            type: 'LineString',
            coordinates: [
              [0, 0],
              [1, 1],
            ],
          },
        },
      },
    ],
    [
      'waypoints',
      'longitude past 180',
      { feature: { geometry: { type: 'Point', coordinates: [180.5, 0] } } },
    ],
    [
      'waypoints',
      'latitude past 90',
      { feature: { geometry: { type: 'Point', coordinates: [0, -91] } } },
    ],
    [
      'waypoints',
      'a string coordinate',
      { feature: { geometry: { type: 'Point', coordinates: ['0', 0] } } },
    ],
    [
      'waypoints',
      'three coordinates',
      { feature: { geometry: { type: 'Point', coordinates: [0, 0, 0, 0] } } },
    ],
    [
      'waypoints',
      'a name that is a number',
      { name: 5, feature: { geometry: { type: 'Point', coordinates: [0, 0] } } },
    ],
    ['waypoints', 'an array body', [1, 2]],
    [
      'routes',
      'one point',
      { feature: { geometry: { type: 'LineString', coordinates: [[0, 0]] } } },
    ],
    [
      'routes',
      'a negative distance',
      {
        distance: -1,
        feature: {
          geometry: {
            type: 'LineString',
            coordinates: [
              [0, 0],
              [1, 1],
            ],
          },
        },
      },
    ],
    [
      'routes',
      'point meta without name or href',
      {
        feature: {
          geometry: {
            type: 'LineString',
            coordinates: [
              [0, 0],
              [1, 1],
            ],
          },
          properties: { coordinatesMeta: [{}, {}] },
        },
      },
    ],
    [
      'regions',
      'a ring of three points',
      {
        feature: {
          geometry: {
            type: 'Polygon',
            coordinates: [
              [
                [0, 0],
                [1, 0],
                [0, 0],
              ],
            ],
          },
        },
      },
    ],
    ['regions', 'a Point', { feature: { geometry: { type: 'Point', coordinates: [0, 0] } } }],
    ['notes', 'an href that is not a resource', { title: 'x', href: '/etc/passwd' }],
    ['notes', 'a position out of range', { title: 'x', position: { latitude: 100, longitude: 0 } }],
    ['charts', 'no source type', { name: 'x', url: 'http://x' }],
    ['charts', 'a zoom past 30', { type: 'tilelayer', maxzoom: 31 }],
  ]
  for (const [type, what, body] of bad) {
    it(`refuses a ${type} with ${what} (400 BAD_RESOURCE), nothing saved`, async () => {
      await start()
      const res = await post(type, body)
      expect(res.status).toBe(400)
      expect(res.type).toMatch(/application\/problem\+json/)
      expect(res.body.code).toBe('KEELSON_ERR_BAD_RESOURCE')
      expect((await call('GET', `${API}/${type}`)).body).toEqual({})
      expect(await readdir(join(dir, 'resources', type)).catch(() => [])).toEqual([])
      expect(resourcesInTree()).toBeUndefined()
    })
  }

  it('refuses ids that are not UUIDs (chart ids, custom ids) and path traversal, 400', async () => {
    await start()
    for (const id of [
      'not-a-uuid',
      'urn:mrn:signalk:uuid:ac3a3b2d-07e8-4f25-92bc-98e7c92f7f1a',
      'ac3a3b2d-07e8-1f25-92bc-98e7c92f7f1a',
    ]) {
      const res = await call('PUT', `${API}/waypoints/${encodeURIComponent(id)}`, waypoint(0, 0))
      expect(res.status, id).toBe(400)
      expect(res.body.code).toBe('KEELSON_ERR_BAD_RESOURCE_ID')
    }
    expect((await call('PUT', `${API}/charts/short`, { type: 'WMS' })).body.code).toBe(
      'KEELSON_ERR_BAD_RESOURCE_ID',
    )
    for (const path of ['..%2F..%2Fetc%2Fx', '%2E%2E', '..', 'a%2Fb', '.', '%00abcdefgh']) {
      // A dot segment is resolved before routing (404 or 405 at the parent), or refused as a key.
      expect([400, 404, 405], path).toContain(
        await rawCall('PUT', `${API}/charts/${path}`, '{"type":"WMS"}'),
      )
      expect([400, 404, 405], path).toContain(
        await rawCall('PUT', `${API}/${path}/abcdefgh`, '{"type":"WMS"}'),
      )
    }
    expect(await rawCall('PUT', `${API}/charts/..%2F..%2Fetc%2Fxxxxxxx`, '{"type":"WMS"}')).toBe(
      400,
    )
    expect(await readdir(join(dir, 'resources')).catch(() => [])).toEqual([])
  })

  it('refuses bad JSON, a wrong content type, forbidden keys, non-finite numbers and deep nesting', async () => {
    await start()
    const point = JSON.stringify(waypoint(0, 0))
    expect((await post('waypoints', '{"feature":')).body.code).toBe('KEELSON_ERR_BAD_JSON')
    expect((await call('POST', `${API}/waypoints`, point, 'text/plain')).status).toBe(415)
    const proto = await post('waypoints', `{"__proto__":{"x":1},${point.slice(1)}`)
    expect(proto.body.code).toBe('KEELSON_ERR_FORBIDDEN_KEY')
    const ctor = await post('waypoints', {
      ...waypoint(0, 0),
      feature: { ...(waypoint(0, 0).feature as object), properties: { constructor: 1 } },
    })
    expect(ctor.body.code).toBe('KEELSON_ERR_FORBIDDEN_KEY')
    const huge = await post(
      'waypoints',
      '{"feature":{"geometry":{"type":"Point","coordinates":[1e999,0]}}}',
    )
    expect(huge.body.code).toBe('KEELSON_ERR_NOT_FINITE')
    // Resources sit 6 levels below the root of the tree: a body may nest 58 levels of the 64.
    const nested = (n: number): unknown => (n === 0 ? 1 : { a: nested(n - 1) })
    const deep = await post('notes', { title: 'x', properties: nested(57) })
    expect(deep.status).toBe(201)
    const tooDeep = await post('notes', { title: 'y', properties: nested(58) })
    expect(tooDeep.body.code).toBe('KEELSON_ERR_TOO_DEEP')
    expect(Object.keys((await call('GET', `${API}/notes`)).body)).toEqual([deep.body.id])
    expect((await call('GET', `${API}/waypoints`)).body).toEqual({})
  })

  it('bounds the count per type and the total bytes (507), nothing applied past them', async () => {
    await start({ maxResourcesPerType: 3, maxResourceBytes: 4000 })
    for (let i = 0; i < 3; i++) expect((await post('waypoints', waypoint(i, i))).status).toBe(201)
    const full = await post('waypoints', waypoint(9, 9))
    expect(full.status).toBe(507)
    expect(full.body.code).toBe('KEELSON_ERR_RESOURCES_FULL')
    expect(Object.keys((await call('GET', `${API}/waypoints`)).body)).toHaveLength(3)
    // A replacement at an existing id is no new resource.
    const [first] = Object.keys((await call('GET', `${API}/waypoints`)).body)
    expect((await call('PUT', `${API}/waypoints/${first}`, waypoint(5, 5))).status).toBe(200)
    const big = await post('notes', { title: 'big', description: 'x'.repeat(4000) })
    expect(big.status).toBe(507)
    expect((await call('GET', `${API}/notes`)).body).toEqual({})
    expect(await readdir(join(dir, 'resources', 'notes')).catch(() => [])).toEqual([])
  })

  it('takes thousands of resources in one type and lists them with a limit', async () => {
    await start({ maxResourcesPerType: 2000 })
    const ids: string[] = []
    for (let i = 0; i < 1000; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: 100 }, (_, k) =>
          post('waypoints', waypoint(((i + k) % 360) - 180, 0)),
        ),
      )
      for (const res of batch) ids.push(res.body.id)
    }
    expect(new Set(ids).size).toBe(1000)
    const all = (await call('GET', `${API}/waypoints`)).body
    expect(Object.keys(all)).toHaveLength(1000)
    const limited = (await call('GET', `${API}/waypoints?limit=10`)).body
    expect(Object.keys(limited)).toEqual([...ids].sort().slice(0, 10))
    expect(await readdir(join(dir, 'resources', 'waypoints'))).toHaveLength(1000)
  }, 60_000)
})

describe('resources API: filters', () => {
  it('keeps resources within distance metres of position by great circle (an arc minute of a meridian at R 6378137 m)', async () => {
    await start()
    // One degree of latitude on a sphere of radius 6378137 m: 111319.49 m.
    const near = (await post('waypoints', waypoint(0, 1))).body.id
    const far = (await post('waypoints', waypoint(0, 2))).body.id
    const list = async (q: string) =>
      Object.keys((await call('GET', `${API}/waypoints?${q}`)).body).sort()
    expect(await list('position=[0,0]&distance=111319')).toEqual([])
    expect(await list('position=[0,0]&distance=111320')).toEqual([near])
    expect(await list('position=[0,0]&distance=222638')).toEqual([near])
    expect(await list('position=[0,0]&distance=222639')).toEqual([near, far].sort())
    // Across the antimeridian: 179.9 to -179.9 is 0.2° of the equator, 22263.9 m.
    const east = (await post('waypoints', waypoint(-179.9, 0))).body.id
    expect(await list('position=[179.9,0]&distance=22264')).toEqual([east])
  })

  it('filters routes by any of their points and notes by their position, and lists notes by href', async () => {
    await start()
    const route = (
      await post('routes', {
        feature: {
          geometry: {
            type: 'LineString',
            coordinates: [
              [10, 10],
              [0, 0.1],
            ],
          },
        },
      })
    ).body.id
    await post('routes', {
      feature: {
        geometry: {
          type: 'LineString',
          coordinates: [
            [10, 10],
            [11, 11],
          ],
        },
      },
    })
    expect(
      Object.keys((await call('GET', `${API}/routes?position=[0,0]&distance=20000`)).body),
    ).toEqual([route])
    const wp = 'ac3a3b2d-07e8-4f25-92bc-98e7c92f7f1a'
    const here = (await post('notes', { title: 'here', position: { latitude: 0.1, longitude: 0 } }))
      .body.id
    await post('notes', { title: 'there', position: { latitude: 5, longitude: 5 } })
    const linked = (await post('notes', { title: 'linked', href: `/resources/waypoints/${wp}` }))
      .body.id
    // A note with no position is kept within any distance, as signalk-server keeps it.
    expect(
      Object.keys((await call('GET', `${API}/notes?position=[0,0]&distance=20000`)).body).sort(),
    ).toEqual([here, linked].sort())
    expect(
      Object.keys((await call('GET', `${API}/notes?href=/resources/waypoints/${wp}`)).body),
    ).toEqual([linked])
    expect(Object.keys((await call('GET', `${API}/notes?bbox=[-1,-1,1,1]`)).body)).toEqual([here])
  })

  it('measures distance from the vessel when no position is given', async () => {
    const s = await start()
    const near = (await post('waypoints', waypoint(-1.5, 50.5))).body.id
    await post('waypoints', waypoint(10, 10))
    // No vessel position yet: no distance filter.
    expect(Object.keys((await call('GET', `${API}/waypoints?distance=1000`)).body)).toHaveLength(2)
    await fetch(`${s.url}/signalk/v1/api/vessels/self/navigation/position`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ value: { latitude: 50.5, longitude: -1.5 } }),
    })
    expect(Object.keys((await call('GET', `${API}/waypoints?distance=1000`)).body)).toEqual([near])
  })

  it('refuses filter values signalk-server refuses (400 BAD_QUERY)', async () => {
    await start()
    for (const q of [
      'limit=0',
      'limit=1.5',
      'limit=x',
      'distance=50',
      'distance=-5',
      'distance=1e999',
      'position=[0]',
      'position=[200,0]',
      'position=[0,NaN]',
      'bbox=[0,0,1]',
      `position=[${'1,'.repeat(300)}1]`,
    ]) {
      const res = await call('GET', `${API}/waypoints?${q}`)
      expect(res.status, q).toBe(400)
      expect(res.body.code).toBe('KEELSON_ERR_BAD_QUERY')
    }
  })
})

describe('resources API: custom types', () => {
  it('registers a custom type as Freeboard-SK does, then serves it; names are checked and bounded', async () => {
    await start({ maxResourceTypes: 2 })
    const reg = await call('POST', '/plugins/resources-provider/_config/tracks', {
      description: 'Freeboard GPX track imports.',
    })
    expect(reg.status).toBe(200)
    expect(reg.body).toEqual({ state: 'COMPLETED', statusCode: 200, message: 'OK' })
    expect((await call('GET', API)).body.tracks).toEqual({
      description: 'Path containing track resources',
    })
    expect((await call('GET', `${API}/tracks`)).body).toEqual({})
    const track = {
      name: 't',
      feature: {
        geometry: {
          type: 'MultiLineString',
          coordinates: [
            [
              [0, 0],
              [1, 1],
            ],
          ],
        },
      },
    }
    const made = await post('tracks', track)
    expect(made.status).toBe(201)
    expect((await call('PUT', `${API}/tracks/my-track_1`, track)).status).toBe(200)
    expect(Object.keys((await call('GET', `${API}/tracks`)).body).sort()).toEqual(
      [made.body.id, 'my-track_1'].sort(),
    )
    expect((await call('POST', '/plugins/resources-provider/_config/Tracks')).status).toBe(409)
    expect((await call('POST', '/plugins/resources-provider/_config/routes')).status).toBe(409)
    for (const name of ['__proto__', 'a.b', '1abc', 'x'.repeat(65), '%2E%2E', '..', 'a%2Fb']) {
      const status = await rawCall('POST', `/plugins/resources-provider/_config/${name}`, '{}')
      expect([400, 404], name).toContain(status)
    }
    expect(await readdir(join(dir, 'resources'))).toEqual(['custom-types.json', 'tracks'])
    expect((await call('POST', '/plugins/resources-provider/_config/groups')).status).toBe(200)
    const full = await call('POST', '/plugins/resources-provider/_config/infolayers')
    expect(full.status).toBe(507)
    expect((await call('GET', '/plugins/resources-provider/_config')).body).toEqual({
      standard: { routes: true, waypoints: true, notes: true, regions: true, charts: true },
      custom: [
        { name: 'tracks', description: 'Freeboard GPX track imports.' },
        { name: 'groups', description: '' },
      ],
    })
  })

  it('unregisters a custom type: no longer served nor in the tree, its files kept for a new registration', async () => {
    const s = await start()
    await call('POST', '/plugins/resources-provider/_config/tracks')
    const id = (await post('tracks', { name: 'trk' })).body.id
    const unreg = await call('DELETE', '/plugins/resources-provider/_config/tracks')
    expect(unreg.body).toEqual({ state: 'COMPLETED', statusCode: 200, message: 'OK' })
    expect((await call('GET', `${API}/tracks`)).status).toBe(404)
    expect((await call('GET', API)).body.tracks).toBeUndefined()
    const self = s.keelson.tree.selfKey
    expect(
      s.keelson.tree.get({ segments: ['vessels', self, 'resources', 'tracks'], starAt: -1 }),
    ).toBeUndefined()
    expect((await call('DELETE', '/plugins/resources-provider/_config/tracks')).status).toBe(404)
    expect((await call('DELETE', '/plugins/resources-provider/_config/routes')).status).toBe(400)
    expect(await readdir(join(dir, 'resources', 'tracks'))).toEqual([id])
    await call('POST', '/plugins/resources-provider/_config/tracks')
    expect((await call('GET', `${API}/tracks/${id}`)).body).toMatchObject({ name: 'trk' })
  })
})

describe('resources API: the tree and its streams', () => {
  it('writes each change as a delta on resources.<type>.<id> of the self vessel, seen by SSE', async () => {
    const s = await start()
    const sse = await SseClient.open(`${s.url}/signalk/v1/api/vessels/self/resources`)
    streams.push(sse)
    const id = (await post('waypoints', waypoint(3, 4, 'seen'))).body.id
    const self = s.keelson.tree.selfKey
    const leaf = s.keelson.tree.get({
      segments: ['vessels', self, 'resources', 'waypoints', id],
      starAt: -1,
    }) as any
    expect(leaf).toMatchObject({ value: waypoint(3, 4, 'seen'), $source: 'resources-provider' })
    expect(leaf.timestamp).toBe((await call('GET', `${API}/waypoints/${id}`)).body.timestamp)
    await sse.until(() => sse.events.some((e) => e.data?.includes('"seen"') === true))
    await call('DELETE', `${API}/waypoints/${id}`)
    expect(
      s.keelson.tree.get({ segments: ['vessels', self, 'resources', 'waypoints', id], starAt: -1 }),
    ).toBeUndefined()
    await sse.until(() => sse.events.some((e) => e.data?.includes(`"${id}":null`) === true))
  })

  it('sends each change to a Signal K WebSocket subscribed to resources.*, a removal as null', async () => {
    const s = await start()
    const ws = await Client.open(Number(new URL(s.url).port), 'subscribe=none')
    try {
      await ws.next()
      ws.send({
        context: 'vessels.self',
        subscribe: [{ path: 'resources.*' }],
      })
      await ws.drain()
      const id = (
        await post('routes', {
          name: 'r',
          feature: {
            geometry: {
              type: 'LineString',
              coordinates: [
                [0, 0],
                [1, 1],
              ],
            },
          },
        })
      ).body.id
      const path = `resources.routes.${id}`
      const seen = async (test: (v: { path: string; value: unknown }) => boolean) => {
        for (;;) {
          const values = Client.values([await ws.next()])
          if (values.some(test)) return values.find(test)
        }
      }
      expect(await seen((v) => v.path === path)).toMatchObject({ value: { name: 'r' } })
      await call('DELETE', `${API}/routes/${id}`)
      expect(await seen((v) => v.path === path)).toMatchObject({ value: null })
    } finally {
      ws.close()
    }
  })

  it('keeps resources across a restart on the same directory, one file per resource, back in the tree', async () => {
    let s = await start()
    const id = (await post('waypoints', waypoint(7, 8, 'kept'))).body.id
    await call('POST', '/plugins/resources-provider/_config/tracks', { description: 'd' })
    const track = (await post('tracks', { name: 'trk' })).body.id
    const gone = (await post('notes', { title: 'gone' })).body.id
    await call('DELETE', `${API}/notes/${gone}`)
    const before = (await call('GET', `${API}/waypoints/${id}`)).body
    expect(JSON.parse(await readFile(join(dir, 'resources', 'waypoints', id), 'utf8'))).toEqual(
      waypoint(7, 8, 'kept'),
    )
    await s.close()
    s = await start()
    expect((await call('GET', `${API}/waypoints`)).body).toEqual({
      [id]: { ...before, timestamp: expect.any(String) },
    })
    expect((await call('GET', `${API}/tracks/${track}`)).body).toMatchObject({ name: 'trk' })
    expect((await call('GET', `${API}/notes`)).body).toEqual({})
    const self = s.keelson.tree.selfKey
    expect(
      s.keelson.tree.get({
        segments: ['vessels', self, 'resources', 'waypoints', id, 'value'],
        starAt: -1,
      }),
    ).toEqual(waypoint(7, 8, 'kept'))
    expect(s.keelson.resources.resolve(`/resources/waypoints/${id}`)).toMatchObject({
      type: 'waypoints',
      id,
      value: waypoint(7, 8, 'kept'),
    })
  })

  it("removes from the journal's tree the copies of resources whose files are gone", async () => {
    const dataDir = join(dir, 'journal')
    let s = await start({ dataDir })
    const kept = (await post('waypoints', waypoint(1, 1, 'kept'))).body.id
    const gone = (await post('waypoints', waypoint(2, 2, 'gone'))).body.id
    const saved = (await call('GET', `${API}/waypoints/${kept}`)).body.timestamp
    await s.close()
    await rm(join(dir, 'resources', 'waypoints', gone))
    s = await start({ dataDir })
    // The journal's tree already holds the kept one: its copy and timestamp stay as they were.
    const timestamp = s.keelson.tree.get({
      segments: ['vessels', s.keelson.tree.selfKey, 'resources', 'waypoints', kept, 'timestamp'],
      starAt: -1,
    })
    expect(timestamp).toBe(saved)
    expect((await call('GET', `${API}/waypoints/${kept}`)).body.timestamp).toBe(saved)
    const copies = s.keelson.tree.get({
      segments: ['vessels', s.keelson.tree.selfKey, 'resources', 'waypoints'],
      starAt: -1,
    })
    expect(Object.keys(copies as object)).toEqual([kept])
    expect(Object.keys((await call('GET', `${API}/waypoints`)).body)).toEqual([kept])
  })

  it('writes nothing at start-up into a tree it is given to start from (a cluster snapshot)', async () => {
    let s = await start()
    await post('waypoints', waypoint(1, 1, 'mine'))
    await s.close()
    const other = await startServer({ mmsi: '230099999' })
    const root = other.keelson.tree.get({ segments: [], starAt: -1 }) as any
    const rev = other.keelson.tree.rev
    await other.close()
    s = await start({ restore: { root, rev } })
    expect(s.keelson.tree.rev).toBe(rev)
    expect(Object.keys((await call('GET', `${API}/waypoints`)).body)).toHaveLength(1)
  })

  it('refuses a write whose file cannot be written (503) and puts the tree back as it was', async () => {
    const { rename, writeFile } = await import('node:fs/promises')
    const s = await start()
    const id = (await post('waypoints', waypoint(1, 1, 'before'))).body.id
    const leaf = () =>
      s.keelson.tree.get({
        segments: ['vessels', s.keelson.tree.selfKey, 'resources', 'waypoints', id],
        starAt: -1,
      }) as any
    const was = leaf()
    // The folder becomes a file: no resource file can be written in it.
    await rename(join(dir, 'resources', 'waypoints'), join(dir, 'moved'))
    await writeFile(join(dir, 'resources', 'waypoints'), 'not a folder')
    const replaced = await call('PUT', `${API}/waypoints/${id}`, waypoint(2, 2, 'after'))
    expect(replaced.status).toBe(503)
    expect(replaced.body.code).toBe('KEELSON_ERR_UNAVAILABLE')
    expect(leaf().value).toEqual(was.value)
    expect((await call('GET', `${API}/waypoints/${id}`)).body.name).toBe('before')
    const added = await post('waypoints', waypoint(3, 3, 'new'))
    expect(added.status).toBe(503)
    expect(Object.keys((await call('GET', `${API}/waypoints`)).body)).toEqual([id])
    const copies = s.keelson.tree.get({
      segments: ['vessels', s.keelson.tree.selfKey, 'resources', 'waypoints'],
      starAt: -1,
    })
    expect(Object.keys(copies as object)).toEqual([id])
  })

  it('leaves out files that are not valid resources at start-up, and temporary files', async () => {
    const { mkdir, writeFile } = await import('node:fs/promises')
    const folder = join(dir, 'resources', 'waypoints')
    await mkdir(folder, { recursive: true })
    const good = 'ac3a3b2d-07e8-4f25-92bc-98e7c92f7f1a'
    await writeFile(join(folder, good), JSON.stringify(waypoint(1, 2)))
    await writeFile(join(folder, 'afe46290-aa98-4d2f-9c04-d199ca64942e'), '{"feature":')
    await writeFile(
      join(folder, 'bfe46290-aa98-4d2f-9c04-d199ca64942e'),
      '{"__proto__":{},"feature":{}}',
    )
    await writeFile(
      join(folder, 'cfe46290-aa98-4d2f-9c04-d199ca64942e'),
      JSON.stringify(waypoint(500, 0)),
    )
    await writeFile(join(folder, `.${good}.abc.tmp`), JSON.stringify(waypoint(3, 3)))
    await writeFile(join(folder, 'not-an-id'), JSON.stringify(waypoint(3, 3)))
    await start()
    expect(Object.keys((await call('GET', `${API}/waypoints`)).body)).toEqual([good])
  })

  it('keeps resources in memory when no persistDir is given', async () => {
    server = await startServer({})
    expect((await post('waypoints', waypoint(1, 1))).status).toBe(201)
    expect(Object.keys((await call('GET', `${API}/waypoints`)).body)).toHaveLength(1)
    expect(await readdir(join(dir, 'resources')).catch(() => [])).toEqual([])
  })
})
