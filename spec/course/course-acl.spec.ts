import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Secured, startSecured } from '../support/secured.js'

const HOME = { latitude: 47.5, longitude: -3.03 }
const NORTH = { latitude: 47.52, longitude: -3.03 }

let secured: Secured

beforeEach(async () => {
  secured = await startSecured({
    users: [
      { name: 'skipper', type: 'readwrite' },
      { name: 'crew', type: 'readwrite' },
      { name: 'guest', type: 'readonly' },
    ],
    file: {
      acls: [
        {
          context: 'vessels.self',
          resources: [
            {
              paths: ['navigation.course'],
              permissions: [
                { subject: 'skipper', permission: 'write' },
                { subject: 'any', permission: 'read' },
              ],
            },
            {
              paths: ['navigation.position'],
              permissions: [
                { subject: 'crew', permission: 'write' },
                { subject: 'any', permission: 'read' },
              ],
            },
            { paths: ['*'], permissions: [{ subject: 'any', permission: 'read' }] },
          ],
        },
      ],
    },
    options: { coursePeriodMs: 40 },
  })
  secured.seed('navigation.position', HOME)
})

afterEach(async () => {
  await secured.close()
})

const course = (path = '') => `${secured.url}/signalk/v2/api/vessels/self/navigation/course${path}`

async function put(path: string, body: unknown, token?: string) {
  const res = await fetch(course(path), {
    method: 'PUT',
    headers: {
      'Content-Type': 'application/json',
      ...(token !== undefined && { Authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
  })
  return { status: res.status, json: (await res.json()) as any }
}

describe('the course API under security (SPEC §8)', () => {
  it('takes a course from a user who may write navigation.course, and from nobody else', async () => {
    const anonymous = await put('/destination', { position: NORTH })
    expect([anonymous.status, anonymous.json.code]).toEqual([401, 'KEELSON_ERR_UNAUTHORIZED'])
    const guest = await put('/destination', { position: NORTH }, await secured.login('guest'))
    expect([guest.status, guest.json.code]).toEqual([403, 'KEELSON_ERR_FORBIDDEN'])
    const crew = await put('/destination', { position: NORTH }, await secured.login('crew'))
    expect([crew.status, crew.json.code]).toEqual([403, 'KEELSON_ERR_FORBIDDEN'])
    expect(crew.json.detail).toMatch(/navigation\.course/)
    const clear = await fetch(course(), {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${await secured.login('crew')}` },
    })
    expect(clear.status).toBe(403)
    // Nothing of the refused writes is in the course or the tree.
    const before = (await (await fetch(course())).json()) as any
    expect(before.nextPoint).toBeNull()
    expect(secured.keelson.course.state.nextPoint).toBeNull()

    const skipper = await secured.login('skipper')
    expect((await put('/destination', { position: NORTH }, skipper)).status).toBe(200)
    expect((await put('/arrivalCircle', { value: 40 }, skipper)).status).toBe(200)
    const state = (await (await fetch(course())).json()) as any
    expect(state.nextPoint.position).toEqual(NORTH)
    expect(state.arrivalCircle).toBe(40)
    // The crew still may not clear it.
    const refused = await fetch(course(), {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${await secured.login('crew')}` },
    })
    expect(refused.status).toBe(403)
    expect(secured.keelson.course.state.nextPoint?.position).toEqual(NORTH)
  })
})
