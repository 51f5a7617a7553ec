import { afterEach, describe, expect, it, vi } from 'vitest'
import { parseUrlPath } from '../../src/core/path.js'
import { Client, type Running, start } from './support.js'

const SELF = 'vessels.urn:mrn:imo:mmsi:230099999'
const OTHER = 'vessels.urn:mrn:imo:mmsi:230000001'

let running: Running | undefined
const clients: Client[] = []

/** A client with no default subscription, hello read. */
async function open(query = 'subscribe=none'): Promise<Client> {
  const client = await Client.open(running!.port, query)
  clients.push(client)
  await client.next()
  return client
}

function fakeTime(): void {
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'],
  })
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  await running?.close()
  running = undefined
  vi.useRealTimers()
})

describe('Signal K subscriptions', () => {
  it('starts sending after subscribe=none only once a subscribe message arrives', async () => {
    running = await start()
    const client = await open()
    running.write('navigation.speedOverGround', 1)
    expect(await client.drain()).toEqual([])
    client.send({
      context: 'vessels.self',
      subscribe: [{ path: 'navigation.speedOverGround', policy: 'instant' }],
    })
    expect(Client.values(await client.drain())).toEqual([
      { context: SELF, path: 'navigation.speedOverGround', value: 1 },
    ])
    running.write('navigation.speedOverGround', 2)
    expect(Client.values(await client.drain())).toEqual([
      { context: SELF, path: 'navigation.speedOverGround', value: 2 },
    ])
  })

  it('matches path wildcards at any level', async () => {
    running = await start()
    const client = await open()
    client.send({
      context: 'vessels.self',
      subscribe: [
        { path: 'navigation.*', policy: 'instant' },
        { path: 'propulsion.*.revolutions', policy: 'instant' },
      ],
    })
    await client.drain()
    running.write('navigation.position', { latitude: 60.1, longitude: 24.9 })
    running.write('environment.depth.belowKeel', 5)
    running.write('propulsion.port.revolutions', 20)
    running.write('propulsion.port.temperature', 350)
    expect(Client.values(await client.drain()).map((v) => v.path)).toEqual([
      'navigation.position',
      'propulsion.port.revolutions',
    ])
  })

  it('matches context wildcards', async () => {
    running = await start()
    const client = await open()
    client.send({
      context: 'vessels.*',
      subscribe: [{ path: 'navigation.speedOverGround', policy: 'instant' }],
    })
    await client.drain()
    running.write('navigation.speedOverGround', 1)
    running.write('navigation.speedOverGround', 2, 'ais.AI', OTHER)
    running.write('navigation.headingTrue', 3, 'ais.AI', OTHER)
    expect(Client.values(await client.drain())).toEqual([
      { context: SELF, path: 'navigation.speedOverGround', value: 1 },
      { context: OTHER, path: 'navigation.speedOverGround', value: 2 },
    ])
  })

  it('unsubscribes one path and keeps the others, then all with *', async () => {
    running = await start()
    const client = await open()
    client.send({
      context: 'vessels.self',
      subscribe: [
        { path: 'navigation.speedOverGround', policy: 'instant' },
        { path: 'navigation.headingTrue', policy: 'instant' },
      ],
    })
    await client.drain()
    client.send({ context: 'vessels.self', unsubscribe: [{ path: 'navigation.speedOverGround' }] })
    await client.drain()
    running.write('navigation.speedOverGround', 1)
    running.write('navigation.headingTrue', 2)
    expect(Client.values(await client.drain()).map((v) => v.path)).toEqual([
      'navigation.headingTrue',
    ])
    client.send({ context: '*', unsubscribe: [{ path: '*' }] })
    await client.drain()
    running.write('navigation.headingTrue', 3)
    expect(await client.drain()).toEqual([])
    expect(running.keelson.hub.subscribers).toBe(0)
  })

  it('sends at most one delta per minPeriod, holding the latest value of each path', async () => {
    fakeTime()
    running = await start()
    const client = await open()
    client.send({
      context: 'vessels.self',
      subscribe: [{ path: 'navigation.*', policy: 'instant', minPeriod: 1000 }],
    })
    await client.drain()
    vi.advanceTimersByTime(1000)
    running.write('navigation.speedOverGround', 1)
    running.write('navigation.speedOverGround', 2)
    running.write('navigation.headingTrue', 0.5)
    running.write('navigation.speedOverGround', 3)
    expect(Client.values(await client.drain()).map((v) => v.value)).toEqual([1])
    vi.advanceTimersByTime(999)
    expect(await client.drain()).toEqual([])
    vi.advanceTimersByTime(1)
    const held = await client.drain()
    expect(held).toHaveLength(1)
    expect(Client.values(held)).toEqual([
      { context: SELF, path: 'navigation.speedOverGround', value: 3 },
      { context: SELF, path: 'navigation.headingTrue', value: 0.5 },
    ])
  })

  it('sends the last known values every period with policy fixed, and nothing in between', async () => {
    fakeTime()
    running = await start()
    running.write('navigation.speedOverGround', 1)
    const client = await open()
    client.send({
      context: 'vessels.self',
      subscribe: [{ path: 'navigation.speedOverGround', policy: 'fixed', period: 500 }],
    })
    expect(Client.values(await client.drain()).map((v) => v.value)).toEqual([1])
    running.write('navigation.speedOverGround', 2)
    running.write('navigation.speedOverGround', 3)
    expect(await client.drain()).toEqual([])
    vi.advanceTimersByTime(500)
    expect(Client.values(await client.drain()).map((v) => v.value)).toEqual([3])
    vi.advanceTimersByTime(500)
    expect(Client.values(await client.drain()).map((v) => v.value)).toEqual([3])
  })

  it('sends a removal at the next period with policy fixed, once', async () => {
    fakeTime()
    running = await start()
    running.write('navigation.speedOverGround', 1)
    running.write('navigation.headingTrue', 2)
    const client = await open()
    client.send({
      context: 'vessels.self',
      subscribe: [{ path: 'navigation.*', policy: 'fixed', period: 500 }],
    })
    await client.drain()
    // A branch deleted whole (as the resources API does): gone from the current values.
    running.keelson.writes.delete(
      parseUrlPath('/vessels/self/navigation/headingTrue', running.keelson.tree.selfKey),
    )
    expect(await client.drain()).toEqual([])
    vi.advanceTimersByTime(500)
    expect(Client.values(await client.drain())).toEqual([
      { context: SELF, path: 'navigation.speedOverGround', value: 1 },
      { context: SELF, path: 'navigation.headingTrue', value: null },
    ])
    vi.advanceTimersByTime(500)
    expect(Client.values(await client.drain()).map((v) => v.path)).toEqual([
      'navigation.speedOverGround',
    ])
  })

  it('repeats the last known values after a quiet period with policy ideal', async () => {
    fakeTime()
    running = await start()
    const client = await open()
    client.send({
      context: 'vessels.self',
      subscribe: [{ path: 'navigation.headingTrue', policy: 'ideal', period: 1000 }],
    })
    await client.drain()
    running.write('navigation.headingTrue', 1)
    expect(Client.values(await client.drain()).map((v) => v.value)).toEqual([1])
    vi.advanceTimersByTime(600)
    running.write('navigation.headingTrue', 2)
    expect(Client.values(await client.drain()).map((v) => v.value)).toEqual([2])
    vi.advanceTimersByTime(999)
    expect(await client.drain()).toEqual([])
    vi.advanceTimersByTime(1)
    expect(Client.values(await client.drain()).map((v) => v.value)).toEqual([2])
  })

  it('refuses a subscription it cannot serve and keeps the existing ones', async () => {
    running = await start()
    const client = await open()
    client.send({ subscribe: [{ path: 'navigation.headingTrue', policy: 'instant' }] })
    await client.drain()
    client.send({ requestId: 'f', subscribe: [{ path: 'a', format: 'full' }] })
    expect(await client.next()).toMatchObject({ requestId: 'f', code: 'KEELSON_ERR_BAD_MESSAGE' })
    client.send({ requestId: 'p', subscribe: [{ path: 'a', minPeriod: -1 }] })
    expect(await client.next()).toMatchObject({ requestId: 'p', code: 'KEELSON_ERR_BAD_MESSAGE' })
    expect(running.keelson.hub.subscribers).toBe(1)
  })
})
