/**
 * Login, logout and the WebSocket login message (SPEC §8), as Signal K apps
 * use them against signalk-server, on a real server with fetch and `ws`.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Acl } from '../../src/security/types.js'
import { type Secured, startSecured } from '../support/secured.js'
import { deltaValues, WsPeer } from '../support/ws-peer.js'

let running: Secured | undefined
const peers: WsPeer[] = []

afterEach(async () => {
  for (const peer of peers.splice(0)) peer.close()
  await running?.close()
  running = undefined
})

const NAV_ONLY: Acl[] = [
  {
    context: 'vessels.self',
    resources: [
      { paths: ['navigation.*'], permissions: [{ subject: 'skipper', permission: 'write' }] },
    ],
  },
]

function login(body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${running!.url}/signalk/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    ...init,
  })
}

describe('POST /signalk/v1/auth/login', () => {
  it('answers a token with its timeToLive and sets an HttpOnly SameSite=Strict JAUTHENTICATION cookie', async () => {
    running = await startSecured({ users: [{ name: 'skipper', type: 'readwrite' }] })
    const res = await login({ username: 'skipper', password: 'correct horse battery' })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { token: string; timeToLive: number }
    expect(body).toEqual({ token: expect.any(String), timeToLive: 86_400 })
    const cookie = res.headers.get('set-cookie')!
    const attributes = cookie.split(';').map((part) => part.trim())
    expect(attributes[0]).toBe(`JAUTHENTICATION=${encodeURIComponent(body.token)}`)
    expect(attributes).toContain('HttpOnly')
    expect(attributes).toContain('SameSite=Strict')
    expect(attributes).toContain('Path=/')
    // A session cookie without rememberMe; the token works as a Bearer token.
    expect(cookie).not.toMatch(/Max-Age/i)
    const status = await fetch(`${running.url}/skServer/loginStatus`, {
      headers: { Authorization: `Bearer ${body.token}` },
    })
    expect(await status.json()).toMatchObject({ status: 'loggedIn', username: 'skipper' })
  })

  it('gives the cookie a Max-Age of the token lifetime with rememberMe', async () => {
    running = await startSecured({ users: [{ name: 'skipper', type: 'readwrite' }] })
    const res = await login({
      username: 'skipper',
      password: 'correct horse battery',
      rememberMe: true,
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('set-cookie')).toContain('Max-Age=86400')
  })

  it('answers 401 for a wrong password and for an unknown user alike', async () => {
    running = await startSecured({ users: [{ name: 'skipper', type: 'readwrite' }] })
    const wrong = await login({ username: 'skipper', password: 'nope' })
    const unknown = await login({ username: 'nobody', password: 'correct horse battery' })
    expect(wrong.status).toBe(401)
    expect(unknown.status).toBe(401)
    const [a, b] = [await wrong.json(), await unknown.json()]
    expect(a).toEqual(b)
    expect(wrong.headers.get('set-cookie')).toBeNull()
    expect(unknown.headers.get('set-cookie')).toBeNull()
  })

  it('answers 400 for a body without string username and password', async () => {
    running = await startSecured({ users: [{ name: 'skipper', type: 'readwrite' }] })
    for (const body of [{}, { username: 'skipper' }, { username: 1, password: 'x' }, [], 'x']) {
      expect((await login(body)).status).toBe(400)
    }
  })

  it('cuts a login flood from one address: the 6th attempt with maxLoginAttempts 5 gets 429 with Retry-After', async () => {
    running = await startSecured({
      users: [{ name: 'skipper', type: 'readwrite' }],
      options: { maxLoginAttempts: 5 },
    })
    for (let i = 0; i < 5; i++) {
      expect((await login({ username: 'skipper', password: `guess ${i}` })).status).toBe(401)
    }
    const sixth = await login({ username: 'skipper', password: 'guess 6' })
    expect(sixth.status).toBe(429)
    const retryAfter = Number(sixth.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThan(0)
    expect(retryAfter).toBeLessThanOrEqual(600)
    expect(((await sixth.json()) as { code: string }).code).toBe('KEELSON_ERR_TOO_MANY_ATTEMPTS')
    // Even the right password waits out the window: the flood is cut, not the guesses counted.
    const right = await login({ username: 'skipper', password: 'correct horse battery' })
    expect(right.status).toBe(429)
    expect(right.headers.get('retry-after')).not.toBeNull()
  })

  it('does not count successful logins against the limit', async () => {
    running = await startSecured({
      users: [{ name: 'skipper', type: 'readwrite' }],
      options: { maxLoginAttempts: 2 },
    })
    for (let i = 0; i < 4; i++) {
      expect((await login({ username: 'skipper', password: 'correct horse battery' })).status).toBe(
        200,
      )
    }
  })
})

describe('PUT /signalk/v1/auth/logout', () => {
  it('clears the cookie', async () => {
    running = await startSecured({ users: [{ name: 'skipper', type: 'readwrite' }] })
    const token = await running.login('skipper')
    const res = await fetch(`${running.url}/signalk/v1/auth/logout`, {
      method: 'PUT',
      headers: { Cookie: `JAUTHENTICATION=${token}` },
    })
    expect(res.status).toBe(200)
    const cookie = res.headers.get('set-cookie')!
    expect(cookie).toMatch(/^JAUTHENTICATION=;/)
    expect(cookie).toContain('Max-Age=0')
    expect(cookie).toContain('HttpOnly')
  })
})

describe('the WebSocket login message', () => {
  it('answers COMPLETED 200 with a token, and the connection then reads what the user may read', async () => {
    running = await startSecured({
      users: [{ name: 'skipper', type: 'readwrite' }],
      file: { acls: NAV_ONLY },
    })
    running.seed('navigation.speedOverGround', 3.5)
    running.seed('environment.depth.belowKeel', 12)
    const peer = await WsPeer.open(`ws://127.0.0.1:${running.port}/signalk/v1/stream`)
    peers.push(peer)
    await peer.next() // hello
    // Anonymous under these ACLs: nothing readable, so no cached values.
    expect(deltaValues(await peer.drain())).toEqual([])
    peer.send({
      requestId: 'login-1',
      login: { username: 'skipper', password: 'correct horse battery' },
    })
    // The cached values of the user's view come with the reply (before it, as they are made first).
    const before: any[] = []
    let reply = await peer.next()
    while (reply.requestId !== 'login-1') {
      before.push(reply)
      reply = await peer.next()
    }
    expect(reply).toEqual({
      requestId: 'login-1',
      state: 'COMPLETED',
      statusCode: 200,
      login: { token: expect.any(String), timeToLive: 86_400 },
    })
    const cached = deltaValues([...before, ...(await peer.drain())])
    expect(cached.map((v) => v.path)).toEqual(['navigation.speedOverGround'])
    running.seed('navigation.speedOverGround', 4)
    running.seed('environment.depth.belowKeel', 11)
    const live = deltaValues(await peer.drain())
    expect(live.map((v) => [v.path, v.value])).toEqual([['navigation.speedOverGround', 4]])
    // The token it got works over REST.
    const res = await fetch(
      `${running.url}/signalk/v1/api/vessels/self/navigation/speedOverGround`,
      { headers: { Authorization: `Bearer ${reply.login.token}` } },
    )
    expect(res.status).toBe(200)
    // And the connection writes as the user now.
    peer.send({
      requestId: 'w',
      context: 'vessels.self',
      updates: [{ values: [{ path: 'navigation.courseOverGroundTrue', value: 1 }] }],
    })
    const after = await peer.drain()
    expect(after.filter((m) => m.requestId === 'w')).toEqual([])
  })

  it('answers a wrong password with statusCode 401 and leaves the connection anonymous', async () => {
    running = await startSecured({
      users: [{ name: 'skipper', type: 'readwrite' }],
      file: { acls: NAV_ONLY },
    })
    running.seed('navigation.speedOverGround', 3.5)
    const peer = await WsPeer.open(`ws://127.0.0.1:${running.port}/signalk/v1/stream`)
    peers.push(peer)
    await peer.next()
    peer.send({ requestId: 'l', login: { username: 'skipper', password: 'wrong' } })
    expect(await peer.reply('l')).toMatchObject({
      requestId: 'l',
      state: 'COMPLETED',
      statusCode: 401,
    })
    expect(deltaValues(await peer.drain())).toEqual([])
    peer.send({
      requestId: 'w',
      context: 'vessels.self',
      updates: [{ values: [{ path: 'navigation.speedOverGround', value: 9 }] }],
    })
    expect(await peer.reply('w')).toMatchObject({ statusCode: 401 })
  })
})
