/**
 * Forged tokens (SPEC §8): another secret, `alg: none`, `alg: RS256` with
 * the HS secret as key, HS512, expired, of a removed or unknown user, are
 * refused with 401 everywhere — REST reads and writes, SSE, the WebSocket
 * upgrade (a status on the socket, never opened then closed) — by every
 * carrier, even where anonymous reads are open. And a signalk-server
 * security.json with bcrypt hashes logs in as it is.
 */
import { createHmac, randomBytes } from 'node:crypto'
import bcrypt from 'bcryptjs'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Carrier, carry, type Secured, startSecured } from '../support/secured.js'
import { SseClient } from '../support/sse-client.js'
import { WsPeer } from '../support/ws-peer.js'

let running: Secured
const forged = new Map<string, string>()

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const now = () => Math.floor(Date.now() / 1000)

function hmacToken(header: object, payload: object, key: string, hash = 'sha256'): string {
  const body = `${b64(header)}.${b64(payload)}`
  return `${body}.${createHmac(hash, key).update(body).digest('base64url')}`
}

function hs256(secret: string, payload: Record<string, unknown>): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(secret))
}

beforeAll(async () => {
  running = await startSecured({
    users: [
      { name: 'skipper', type: 'admin' },
      { name: 'deckhand', type: 'readwrite' },
    ],
  })
  running.seed('navigation.speedOverGround', 3.5)
  const secret = running.secretKey
  const claims = { id: 'skipper', iat: now(), exp: now() + 3600 }
  forged.set('signed with another secret', await hs256(randomBytes(32).toString('hex'), claims))
  forged.set('with alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`)
  forged.set(
    'with alg RS256 and the HS secret as key',
    hmacToken({ alg: 'RS256', typ: 'JWT' }, claims, secret),
  )
  forged.set('with alg HS512', hmacToken({ alg: 'HS512', typ: 'JWT' }, claims, secret, 'sha512'))
  forged.set('expired', await hs256(secret, { id: 'skipper', iat: now() - 7200, exp: now() - 60 }))
  forged.set('of a user that never existed', await hs256(secret, { id: 'ghost', iat: now() }))
  forged.set('naming nobody', await hs256(secret, { iat: now() }))
  forged.set('that is not a JWT', 'not-a-token')
  const removed = await running.login('deckhand')
  await running.store.removeUser('deckhand')
  forged.set('of a removed user', removed)
})

afterAll(async () => {
  await running.close()
})

const KINDS = [
  'signed with another secret',
  'with alg none',
  'with alg RS256 and the HS secret as key',
  'with alg HS512',
  'expired',
  'of a user that never existed',
  'naming nobody',
  'that is not a JWT',
  'of a removed user',
]
const CARRIERS: Carrier[] = ['header', 'cookie', 'query']

describe.each(KINDS)('a token %s', (kind) => {
  describe.each(CARRIERS)('carried in the %s', (carrier) => {
    const via = (url: string) => carry(url, forged.get(kind), carrier)

    it('is refused 401 on a REST GET, a metadata GET and a PATCH, nothing applied', async () => {
      for (const path of ['navigation/speedOverGround', 'navigation/speedOverGround/meta']) {
        const { url, headers } = via(`${running.url}/signalk/v1/api/vessels/self/${path}`)
        const res = await fetch(url, { headers })
        expect(res.status).toBe(401)
        expect(((await res.json()) as { code: string }).code).toBe('KEELSON_ERR_UNAUTHORIZED')
      }
      const before = running.keelson.tree.rev
      const { url, headers } = via(
        `${running.url}/signalk/v1/api/vessels/self/navigation/speedOverGround`,
      )
      const res = await fetch(url, {
        method: 'PATCH',
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: '{"value":9}',
      })
      expect(res.status).toBe(401)
      expect(running.keelson.tree.rev).toBe(before)
    })

    it('is refused 401 on an SSE stream', async () => {
      const { url, headers } = via(`${running.url}/signalk/v1/api/vessels/self`)
      const sse = await SseClient.open(url, headers)
      try {
        expect(sse.response.statusCode).toBe(401)
        expect(sse.response.headers['content-type']).toContain('application/problem+json')
      } finally {
        sse.close()
      }
    })

    it('is refused 401 on the WebSocket upgrade, on the socket, never opened', async () => {
      const { url, headers } = via(`ws://127.0.0.1:${running.port}/signalk/v1/stream`)
      const peer = await WsPeer.connect(url, headers)
      if (!peer.refused) {
        peer.close()
        throw new Error('the upgrade was taken')
      }
      expect(peer.status).toBe(401)
      expect(peer.opened).toBe(false)
      expect(JSON.parse(peer.body)).toMatchObject({ status: 401, code: 'KEELSON_ERR_UNAUTHORIZED' })
    })

    it('is refused 401 when answering an access request', async () => {
      const { url, headers } = via(`${running.url}/skServer/security/access/requests/x/approved`)
      expect((await fetch(url, { method: 'PUT', headers })).status).toBe(401)
    })

    it('is not logged in for loginStatus', async () => {
      const { url, headers } = via(`${running.url}/skServer/loginStatus`)
      const res = await fetch(url, { headers })
      expect(await res.json()).toMatchObject({ status: 'notLoggedIn' })
    })
  })
})

describe('a signalk-server security.json with bcrypt hashes', () => {
  let moved: Secured | undefined

  afterAll(async () => {
    await moved?.close()
  })

  it('logs its users in as they are, and its own tokens stay valid', async () => {
    const secretKey = randomBytes(32).toString('hex')
    // A file as signalk-server writes it, with bcrypt hashes made now ($2a$ and $2b$, cost 10).
    const adminHash = (await bcrypt.hash('admin-pass', 10)).replace(/^\$2b\$/, '$2a$')
    const crewHash = await bcrypt.hash('crew-pass', 10)
    moved = await startSecured({
      users: [
        { name: 'admin', type: 'admin', hash: adminHash },
        { name: 'crew', type: 'readonly', hash: crewHash },
      ],
      file: {
        secretKey,
        allowNewUserRegistration: true,
        allowDeviceAccessRequests: true,
        immutableConfig: false,
      },
    })
    moved.seed('navigation.speedOverGround', 3.5)
    expect(moved.store.current.users[0]!.password).toMatch(/^\$2a\$10\$/)
    const admin = await moved.login('admin', 'admin-pass')
    const crew = await moved.login('crew', 'crew-pass')
    for (const token of [admin, crew]) {
      const res = await fetch(
        `${moved.url}/signalk/v1/api/vessels/self/navigation/speedOverGround`,
        { headers: { Authorization: `Bearer ${token}` } },
      )
      expect(res.status).toBe(200)
    }
    const wrong = await fetch(`${moved.url}/signalk/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'crew-pass' }),
    })
    expect(wrong.status).toBe(401)
    // A token signalk-server issued before the move (jsonwebtoken: HS256 over the UTF-8 secret).
    const before = await hs256(secretKey, { id: 'admin', iat: now(), exp: now() + 3600 })
    const status = await fetch(`${moved.url}/skServer/loginStatus`, {
      headers: { Authorization: `JWT ${before}` },
    })
    expect(await status.json()).toMatchObject({ status: 'loggedIn', userLevel: 'admin' })
  })
})
