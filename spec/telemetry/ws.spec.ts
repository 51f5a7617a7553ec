/**
 * The WebSocket variant of the telemetry stream (`/ws/telemetry`, SPEC §6):
 * the same messages as SSE, with subscribe, unsubscribe and pong sent as
 * messages; refusals as error messages on an open connection, a bad login
 * token as a 401 on the upgrade, a missed pong closing the connection.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type Secured, startSecured } from '../support/secured.js'
import { type Running, startServer } from '../support/server.js'
import { type Refused, WsPeer } from '../support/ws-peer.js'
import { fix, foldUnit, seedVessel, UNIT_A, UNIT_B } from './support.js'

const peers: WsPeer[] = []
let running: Running | undefined
let secured: Secured | undefined

afterEach(async () => {
  for (const peer of peers.splice(0)) peer.close()
  await running?.close()
  await secured?.close()
  running = undefined
  secured = undefined
  vi.useRealTimers()
})

async function open(url: string, headers: Record<string, string> = {}): Promise<WsPeer> {
  const peer = await WsPeer.open(`${url.replace('http', 'ws')}/ws/telemetry`, headers)
  peers.push(peer)
  return peer
}

async function until(peer: WsPeer, check: () => boolean): Promise<void> {
  await vi.waitUntil(check, { timeout: 3000, interval: 5 })
  expect(peer.closed).toBe(false)
}

async function unitToken(url: string, unitId: string): Promise<string> {
  const res = await fetch(`${url}/api/v1/monitoring/unit/${unitId}`)
  return ((await res.json()) as any).data.token
}

const of = (peer: WsPeer, type: string, unitId?: string) =>
  peer.messages.filter((m) => m.type === type && (unitId === undefined || m.unit_id === unitId))

describe('/ws/telemetry', () => {
  it('sends stream_id, then gps and telemetry for each unit subscribed by message, until unsubscribed', async () => {
    running = await startServer()
    const { url, keelson } = running
    seedVessel(keelson.tree, UNIT_A, fix(60, 25))
    seedVessel(keelson.tree, UNIT_B, fix(59, 24))
    const peer = await open(url)
    await until(peer, () => peer.messages.length === 1)
    expect(peer.messages[0]).toMatchObject({ type: 'stream_id' })
    expect(keelson.telemetry.stream(peer.messages[0].stream_id)).toBeDefined()

    const tokenA = await unitToken(url, UNIT_A)
    const tokenB = await unitToken(url, UNIT_B)
    peer.send({ type: 'subscribe', token: tokenA })
    peer.send({ type: 'subscribe', token: tokenB })
    peer.send({ type: 'subscribe', token: tokenB })
    await until(peer, () => of(peer, 'telemetry').length === 2)
    expect(of(peer, 'gps', UNIT_A)[0]).toMatchObject({
      message_type: 'gps',
      telemetry: { gps: { latitude: 60, longitude: 25, speed: 3.2, course: 1.5, heading: 1.4 } },
    })
    expect(of(peer, 'gps', UNIT_B)).toHaveLength(1)

    seedVessel(keelson.tree, UNIT_A, fix(60.5, 25.5))
    await until(peer, () => of(peer, 'gps', UNIT_A).length === 2)
    const vessel = await fetch(`${url}/signalk/v1/api/vessels/urn:mrn:imo:mmsi:${UNIT_A}`)
    expect(foldUnit(peer.messages, UNIT_A)).toEqual(await vessel.json())

    peer.send({ type: 'unsubscribe', token: tokenB })
    await until(peer, () => of(peer, 'unsubscribed').length === 1)
    expect(of(peer, 'unsubscribed')[0]).toEqual({ type: 'unsubscribed', unit_id: UNIT_B })
    seedVessel(keelson.tree, UNIT_B, fix(58, 23))
    seedVessel(keelson.tree, UNIT_A, fix(61, 26))
    await until(peer, () => of(peer, 'gps', UNIT_A).length === 3)
    expect(of(peer, 'telemetry', UNIT_B)).toHaveLength(1)
  })

  it('answers bad requests with error messages and stays open', async () => {
    running = await startServer()
    const peer = await open(running.url)
    peer.send({ type: 'subscribe', token: 'forged.token.here' })
    peer.send({ type: 'subscribe' })
    peer.send({ type: 'dance' })
    peer.ws.send('{not json')
    await until(peer, () => of(peer, 'error').length === 4)
    const errors = of(peer, 'error')
    expect(errors.map((e) => e.status).sort()).toEqual([400, 400, 401, 401])
    expect(errors.filter((e) => e.status === 401).every((e) => e.request === 'subscribe')).toBe(
      true,
    )
  })

  it('refuses an upgrade carrying a forged login token with 401 on the socket', async () => {
    secured = await startSecured({ users: [{ name: 'alice', type: 'readonly' }] })
    const answer = (await WsPeer.connect(`${secured.url.replace('http', 'ws')}/ws/telemetry`, {
      Authorization: 'Bearer forged.token.here',
    })) as Refused
    expect(answer.refused).toBe(true)
    expect(answer.status).toBe(401)
    expect(answer.opened).toBe(false)
  })

  it('pings every pingIntervalMs and closes a connection that sends no pong within pongTimeoutMs', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] })
    running = await startServer()
    const { url, keelson } = running
    seedVessel(keelson.tree, UNIT_A, fix(60, 25))
    const answering = await open(url)
    const silent = await open(url)
    await until(silent, () => silent.messages.length === 1 && answering.messages.length === 1)
    silent.send({ type: 'subscribe', token: await unitToken(url, UNIT_A) })
    await until(silent, () => of(silent, 'telemetry').length === 1)
    for (let i = 1; i <= 4; i++) {
      vi.advanceTimersByTime(15_000)
      await vi.waitUntil(() => of(answering, 'ping').length === i, { timeout: 3000 })
      answering.send({ type: 'pong' })
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await silent.untilClosed()
    expect(silent.closeCode).toBe(1008)
    expect(answering.closed).toBe(false)
    expect(keelson.telemetry.size).toBe(1)
    expect(keelson.hub.subscribers).toBe(0)
  })
})
