/**
 * Application data with users (SPEC §8, §11): `user` data is each user's
 * own, kept per user on disk; `global` is written by admins only, as
 * signalk-server does; readonly users read but do not write.
 */
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Secured, startSecured } from '../support/secured.js'

const BASE = '/signalk/v1/applicationData'

let secured: Secured | undefined
let dir: string | undefined

afterEach(async () => {
  await secured?.close()
  secured = undefined
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  dir = undefined
})

const USERS = [
  { name: 'anna', type: 'readwrite' as const },
  { name: 'bob.smith', type: 'readwrite' as const },
  { name: 'crew', type: 'readonly' as const },
  { name: 'root', type: 'admin' as const },
]

function as(token: string | undefined, method: string, path: string, body?: unknown) {
  const headers: Record<string, string> = {}
  if (token !== undefined) headers.Authorization = `Bearer ${token}`
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  return fetch(`${secured!.url}${BASE}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

describe('application data with users', () => {
  it('keeps each user their own data, on disk under users/<name>', async () => {
    dir = await mkdtemp(join(tmpdir(), 'keelson-appdata-users-'))
    secured = await startSecured({ users: USERS, options: { persistDir: dir } })
    const anna = await secured.login('anna')
    const bob = await secured.login('bob.smith')
    expect((await as(anna, 'POST', '/user/kip/9.0.0', { theme: 'night' })).status).toBe(200)
    expect((await as(bob, 'POST', '/user/kip/9.0.0', { theme: 'day' })).status).toBe(200)
    expect(await (await as(anna, 'GET', '/user/kip/9.0.0')).json()).toEqual({ theme: 'night' })
    expect(await (await as(bob, 'GET', '/user/kip/9.0.0')).json()).toEqual({ theme: 'day' })
    expect((await as(undefined, 'GET', '/user/kip/9.0.0')).status).toBe(401)
    const annaFile = join(dir, 'applicationData', 'users', 'anna', 'kip', '9.0.0.json')
    expect(JSON.parse(readFileSync(annaFile, 'utf8'))).toEqual({ theme: 'night' })
    // A dot in a name cannot make a "." or ".." folder: it is encoded.
    const bobFile = join(dir, 'applicationData', 'users', 'bob%2Esmith', 'kip', '9.0.0.json')
    expect(JSON.parse(readFileSync(bobFile, 'utf8'))).toEqual({ theme: 'day' })
  })

  it('lets only admins write global data; everyone who reads reads it', async () => {
    secured = await startSecured({ users: USERS })
    const anna = await secured.login('anna')
    const root = await secured.login('root')
    const refused = await as(anna, 'POST', '/global/kip/9.0.0', { shared: 1 })
    expect(refused.status).toBe(403)
    expect(((await refused.json()) as any).detail).toContain('admin')
    expect((await as(undefined, 'POST', '/global/kip/9.0.0', { shared: 1 })).status).toBe(401)
    expect((await as(root, 'POST', '/global/kip/9.0.0', { shared: 2 })).status).toBe(200)
    expect(await (await as(anna, 'GET', '/global/kip/9.0.0')).json()).toEqual({ shared: 2 })
    expect(await (await as(undefined, 'GET', '/global/kip/9.0.0')).json()).toEqual({ shared: 2 })
  })

  it('lets a readonly user read but not write its own data, as signalk-server', async () => {
    secured = await startSecured({ users: USERS })
    const crew = await secured.login('crew')
    expect((await as(crew, 'GET', '/user/kip/9.0.0')).status).toBe(200)
    expect((await as(crew, 'POST', '/user/kip/9.0.0', { a: 1 })).status).toBe(403)
  })
})
