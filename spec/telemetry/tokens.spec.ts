/**
 * Unit tokens and their refusals (SPEC §6): issued only to users who may
 * read the unit's vessel, bound to one unit; subscribe checks the token
 * first (missing, forged, `alg` other than HS256, expired: 401), then the
 * stream (unknown: 404).
 */
import { SignJWT } from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Acl } from '../../src/security/types.js'
import { signUnitToken } from '../../src/telemetry/unit-token.js'
import { type Secured, startSecured } from '../support/secured.js'
import { type Running, startServer } from '../support/server.js'
import { fix, GuideClient, seedVessel, UNIT_A, UNIT_B } from './support.js'

const clients: GuideClient[] = []
let secured: Secured | undefined
let running: Running | undefined

afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  await secured?.close()
  await running?.close()
  secured = undefined
  running = undefined
  vi.useRealTimers()
})

/** Readers of the self vessel only: AIS targets are not theirs to watch. */
const SELF_ONLY: Acl[] = [
  {
    context: 'vessels.self',
    resources: [{ paths: ['*'], permissions: [{ subject: 'crew', permission: 'read' }] }],
  },
  {
    context: 'vessels.*',
    resources: [{ paths: ['*'], permissions: [{ subject: 'fleet', permission: 'read' }] }],
  },
]

async function tokenFor(url: string, path: string, login?: string) {
  const res = await fetch(`${url}${path}`, {
    headers: login ? { Authorization: `Bearer ${login}` } : {},
  })
  const body = (await res.json()) as any
  return { status: res.status, body, type: res.headers.get('content-type') ?? '' }
}

async function post(url: string) {
  const res = await fetch(url, { method: 'POST' })
  const text = await res.text()
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as any) }
}

function b64(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

async function connect(url: string, login?: string): Promise<GuideClient> {
  const client = new GuideClient(url, login)
  clients.push(client)
  await client.until(() => client.streamId !== undefined)
  return client
}

describe('unit tokens', () => {
  async function fleet(): Promise<Secured> {
    secured = await startSecured({
      users: [
        { name: 'fleet', type: 'readonly' },
        { name: 'crew', type: 'readonly' },
      ],
      file: { acls: SELF_ONLY },
    })
    seedVessel(secured.keelson.tree, UNIT_A, fix(60, 25))
    seedVessel(secured.keelson.tree, UNIT_B, fix(59, 24))
    return secured
  }

  it('are refused without login (401) while users exist, even with anonymous reads allowed', async () => {
    const { url } = await fleet()
    const answer = await tokenFor(url, `/api/v1/monitoring/unit/${UNIT_A}`)
    expect(answer.status).toBe(401)
    expect(answer.type).toContain('application/problem+json')
  })

  it('are issued to a user who may read the unit, with unit_id, sub and exp signed HS256', async () => {
    const { url } = await fleet()
    const login = await secured!.login('fleet')
    const { status, body } = await tokenFor(url, `/api/v1/monitoring/unit/${UNIT_A}`, login)
    expect(status).toBe(200)
    const [head, payload] = (body.data.token as string).split('.')
    expect(JSON.parse(Buffer.from(head!, 'base64url').toString())).toMatchObject({ alg: 'HS256' })
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString())
    expect(claims).toMatchObject({ unit_id: UNIT_A, sub: 'fleet' })
    expect(claims.exp * 1000).toBe(Date.parse(body.data.expires_at))
  })

  it('are refused (403) for a unit whose vessel the user may not read, and 404 for an unknown unit or vehicle', async () => {
    const { url } = await fleet()
    const login = await secured!.login('crew')
    expect((await tokenFor(url, `/api/v1/monitoring/unit/${UNIT_A}`, login)).status).toBe(403)
    const unknown = await tokenFor(url, '/api/v1/monitoring/unit/999999999', login)
    expect(unknown.status).toBe(404)
    expect(unknown.body.code).toBe('KEELSON_ERR_UNIT_NOT_FOUND')
    const vehicle = await tokenFor(url, '/api/v1/monitoring/vehicle/v9/primary', login)
    expect(vehicle.status).toBe(404)
    expect(vehicle.body.code).toBe('KEELSON_ERR_VEHICLE_NOT_FOUND')
  })

  it('are issued to anyone who may read while no users exist', async () => {
    running = await startServer()
    seedVessel(running.keelson.tree, UNIT_A, fix(60, 25))
    const { status, body } = await tokenFor(running.url, `/api/v1/monitoring/unit/${UNIT_A}`)
    expect(status).toBe(200)
    expect(body.data.unit_id).toBe(UNIT_A)
  })

  it('know a vessel by its mmsi field as well as by its urn:mrn:imo:mmsi: key', async () => {
    running = await startServer()
    running.keelson.writes.patch(
      {
        segments: ['vessels', 'urn:mrn:signalk:uuid:c0d79334-4e25-4245-8892-54e8ccc8021d'],
        starAt: -1,
      },
      { mmsi: '230000001', name: 'Uuid boat' },
    )
    const { status, body } = await tokenFor(running.url, '/api/v1/monitoring/unit/230000001')
    expect(status).toBe(200)
    expect(body.data.unit_id).toBe('230000001')
  })
})

describe('subscribe and unsubscribe refusals', () => {
  it('bind a token to its unit: a token for A subscribes A, never B', async () => {
    running = await startServer()
    const { url, keelson } = running
    seedVessel(keelson.tree, UNIT_A, fix(60, 25))
    seedVessel(keelson.tree, UNIT_B, fix(59, 24))
    const client = await connect(url)
    const tokenA = (await tokenFor(url, `/api/v1/monitoring/unit/${UNIT_A}`)).body.data.token
    expect((await post(`${url}/sse/telemetry/subscribe/${client.streamId}/${tokenA}`)).status).toBe(
      204,
    )
    seedVessel(keelson.tree, UNIT_B, fix(59.1, 24.1))
    seedVessel(keelson.tree, UNIT_A, fix(60.1, 25.1))
    await client.until(() => client.of('gps').length === 2)
    expect(client.messages.filter((m) => m.unit_id !== undefined && m.unit_id !== UNIT_A)).toEqual(
      [],
    )
  })

  it('refuse missing, malformed, forged, tampered, alg none, HS512 and expired tokens with 401 before looking at the stream', async () => {
    running = await startServer()
    const { url, keelson } = running
    seedVessel(keelson.tree, UNIT_A, fix(60, 25))
    const client = await connect(url)
    const good = (await tokenFor(url, `/api/v1/monitoring/unit/${UNIT_A}`)).body.data
      .token as string
    const [head, payload] = good.split('.')
    const now = Math.floor(Date.now() / 1000)
    const claims = { unit_id: UNIT_A, sub: 'any', exp: now + 600 }
    const otherKey = new TextEncoder().encode('another secret')
    const refused = {
      missing: '',
      garbage: 'not-a-jwt',
      forged: await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(otherKey),
      tampered: `${head}.${b64({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), unit_id: UNIT_B })}.${good.split('.')[2]}`,
      algNone: `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
      hs512: await new SignJWT(claims).setProtectedHeader({ alg: 'HS512' }).sign(otherKey),
      expired: (await signUnitToken('another secret', UNIT_A, 'any', -3600_000)).token,
    }
    for (const [name, token] of Object.entries(refused)) {
      for (const action of ['subscribe', 'unsubscribe']) {
        const path = token === '' ? client.streamId : `${client.streamId}/${token}`
        const answer = await post(`${url}/sse/telemetry/${action}/${path}`)
        expect({ name, action, status: answer.status }).toEqual({ name, action, status: 401 })
        expect(answer.body.code).toMatch(/KEELSON_ERR_(BAD_UNIT_TOKEN|NOT_FOUND)/)
        // The token is checked first: an unknown stream with a bad token is still a 401.
        const unknown = await post(`${url}/sse/telemetry/${action}/nosuchstream/${token || 'x'}`)
        expect(unknown.status).toBe(401)
      }
    }
    expect(client.of('telemetry')).toEqual([])
  })

  it('refuse an expired token signed with the server secret', async () => {
    running = await startServer({ unitTokenTtlMs: 1000 })
    const { url, keelson } = running
    seedVessel(keelson.tree, UNIT_A, fix(60, 25))
    const client = await connect(url)
    const { token } = (await tokenFor(url, `/api/v1/monitoring/unit/${UNIT_A}`)).body.data
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 2000)
    const answer = await post(`${url}/sse/telemetry/subscribe/${client.streamId}/${token}`)
    expect(answer.status).toBe(401)
    expect(answer.body.detail).toContain('expired')
  })

  it('answer 404 for an unknown stream after a valid token, and never let a stream id alone subscribe', async () => {
    secured = await startSecured({
      users: [
        { name: 'alice', type: 'readonly' },
        { name: 'bob', type: 'readonly' },
      ],
    })
    const { url, keelson } = secured
    seedVessel(keelson.tree, UNIT_A, fix(60, 25))
    const alice = await connect(url, await secured.login('alice'))
    const bobLogin = await secured.login('bob')
    const bobToken = (await tokenFor(url, `/api/v1/monitoring/unit/${UNIT_A}`, bobLogin)).body.data
      .token
    const unknown = await post(
      `${url}/sse/telemetry/subscribe/AAAAAAAAAAAAAAAAAAAAAAAA/${bobToken}`,
    )
    expect(unknown.status).toBe(404)
    expect(unknown.body.code).toBe('KEELSON_ERR_STREAM_NOT_FOUND')
    // Alice's stream id without a valid token: refused.
    const forged = await new SignJWT({ unit_id: UNIT_A })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('bob')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('guessed'))
    expect((await post(`${url}/sse/telemetry/subscribe/${alice.streamId}/${forged}`)).status).toBe(
      401,
    )
    expect(
      (await post(`${url}/sse/telemetry/subscribe/${alice.streamId}/${bobLogin}`)).status,
    ).toBe(401)
    expect(alice.of('telemetry')).toEqual([])
  })

  it('end the streams holding a unit of a user who is removed', async () => {
    secured = await startSecured({
      users: [
        { name: 'alice', type: 'readonly' },
        { name: 'bob', type: 'readonly' },
      ],
    })
    const { url, keelson, store } = secured
    seedVessel(keelson.tree, UNIT_A, fix(60, 25))
    // An anonymous stream (allowReadonly) holding bob's unit.
    const client = await connect(url)
    const bob = await secured.login('bob')
    const token = (await tokenFor(url, `/api/v1/monitoring/unit/${UNIT_A}`, bob)).body.data.token
    expect((await post(`${url}/sse/telemetry/subscribe/${client.streamId}/${token}`)).status).toBe(
      204,
    )
    await client.until(() => client.of('telemetry').length === 1)
    const first = client.streamId!
    await store.removeUser('bob')
    await client.until(() => keelson.telemetry.stream(first) === undefined)
    // Bob's token no longer subscribes anything.
    await client.until(() => client.streamId !== first, 5000)
    expect((await post(`${url}/sse/telemetry/subscribe/${client.streamId}/${token}`)).status).toBe(
      401,
    )
  })
})
