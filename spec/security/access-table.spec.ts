/**
 * SPEC §8 as one table: each role (no users; anonymous with and without
 * `allowReadonly`; readonly, readwrite and admin users; a readwrite user
 * whose ACL grants read of `navigation.*` and write of
 * `navigation.courseOverGroundTrue` only) × each operation (REST GET of a
 * readable and of an unreadable path, SSE snapshot, WebSocket subscribe,
 * PATCH/PUT/DELETE, WebSocket delta, login status) × each token carrier
 * (Authorization: Bearer, the JAUTHENTICATION cookie, `?token=`), against
 * real servers with real clients. A refused write applies nothing.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Acl } from '../../src/security/types.js'
import { type Carrier, carry, type Secured, startSecured } from '../support/secured.js'
import { SseClient } from '../support/sse-client.js'
import { deltaValues, WsPeer } from '../support/ws-peer.js'

type ServerKind = 'open' | 'users' | 'closed' | 'acl'

const NAV_ACL: Acl[] = [
  {
    context: 'vessels.self',
    resources: [
      {
        paths: ['navigation.courseOverGroundTrue'],
        permissions: [{ subject: 'navi', permission: 'write' }],
      },
      { paths: ['navigation.*'], permissions: [{ subject: 'navi', permission: 'read' }] },
    ],
  },
]

const USERS = [
  { name: 'ro', type: 'readonly' as const },
  { name: 'rw', type: 'readwrite' as const },
  { name: 'adm', type: 'admin' as const },
]

const ALL_PATHS = [
  'environment.wind.speedApparent',
  'navigation.courseOverGroundTrue',
  'navigation.speedOverGround',
]
const NAV_PATHS = ['navigation.courseOverGroundTrue', 'navigation.speedOverGround']

/** What a role gets for each operation. */
interface Expect {
  /** GET of navigation.speedOverGround. */
  get: number
  /** GET of environment (403 names it when the ACL hides it). */
  hidden: number
  /** The dot paths with a value in the SSE snapshot and the WebSocket's cached values, or the refusal. */
  reads: string[] | 401
  /** PATCH/PUT/DELETE of navigation.courseOverGroundTrue: accepted, or this status. */
  write: 'ok' | 401 | 403
  /** PATCH of environment, and a PATCH of navigation touching speedOverGround too. */
  writeHidden: 'ok' | 401 | 403
  /** A WebSocket delta of courseOverGroundTrue: accepted, or the error's status (or the upgrade's). */
  delta: 'ok' | 401 | 403
  /** A WebSocket delta of environment.wind.speedApparent. */
  deltaHidden: 'ok' | 401 | 403
  /** What loginStatus answers (a subset). */
  status: Record<string, unknown>
}

interface Role {
  label: string
  server: ServerKind
  user?: string
  expect: Expect
}

const LOGGED_IN = { status: 'loggedIn', authenticationRequired: true, readOnlyAccess: true }

const ROLES: Role[] = [
  {
    label: 'with no users configured, a loopback client',
    server: 'open',
    expect: {
      get: 200,
      hidden: 200,
      reads: ALL_PATHS,
      write: 'ok',
      writeHidden: 'ok',
      delta: 'ok',
      deltaHidden: 'ok',
      status: { status: 'notLoggedIn', authenticationRequired: false },
    },
  },
  {
    label: 'an anonymous reader under allowReadonly',
    server: 'users',
    expect: {
      get: 200,
      hidden: 200,
      reads: ALL_PATHS,
      write: 401,
      writeHidden: 401,
      delta: 401,
      deltaHidden: 401,
      status: { status: 'notLoggedIn', authenticationRequired: true, readOnlyAccess: true },
    },
  },
  {
    label: 'an anonymous client with allowReadonly false',
    server: 'closed',
    expect: {
      get: 401,
      hidden: 401,
      reads: 401,
      write: 401,
      writeHidden: 401,
      delta: 401,
      deltaHidden: 401,
      status: { status: 'notLoggedIn', authenticationRequired: true, readOnlyAccess: false },
    },
  },
  {
    label: 'a readonly user',
    server: 'users',
    user: 'ro',
    expect: {
      get: 200,
      hidden: 200,
      reads: ALL_PATHS,
      write: 403,
      writeHidden: 403,
      delta: 403,
      deltaHidden: 403,
      status: { ...LOGGED_IN, userLevel: 'readonly', username: 'ro' },
    },
  },
  {
    label: 'a readwrite user',
    server: 'users',
    user: 'rw',
    expect: {
      get: 200,
      hidden: 200,
      reads: ALL_PATHS,
      write: 'ok',
      writeHidden: 'ok',
      delta: 'ok',
      deltaHidden: 'ok',
      status: { ...LOGGED_IN, userLevel: 'readwrite', username: 'rw' },
    },
  },
  {
    label: 'an admin',
    server: 'users',
    user: 'adm',
    expect: {
      get: 200,
      hidden: 200,
      reads: ALL_PATHS,
      write: 'ok',
      writeHidden: 'ok',
      delta: 'ok',
      deltaHidden: 'ok',
      status: { ...LOGGED_IN, userLevel: 'admin', username: 'adm' },
    },
  },
  {
    label: 'a readwrite user whose ACL reads navigation.* and writes courseOverGroundTrue',
    server: 'acl',
    user: 'navi',
    expect: {
      get: 200,
      hidden: 403,
      reads: NAV_PATHS,
      write: 'ok',
      writeHidden: 403,
      delta: 'ok',
      deltaHidden: 403,
      status: { ...LOGGED_IN, userLevel: 'readwrite', username: 'navi' },
    },
  },
]

const CARRIERS: Carrier[] = ['header', 'cookie', 'query']
const CARRIED_BY: Record<Carrier, string> = {
  header: 'with its token in Authorization: Bearer',
  cookie: 'with its token in the JAUTHENTICATION cookie',
  query: 'with its token in ?token=',
}

const servers = {} as Record<ServerKind, Secured>
const tokens = new Map<string, string>()

beforeAll(async () => {
  const [open, users, closed, acl] = await Promise.all([
    startSecured(),
    startSecured({ users: USERS }),
    startSecured({ users: USERS, file: { allowReadonly: false } }),
    startSecured({ users: [{ name: 'navi', type: 'readwrite' }], file: { acls: NAV_ACL } }),
  ])
  Object.assign(servers, { open, users, closed, acl })
  for (const { name } of USERS) tokens.set(name, await users.login(name))
  tokens.set('navi', await acl.login('navi'))
})

afterAll(async () => {
  await Promise.all(Object.values(servers).map((s) => s.close()))
})

beforeEach(() => {
  for (const server of Object.values(servers)) {
    server.seed('navigation.speedOverGround', 3.5)
    server.seed('navigation.courseOverGroundTrue', 1.25)
    server.seed('environment.wind.speedApparent', 7.25)
  }
})

/** The dot paths under the self vessel that hold a `value`. */
function valuePaths(tree: unknown, prefix = ''): string[] {
  if (typeof tree !== 'object' || tree === null) return []
  const out: string[] = []
  for (const [key, child] of Object.entries(tree)) {
    if (key === 'value' && prefix !== '') out.push(prefix)
    else if (key !== 'meta' && key !== 'values')
      out.push(...valuePaths(child, prefix === '' ? key : `${prefix}.${key}`))
  }
  return out.sort()
}

function selfValue(server: Secured, path: string): unknown {
  const node = server.keelson.tree.get({
    segments: ['vessels', `urn:mrn:imo:mmsi:230099999`, ...path.split('.'), 'value'],
    starAt: -1,
  })
  return node
}

async function problemOf(res: Response): Promise<{ status: number; detail: string; code: string }> {
  const body = (await res.json()) as { status: number; detail: string; code: string }
  expect(res.headers.get('content-type')).toContain('application/problem+json')
  expect(body.status).toBe(res.status)
  return body
}

for (const role of ROLES) {
  const carriers: (Carrier | undefined)[] = role.user === undefined ? [undefined] : CARRIERS
  for (const carrier of carriers) {
    const title = carrier === undefined ? role.label : `${role.label} ${CARRIED_BY[carrier]}`
    describe(title, () => {
      const e = role.expect
      const server = () => servers[role.server]
      const via = (url: string) =>
        carry(url, role.user && tokens.get(role.user), carrier ?? 'header')
      const api = (path: string) => via(`${server().url}/signalk/v1/api/vessels/self/${path}`)
      const wsUrl = () => via(`ws://127.0.0.1:${server().port}/signalk/v1/stream?subscribe=none`)

      async function write(
        method: string,
        path: string,
        body: unknown,
        expected: 'ok' | number,
        okStatus: number,
      ): Promise<string> {
        const before = server().keelson.tree.rev
        const { url, headers } = api(path)
        const res = await fetch(url, {
          method,
          headers: { ...headers, 'Content-Type': 'application/json' },
          ...(body !== undefined && { body: JSON.stringify(body) }),
        })
        if (expected === 'ok') {
          expect(res.status).toBe(okStatus)
          expect(server().keelson.tree.rev).toBeGreaterThan(before)
          return ''
        }
        expect(res.status).toBe(expected)
        const { detail } = await problemOf(res)
        expect(server().keelson.tree.rev).toBe(before)
        return detail
      }

      it(`reads a readable path with GET: ${e.get}`, async () => {
        const { url, headers } = api('navigation/speedOverGround')
        const res = await fetch(url, { headers })
        expect(res.status).toBe(e.get)
        if (e.get === 200) expect(((await res.json()) as { value: number }).value).toBe(3.5)
        else await problemOf(res)
      })

      it(`reads environment with GET: ${e.hidden}${e.hidden === 403 ? ', naming the path' : ''}`, async () => {
        const { url, headers } = api('environment')
        const res = await fetch(url, { headers })
        expect(res.status).toBe(e.hidden)
        if (e.hidden === 200) {
          expect(valuePaths(await res.json())).toEqual(['wind.speedApparent'])
        } else {
          const problem = await problemOf(res)
          if (e.hidden === 403) expect(problem.detail).toContain('/vessels/self/environment')
        }
      })

      it(`gets an SSE snapshot of ${e.reads === 401 ? 'nothing: 401' : e.reads.length === 3 ? 'everything' : 'navigation only'}`, async () => {
        const { url, headers } = api('')
        const sse = await SseClient.open(url, headers)
        try {
          if (e.reads === 401) {
            expect(sse.response.statusCode).toBe(401)
            return
          }
          expect(sse.response.statusCode).toBe(200)
          await sse.until(() => sse.messages.length >= 1)
          expect(valuePaths(JSON.parse(sse.messages[0]!.data!))).toEqual(e.reads)
        } finally {
          sse.close()
        }
      })

      it(`gets the cached values it may read when it subscribes over the WebSocket${e.reads === 401 ? ': the upgrade is answered 401' : ''}`, async () => {
        const { url, headers } = wsUrl()
        const peer = await WsPeer.connect(url, headers)
        if (e.reads === 401) {
          expect(peer.refused && peer.status).toBe(401)
          expect(peer.refused && peer.opened).toBe(false)
          return
        }
        if (peer.refused) throw new Error(`refused ${peer.status}`)
        try {
          await peer.next() // hello
          peer.send({ context: 'vessels.self', subscribe: [{ path: '*' }] })
          const paths = deltaValues(await peer.drain()).map((v) => v.path)
          expect([...new Set(paths.filter((p) => p !== ''))].sort()).toEqual(e.reads)
        } finally {
          peer.close()
        }
      })

      it(`PATCHes, PUTs and DELETEs courseOverGroundTrue: ${e.write === 'ok' ? 'accepted' : `${e.write}, nothing applied`}`, async () => {
        await write('PATCH', 'navigation/courseOverGroundTrue', { value: 2 }, e.write, 200)
        if (e.write === 'ok') expect(selfValue(server(), 'navigation.courseOverGroundTrue')).toBe(2)
        // Not exactly {"value"}: the §3 subtree PUT, not a Signal K PUT request (SPEC §11).
        const subtree = { value: 2.5, $source: 'acl.spec' }
        await write('PUT', 'navigation/courseOverGroundTrue', subtree, e.write, 200)
        if (e.write === 'ok')
          expect(selfValue(server(), 'navigation.courseOverGroundTrue')).toBe(2.5)
        await write('DELETE', 'navigation/courseOverGroundTrue', undefined, e.write, 204)
        if (e.write === 'ok')
          expect(selfValue(server(), 'navigation.courseOverGroundTrue')).toBeUndefined()
        else expect(selfValue(server(), 'navigation.courseOverGroundTrue')).toBe(1.25)
      })

      it(`PATCHes environment and a navigation patch touching speedOverGround: ${e.writeHidden === 'ok' ? 'accepted' : `${e.writeHidden}, nothing applied`}`, async () => {
        const detail = await write(
          'PATCH',
          'environment/wind/speedApparent',
          { value: 9 },
          e.writeHidden,
          200,
        )
        if (e.writeHidden === 403 && role.server === 'acl') {
          expect(detail).toContain('environment.wind.speedApparent')
        }
        const mixed = await write(
          'PATCH',
          'navigation',
          { courseOverGroundTrue: { value: 3 }, speedOverGround: { value: 9 } },
          e.writeHidden,
          200,
        )
        if (e.writeHidden === 403 && role.server === 'acl') {
          expect(mixed).toContain('navigation.speedOverGround')
        }
        const cog = selfValue(server(), 'navigation.courseOverGroundTrue')
        const wind = selfValue(server(), 'environment.wind.speedApparent')
        if (e.writeHidden === 'ok') expect([cog, wind]).toEqual([3, 9])
        else expect([cog, wind]).toEqual([1.25, 7.25])
      })

      for (const [what, path, expected] of [
        ['courseOverGroundTrue', 'navigation.courseOverGroundTrue', e.delta],
        ['environment.wind.speedApparent', 'environment.wind.speedApparent', e.deltaHidden],
      ] as const) {
        it(`sends a WebSocket delta of ${what}: ${expected === 'ok' ? 'applied' : `refused ${expected}, nothing applied`}`, async () => {
          const { url, headers } = wsUrl()
          const before = server().keelson.tree.rev
          const peer = await WsPeer.connect(url, headers)
          if (peer.refused) {
            expect(peer.status).toBe(expected)
            expect(peer.opened).toBe(false)
            expect(role.server).toBe('closed')
            return
          }
          try {
            await peer.next() // hello
            peer.send({
              context: 'vessels.self',
              requestId: 'w1',
              updates: [{ values: [{ path, value: 4.5 }] }],
            })
            const replies = await peer.drain()
            if (expected === 'ok') {
              expect(replies).toEqual([])
              expect(selfValue(server(), path)).toBe(4.5)
            } else {
              expect(replies).toEqual([
                expect.objectContaining({ requestId: 'w1', statusCode: expected }),
              ])
              expect(server().keelson.tree.rev).toBe(before)
            }
          } finally {
            peer.close()
          }
        })
      }

      it('learns its login status from /skServer/loginStatus', async () => {
        const { url, headers } = via(`${server().url}/skServer/loginStatus`)
        const res = await fetch(url, { headers })
        expect(res.status).toBe(200)
        expect(await res.json()).toMatchObject(e.status)
      })
    })
  }
}
