/**
 * The vendor guide's flow (SPEC §6), step by step as the guide writes it,
 * with the `eventsource` package against a real secured server: login,
 * a unit token, connect, `stream_id`, subscribe two units, `gps` for both
 * at once and on change, `telemetry` patches that fold to the unit's state,
 * unsubscribe one, pings answered with pongs — and a missed pong closing
 * the stream and freeing its subscriptions (fake timers).
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type Secured, startSecured } from '../support/secured.js'
import { type Running, startServer } from '../support/server.js'
import { fix, foldUnit, GuideClient, seedVessel, UNIT_A, UNIT_B } from './support.js'

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

async function getJson(url: string, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, token ? { headers: { Authorization: `Bearer ${token}` } } : {})
  return { status: res.status, body: await res.json() }
}

async function post(url: string): Promise<number> {
  const res = await fetch(url, { method: 'POST' })
  await res.arrayBuffer()
  return res.status
}

describe('the fleet telemetry guide, step by step', () => {
  it('logs in, connects, subscribes two units and receives their gps and telemetry until one is unsubscribed', async () => {
    secured = await startSecured({
      users: [{ name: 'dispatcher', type: 'readonly' }],
      options: { pingIntervalMs: 100, pongTimeoutMs: 400 },
    })
    const { url, keelson } = secured
    seedVessel(keelson.tree, UNIT_A, { ...fix(60.1, 24.9), name: 'Alfa' })
    seedVessel(keelson.tree, UNIT_B, fix(59.4, 24.7))

    // Before you continue: log in.
    const login = await secured.login('dispatcher')

    // Step 1: one SSE connection; ping is answered with a pong through the HTTP API.
    const client = new GuideClient(url, login)
    clients.push(client)
    client.source.addEventListener('message', (event) => {
      const data = JSON.parse(event.data)
      if (data.type === 'ping') post(`${url}/sse/telemetry/pong/${client.streamId}`).catch(() => {})
    })

    // Step 2: wait for the stream_id.
    await client.until(() => client.streamId !== undefined)
    expect(client.messages[0]).toEqual({ type: 'stream_id', stream_id: client.streamId })
    expect(Buffer.from(client.streamId!, 'base64url').length).toBeGreaterThanOrEqual(16)

    // Step 3: a token per unit, then subscribe.
    for (const unitId of [UNIT_A, UNIT_B]) {
      const { status, body } = await getJson(`${url}/api/v1/monitoring/unit/${unitId}`, login)
      expect(status).toBe(200)
      expect(body.data.unit_id).toBe(unitId)
      expect(typeof body.data.token).toBe('string')
      const expires = Date.parse(body.data.expires_at)
      expect(expires - Date.now()).toBeGreaterThan(59 * 60_000)
      expect(expires - Date.now()).toBeLessThanOrEqual(3600_000 + 1000)
      expect(
        await post(`${url}/sse/telemetry/subscribe/${client.streamId}/${body.data.token}`),
      ).toBe(204)
      // Subscribing again with the same token changes nothing.
      expect(
        await post(`${url}/sse/telemetry/subscribe/${client.streamId}/${body.data.token}`),
      ).toBe(204)
    }
    const tokenB = (await getJson(`${url}/api/v1/monitoring/unit/${UNIT_B}`, login)).body.data.token

    // gps for both at once, then the unit's whole state as a telemetry patch from null.
    await client.until(() => client.of('telemetry').length === 2)
    const gpsA = client.of('gps', UNIT_A)
    expect(gpsA).toHaveLength(1)
    expect(gpsA[0]).toMatchObject({
      type: 'gps',
      message_type: 'gps',
      unit_id: UNIT_A,
      telemetry: {
        gps: { latitude: 60.1, longitude: 24.9, speed: 3.2, course: 1.5, heading: 1.4 },
      },
    })
    expect(typeof gpsA[0]!.timestamp).toBe('string')
    expect(client.of('gps', UNIT_B)).toHaveLength(1)
    const vesselA = `${url}/signalk/v1/api/vessels/urn:mrn:imo:mmsi:${UNIT_A}`
    expect(foldUnit(client.messages, UNIT_A)).toEqual((await getJson(vesselA, login)).body)

    // A position change: gps and a telemetry patch; another change: telemetry only.
    seedVessel(keelson.tree, UNIT_A, { 'navigation.position': { latitude: 60.2, longitude: 25 } })
    await client.until(() => client.of('gps', UNIT_A).length === 2)
    expect(client.of('gps', UNIT_A)[1]).toMatchObject({
      telemetry: { gps: { latitude: 60.2, longitude: 25, speed: 3.2 } },
    })
    seedVessel(keelson.tree, UNIT_A, { 'environment.depth.belowTransducer': 12.5 })
    await client.until(() => client.of('telemetry', UNIT_A).length === 3)
    expect(client.of('gps', UNIT_A)).toHaveLength(2)
    expect(foldUnit(client.messages, UNIT_A)).toEqual((await getJson(vesselA, login)).body)

    // Quick tips: unsubscribe B; its changes no longer come, A's still do.
    expect(await post(`${url}/sse/telemetry/unsubscribe/${client.streamId}/${tokenB}`)).toBe(204)
    expect(await post(`${url}/sse/telemetry/unsubscribe/${client.streamId}/${tokenB}`)).toBe(204)
    const fromB = client.of('telemetry', UNIT_B).length
    seedVessel(keelson.tree, UNIT_B, fix(59.5, 24.8))
    seedVessel(keelson.tree, UNIT_A, fix(60.3, 25.1))
    await client.until(() => client.of('gps', UNIT_A).length === 3)
    expect(client.of('telemetry', UNIT_B)).toHaveLength(fromB)
    expect(client.of('gps', UNIT_B)).toHaveLength(1)

    // Pings answered keep the stream open past the pong deadline.
    await client.until(() => client.of('ping').length >= 6, 3000)
    expect(client.errors).toBe(0)
    expect(keelson.telemetry.stream(client.streamId!)).toBeDefined()
  })

  it('closes a stream whose pong does not come within pongTimeoutMs, and frees its subscriptions', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] })
    running = await startServer()
    const { url, keelson } = running
    seedVessel(keelson.tree, UNIT_A, fix(60.1, 24.9))
    const client = new GuideClient(url)
    clients.push(client)
    await client.until(() => client.streamId !== undefined)
    const token = (await getJson(`${url}/api/v1/monitoring/unit/${UNIT_A}`)).body.data.token
    expect(await post(`${url}/sse/telemetry/subscribe/${client.streamId}/${token}`)).toBe(204)
    await client.until(() => client.of('telemetry').length === 1)
    const subscribers = keelson.hub.subscribers
    expect(subscribers).toBeGreaterThan(0)

    // One ping every 15 s; this client never answers.
    vi.advanceTimersByTime(15_000)
    await client.until(() => client.of('ping').length === 1)
    vi.advanceTimersByTime(15_000)
    await client.until(() => client.of('ping').length === 2)
    expect(keelson.telemetry.stream(client.streamId!)).toBeDefined()
    vi.advanceTimersByTime(15_000 + 1000)
    await client.until(() => client.errors > 0)
    const first = client.streamId!
    expect(keelson.telemetry.stream(first)).toBeUndefined()
    expect(keelson.hub.subscribers).toBe(subscribers - 1)
    expect(await post(`${url}/sse/telemetry/pong/${first}`)).toBe(404)
    expect(await post(`${url}/sse/telemetry/subscribe/${first}/${token}`)).toBe(404)
    expect(keelson.telemetry.stats.pongTimeouts).toBe(1)

    // The browser reconnects by itself and gets a new stream_id.
    await client.until(() => client.streamId !== first, 5000)
    expect(keelson.telemetry.stream(client.streamId!)).toBeDefined()
  })
})
