/**
 * Device access requests as Signal K defines them (SPEC §8): a device asks,
 * polls, an admin approves or denies over REST, and the approved device's
 * token reads. Real server, fetch.
 */
import { request as httpRequest } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { type Secured, startSecured } from '../support/secured.js'

let running: Secured | undefined

afterEach(async () => {
  await running?.close()
  running = undefined
})

const USERS = [
  { name: 'captain', type: 'admin' as const },
  { name: 'crew', type: 'readwrite' as const },
]

async function ask(body: unknown): Promise<Response> {
  return fetch(`${running!.url}/signalk/v1/access/requests`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })
}

async function answer(id: string, verdict: string, token: string, body?: unknown) {
  return fetch(`${running!.url}/skServer/security/access/requests/${id}/${verdict}`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  })
}

describe('device access requests', () => {
  it('go PENDING with an href, are refused to a readwrite user (403), approved by an admin, and the token reads', async () => {
    running = await startSecured({ users: USERS, file: { allowReadonly: false } })
    running.seed('navigation.speedOverGround', 3.5)
    const asked = await ask({
      clientId: 'chartplotter-1',
      description: 'Chart plotter at the helm',
      permissions: 'readonly',
    })
    expect(asked.status).toBe(202)
    const pending = (await asked.json()) as { state: string; requestId: string; href: string }
    expect(pending).toEqual({
      state: 'PENDING',
      requestId: expect.any(String),
      statusCode: 202,
      href: `/signalk/v1/requests/${pending.requestId}`,
    })
    const polled = await fetch(`${running.url}${pending.href}`)
    expect(polled.status).toBe(202)
    expect(await polled.json()).toMatchObject({ state: 'PENDING', requestId: pending.requestId })

    const crew = await running.login('crew')
    const refused = await answer(pending.requestId, 'approved', crew)
    expect(refused.status).toBe(403)
    const anonymous = await fetch(
      `${running.url}/skServer/security/access/requests/${pending.requestId}/approved`,
      { method: 'PUT' },
    )
    expect(anonymous.status).toBe(401)
    expect((await (await fetch(`${running.url}${pending.href}`)).json()) as object).toMatchObject({
      state: 'PENDING',
    })

    const captain = await running.login('captain')
    const approved = await answer(pending.requestId, 'approved', captain)
    expect(approved.status).toBe(200)
    const done = await fetch(`${running.url}${pending.href}`)
    expect(done.status).toBe(200)
    const completed = (await done.json()) as {
      state: string
      accessRequest: { permission: string; token: string }
    }
    expect(completed).toMatchObject({
      state: 'COMPLETED',
      requestId: pending.requestId,
      accessRequest: { permission: 'APPROVED', token: expect.any(String) },
    })
    const token = completed.accessRequest.token
    const read = await fetch(
      `${running.url}/signalk/v1/api/vessels/self/navigation/speedOverGround`,
      { headers: { Authorization: `Bearer ${token}` } },
    )
    expect(read.status).toBe(200)
    expect(((await read.json()) as { value: number }).value).toBe(3.5)
    // A readonly device does not write.
    const write = await fetch(
      `${running.url}/signalk/v1/api/vessels/self/navigation/speedOverGround`,
      {
        method: 'PATCH',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: '{"value":9}',
      },
    )
    expect(write.status).toBe(403)
    const status = await fetch(`${running.url}/skServer/loginStatus`, {
      headers: { Authorization: `Bearer ${token}` },
    })
    expect(await status.json()).toMatchObject({
      status: 'loggedIn',
      username: 'chartplotter-1',
      userLevel: 'readonly',
    })
  })

  it('completes DENIED without a token when the admin denies', async () => {
    running = await startSecured({ users: USERS })
    const asked = (await (await ask({ clientId: 'tablet', description: 'Tablet' })).json()) as {
      requestId: string
      href: string
    }
    const captain = await running.login('captain')
    expect((await answer(asked.requestId, 'denied', captain)).status).toBe(200)
    const done = (await (await fetch(`${running.url}${asked.href}`)).json()) as {
      accessRequest: Record<string, unknown>
    }
    expect(done).toMatchObject({ state: 'COMPLETED', accessRequest: { permission: 'DENIED' } })
    expect(done.accessRequest.token).toBeUndefined()
  })

  it('cannot be polled by the clientId: whoever knows a device id must not learn its requestId, then its token', async () => {
    running = await startSecured({ users: USERS })
    const asked = (await (await ask({ clientId: 'radar', description: 'Radar' })).json()) as {
      requestId: string
    }
    const byClientId = await fetch(`${running.url}/signalk/v1/requests/radar`)
    expect(byClientId.status).toBe(404)
    expect(await byClientId.text()).not.toContain(asked.requestId)
  })

  it('is not approved by an admin cookie sent from a foreign page', async () => {
    running = await startSecured({ users: USERS })
    const asked = (await (await ask({ clientId: 'mfd', description: 'MFD' })).json()) as {
      requestId: string
      href: string
    }
    const captain = await running.login('captain')
    const { port } = running
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: 'PUT',
          path: `/skServer/security/access/requests/${asked.requestId}/approved`,
          headers: {
            Cookie: `JAUTHENTICATION=${captain}`,
            Origin: 'http://127.0.0.1:1',
          },
        },
        (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        },
      )
      req.on('error', reject)
      req.end()
    })
    expect(status).toBe(403)
    expect(await (await fetch(`${running.url}${asked.href}`)).json()).toMatchObject({
      state: 'PENDING',
    })
  })
})
