/**
 * PUT requests under security (SPEC §8, §11): who may PUT is a writer, and
 * with ACLs the `put` permission of the path, as signalk-server's
 * `shouldAllowPut`; every refusal is a reply with a message, nothing written.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Acl } from '../../src/security/types.js'
import { SELF, type Secured, startSecured } from '../support/secured.js'
import { Client } from './support.js'

let secured: Secured | undefined
const clients: Client[] = []

afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  await secured?.close()
  secured = undefined
})

const USERS = [
  { name: 'crew', type: 'readonly' as const },
  { name: 'skipper', type: 'readwrite' as const },
  { name: 'mate', type: 'readwrite' as const },
]

/** skipper: PUT on steering.*; mate: write (not put) everywhere; every reader reads. */
const ACLS: Acl[] = [
  {
    context: 'vessels.self',
    resources: [
      {
        paths: ['steering.*'],
        permissions: [
          { subject: 'skipper', permission: 'put' },
          { subject: 'mate', permission: 'write' },
        ],
      },
      {
        paths: ['*'],
        permissions: [
          { subject: 'any', permission: 'read' },
          { subject: 'mate', permission: 'write' },
        ],
      },
    ],
  },
]

async function open(token?: string): Promise<Client> {
  const query = token === undefined ? 'subscribe=none' : `subscribe=none&token=${token}`
  const client = await Client.open(secured!.port, query)
  clients.push(client)
  await client.next()
  return client
}

async function putOver(client: Client, requestId: string, path: string, value: unknown) {
  client.send({ requestId, context: 'vessels.self', put: { path, value } })
  for (;;) {
    const message = await client.next()
    if (message.requestId === requestId) return message
  }
}

function leaf(path: string[]): unknown {
  return secured!.keelson.tree.get({ segments: ['vessels', SELF, ...path], starAt: -1 })
}

describe('PUT requests under security', () => {
  it('refuses an anonymous reader and a readonly user 403, with messages', async () => {
    secured = await startSecured({ users: USERS })
    const anonymous = await putOver(await open(), 'a', 'steering.rudderAngle', 1)
    // 403 as signalk-server answers it (KIP reads 401 as a failed login).
    expect(anonymous).toMatchObject({ state: 'COMPLETED', statusCode: 403 })
    expect(anonymous.message).toMatch(/log in/i)
    const crew = await putOver(
      await open(await secured.login('crew')),
      'c',
      'steering.rudderAngle',
      1,
    )
    expect(crew).toMatchObject({ statusCode: 403 })
    expect(crew.message).toContain('readonly')
    expect(leaf(['steering'])).toBeUndefined()
  })

  it('lets a readwrite user PUT anywhere when there are no ACLs', async () => {
    secured = await startSecured({ users: USERS })
    const reply = await putOver(
      await open(await secured.login('skipper')),
      's',
      'steering.rudderAngle',
      0.1,
    )
    expect(reply).toMatchObject({ statusCode: 200 })
    expect((leaf(['steering', 'rudderAngle']) as any).value).toBe(0.1)
  })

  it('needs the put permission of the path with ACLs: write alone does not PUT', async () => {
    secured = await startSecured({ users: USERS, file: { acls: ACLS } })
    const skipper = await open(await secured.login('skipper'))
    expect(
      await putOver(skipper, 's1', 'steering.autopilot.target.headingTrue', 1.5),
    ).toMatchObject({
      statusCode: 200,
    })
    const outside = await putOver(skipper, 's2', 'navigation.anchor.maxRadius', 30)
    expect(outside).toMatchObject({ statusCode: 403 })
    expect(outside.message).toContain('navigation.anchor.maxRadius')
    const mate = await open(await secured.login('mate'))
    const writer = await putOver(mate, 'm1', 'steering.autopilot.target.headingTrue', 2)
    expect(writer).toMatchObject({ statusCode: 403 })
    expect((leaf(['steering', 'autopilot', 'target', 'headingTrue']) as any).value).toBe(1.5)
    expect(leaf(['navigation'])).toBeUndefined()
  })

  it('answers REST PUT requests by the same rules', async () => {
    secured = await startSecured({ users: USERS, file: { acls: ACLS } })
    const path = `${secured.url}/signalk/v1/api/vessels/self/steering/rudderAngle`
    const body = JSON.stringify({ value: 0.2 })
    const headers = { 'Content-Type': 'application/json' }
    const anonymous = await fetch(path, { method: 'PUT', headers, body })
    expect(anonymous.status).toBe(401)
    const mate = await fetch(path, {
      method: 'PUT',
      headers: { ...headers, Authorization: `Bearer ${await secured.login('mate')}` },
      body,
    })
    expect(mate.status).toBe(403)
    expect(((await mate.json()) as any).message).toContain('steering.rudderAngle')
    const skipper = await fetch(path, {
      method: 'PUT',
      headers: { ...headers, Authorization: `Bearer ${await secured.login('skipper')}` },
      body,
    })
    expect(skipper.status).toBe(200)
    const reply = (await skipper.json()) as any
    // The request's state is read by its id, security on (device access requests share the route).
    const state = await fetch(`${secured.url}${reply.href}`)
    expect(await state.json()).toEqual(reply)
    expect((await fetch(`${secured.url}/signalk/v1/requests/unknown`)).status).toBe(404)
  })
})
