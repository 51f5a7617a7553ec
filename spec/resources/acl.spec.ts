/**
 * The resources API under security (SPEC §8, §11): reading a resource needs
 * read permission on `resources.<type>.<id>` of the self vessel, writing
 * needs write permission there; a refusal applies nothing, on disk or in the tree.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Acl } from '../../src/security/types.js'
import { SELF, type Secured, startSecured } from '../support/secured.js'

const API = '/signalk/v2/api/resources'
const WP = 'ac3a3b2d-07e8-4f25-92bc-98e7c92f7f1a'
const PRIVATE = 'bfe46290-aa98-4d2f-9c04-d199ca64942e'

let secured: Secured | undefined
let dir: string | undefined

afterEach(async () => {
  await secured?.close()
  secured = undefined
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  dir = undefined
})

const USERS = [
  { name: 'crew', type: 'readonly' as const },
  { name: 'skipper', type: 'readwrite' as const },
  { name: 'guest', type: 'readwrite' as const },
]

/**
 * skipper writes every resource; guest writes waypoints but cannot read the
 * private one; everyone reads the rest.
 */
const ACLS: Acl[] = [
  {
    context: 'vessels.self',
    resources: [
      {
        paths: [`resources.waypoints.${PRIVATE}`, `resources.waypoints.${PRIVATE}.*`],
        permissions: [{ subject: 'skipper', permission: 'write' }],
      },
      {
        paths: ['resources.waypoints.*'],
        permissions: [
          { subject: 'skipper', permission: 'write' },
          { subject: 'guest', permission: 'write' },
          { subject: 'any', permission: 'read' },
        ],
      },
      {
        paths: ['resources.*'],
        permissions: [
          { subject: 'skipper', permission: 'write' },
          { subject: 'any', permission: 'read' },
        ],
      },
      { paths: ['*'], permissions: [{ subject: 'any', permission: 'read' }] },
    ],
  },
]

function waypoint(name: string): unknown {
  return { name, feature: { geometry: { type: 'Point', coordinates: [1, 2] } } }
}

async function call(method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = {}
  if (token !== undefined) headers.Authorization = `Bearer ${token}`
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(`${secured!.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as any) }
}

async function start(acls: Acl[] = ACLS): Promise<Secured> {
  dir = await mkdtemp(join(tmpdir(), 'keelson-res-acl-'))
  secured = await startSecured({ users: USERS, file: { acls }, options: { persistDir: dir } })
  return secured
}

function inTree(type: string, id: string): unknown {
  return secured!.keelson.tree.get({
    segments: ['vessels', SELF, 'resources', type, id],
    starAt: -1,
  })
}

describe('resources API under security', () => {
  it('refuses writes from an anonymous reader (401) and a readonly user (403), nothing applied', async () => {
    const s = await start()
    const crew = await s.login('crew')
    expect((await call('POST', `${API}/waypoints`, undefined, waypoint('a'))).status).toBe(401)
    expect((await call('PUT', `${API}/waypoints/${WP}`, crew, waypoint('a'))).status).toBe(403)
    expect((await call('POST', '/plugins/resources-provider/_config/tracks', crew)).status).toBe(
      403,
    )
    expect((await call('GET', `${API}/waypoints`)).body).toEqual({})
    expect(await readdir(join(dir!, 'resources')).catch(() => [])).toEqual([])
    expect(inTree('waypoints', WP)).toBeUndefined()
  })

  it('lets a writer write where its ACL allows and refuses it elsewhere (403), nothing applied', async () => {
    const s = await start()
    const guest = await s.login('guest')
    const skipper = await s.login('skipper')
    expect((await call('PUT', `${API}/waypoints/${WP}`, guest, waypoint('by guest'))).status).toBe(
      200,
    )
    expect(inTree('waypoints', WP)).toMatchObject({ value: { name: 'by guest' } })
    const route = {
      feature: {
        geometry: {
          type: 'LineString',
          coordinates: [
            [0, 0],
            [1, 1],
          ],
        },
      },
    }
    const refused = await call('POST', `${API}/routes`, guest, route)
    expect(refused.status).toBe(403)
    expect(refused.body.code).toBe('KEELSON_ERR_FORBIDDEN')
    expect((await call('GET', `${API}/routes`, skipper)).body).toEqual({})
    expect(await readdir(join(dir!, 'resources', 'routes')).catch(() => [])).toEqual([])
    // The private waypoint: the skipper writes it, the guest may neither replace nor delete it.
    expect(
      (await call('PUT', `${API}/waypoints/${PRIVATE}`, skipper, waypoint('secret'))).status,
    ).toBe(200)
    expect((await call('PUT', `${API}/waypoints/${PRIVATE}`, guest, waypoint('mine'))).status).toBe(
      403,
    )
    expect((await call('DELETE', `${API}/waypoints/${PRIVATE}`, guest)).status).toBe(403)
    expect((await call('GET', `${API}/waypoints/${PRIVATE}`, skipper)).body.name).toBe('secret')
    expect((await call('POST', '/plugins/resources-provider/_config/tracks', guest)).status).toBe(
      403,
    )
    expect((await call('POST', '/plugins/resources-provider/_config/tracks', skipper)).status).toBe(
      200,
    )
    expect((await call('POST', `${API}/tracks`, skipper, { name: 't' })).status).toBe(201)
    const unregister = await call('DELETE', '/plugins/resources-provider/_config/tracks', guest)
    expect(unregister.status).toBe(403)
    expect((await call('GET', `${API}/tracks`, guest)).status).toBe(200)
    expect((await call('DELETE', `${API}/waypoints/${WP}`, guest)).status).toBe(200)
    expect(inTree('waypoints', WP)).toBeUndefined()
  })

  it('lists and reads only what the reader may read (403 for one it may not)', async () => {
    const s = await start()
    const skipper = await s.login('skipper')
    const guest = await s.login('guest')
    await call('PUT', `${API}/waypoints/${WP}`, skipper, waypoint('public'))
    await call('PUT', `${API}/waypoints/${PRIVATE}`, skipper, waypoint('secret'))
    expect(Object.keys((await call('GET', `${API}/waypoints`, skipper)).body).sort()).toEqual(
      [WP, PRIVATE].sort(),
    )
    expect(Object.keys((await call('GET', `${API}/waypoints`, guest)).body)).toEqual([WP])
    expect(Object.keys((await call('GET', `${API}/waypoints`)).body)).toEqual([WP])
    const hidden = await call('GET', `${API}/waypoints/${PRIVATE}`, guest)
    expect(hidden.status).toBe(403)
    expect(JSON.stringify(hidden.body)).not.toContain('secret')
    expect((await call('GET', `${API}/waypoints/${PRIVATE}/name`)).status).toBe(403)
    // A forged token is refused even where reads are open.
    expect((await call('GET', `${API}/waypoints`, `${skipper}x`)).status).toBe(401)
  })

  it('refuses everything to readers without ACLs that grant resources (no matching ACL denies)', async () => {
    const s = await start([
      {
        context: 'vessels.self',
        resources: [
          { paths: ['navigation.*'], permissions: [{ subject: 'any', permission: 'read' }] },
        ],
      },
    ])
    const skipper = await s.login('skipper')
    expect((await call('PUT', `${API}/waypoints/${WP}`, skipper, waypoint('x'))).status).toBe(403)
    expect(inTree('waypoints', WP)).toBeUndefined()
  })
})
