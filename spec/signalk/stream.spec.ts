import { once } from 'node:events'
import { createRequire } from 'node:module'
import { connect } from 'node:net'
import { networkInterfaces } from 'node:os'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { WebSocket } from 'ws'
import { parseDotPath } from '../../src/core/path.js'
import { Client, type Running, start } from './support.js'

const require = createRequire(import.meta.url)
const schema = require('@signalk/signalk-schema') as {
  validateDelta(delta: unknown): { valid: boolean; errors: unknown[] }
}
const tv4 = require('tv4') as {
  addSchema(uri: string, schema: unknown): void
  validateResult(data: unknown, schema: unknown): { valid: boolean; error: unknown }
}
tv4.addSchema(
  'https://signalk.org/specification/1.5.1/schemas/definitions.json',
  require('@signalk/signalk-schema/schemas/definitions.json'),
)
const helloSchema = require('@signalk/signalk-schema/schemas/hello.json')

let running: Running | undefined
const clients: Client[] = []

async function open(query = '', options = {}): Promise<Client> {
  const client = await Client.open(running!.port, query, options)
  clients.push(client)
  return client
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  await running?.close()
  running = undefined
  vi.useRealTimers()
})

describe('the Signal K stream', () => {
  it('greets with a hello that validates against the Signal K schema', async () => {
    running = await start()
    const client = await open()
    const hello = await client.next()
    expect(hello).toMatchObject({
      name: 'keelson',
      self: 'vessels.urn:mrn:imo:mmsi:230099999',
      roles: ['master', 'main'],
    })
    expect(typeof hello.version).toBe('string')
    expect(Date.parse(hello.timestamp)).not.toBeNaN()
    expect(tv4.validateResult(hello, helloSchema).valid).toBe(true)
  })

  it('sends cached values, then every change as a delta that validates', async () => {
    running = await start()
    running.write('navigation.speedOverGround', 3.2)
    const client = await open()
    await client.next()
    const cached = await client.drain()
    expect(Client.values(cached)).toContainEqual({
      context: 'vessels.urn:mrn:imo:mmsi:230099999',
      path: 'navigation.speedOverGround',
      value: 3.2,
    })
    running.write('navigation.courseOverGroundTrue', 1.5)
    const delta = await client.next()
    expect(delta).toEqual({
      context: 'vessels.urn:mrn:imo:mmsi:230099999',
      updates: [
        {
          $source: 'test.XX',
          timestamp: expect.any(String),
          values: [{ path: 'navigation.courseOverGroundTrue', value: 1.5 }],
        },
      ],
    })
    for (const message of [...cached, delta]) expect(schema.validateDelta(message).valid).toBe(true)
  })

  it('sends nothing cached with sendCachedValues=false and only self with subscribe=self', async () => {
    running = await start()
    running.write('navigation.speedOverGround', 3.2)
    const client = await open('sendCachedValues=false')
    await client.next()
    expect(await client.drain()).toEqual([])
    running.write('navigation.speedOverGround', 1, 'ais.AI', 'vessels.urn:mrn:imo:mmsi:230000001')
    running.write('navigation.speedOverGround', 4)
    expect(Client.values(await client.drain())).toEqual([
      {
        context: 'vessels.urn:mrn:imo:mmsi:230099999',
        path: 'navigation.speedOverGround',
        value: 4,
      },
    ])
  })

  it('sends every context with subscribe=all', async () => {
    running = await start()
    const client = await open('subscribe=all&sendCachedValues=false')
    await client.next()
    running.write('navigation.speedOverGround', 1, 'ais.AI', 'vessels.urn:mrn:imo:mmsi:230000001')
    const [delta] = await client.drain()
    expect(delta.context).toBe('vessels.urn:mrn:imo:mmsi:230000001')
  })

  it('sends a null value when a value is removed', async () => {
    running = await start()
    running.write('environment.depth.belowKeel', 12)
    const client = await open('sendCachedValues=false')
    await client.next()
    running.write('environment.depth.belowKeel', null)
    expect(Client.values(await client.drain())).toEqual([
      expect.objectContaining({ path: 'environment.depth.belowKeel', value: null }),
    ])
  })

  it('applies deltas sent by a loopback client and accepts {} keep-alives silently', async () => {
    running = await start()
    const client = await open('subscribe=none')
    await client.next()
    client.send({})
    client.send({
      context: 'vessels.self',
      updates: [{ values: [{ path: 'environment.wind.speedApparent', value: 7.1 }] }],
    })
    expect(await client.drain()).toEqual([])
    const tree = running.keelson.tree
    expect(
      tree.get(parseDotPath('vessels.self.environment.wind.speedApparent', tree.selfKey)),
    ).toMatchObject({
      value: 7.1,
      $source: 'ws.127_0_0_1',
    })
  })

  it('answers a bad message with an error echoing requestId and keeps the connection open', async () => {
    running = await start()
    const client = await open('subscribe=none')
    await client.next()
    client.send('not json')
    expect(await client.next()).toEqual({
      errorMessage: 'The message is not valid JSON',
      code: 'KEELSON_ERR_BAD_JSON',
      statusCode: 400,
    })
    client.send({ requestId: 'r1', subscribe: [{ path: 'navigation.*', policy: 'sometimes' }] })
    expect(await client.next()).toMatchObject({
      requestId: 'r1',
      code: 'KEELSON_ERR_BAD_MESSAGE',
      statusCode: 400,
    })
    client.send(
      '{"requestId":"r2","updates":[{"values":[{"path":"a","value":{"__proto__":{"x":1}}}]}]}',
    )
    expect(await client.next()).toMatchObject({
      requestId: 'r2',
      code: 'KEELSON_ERR_FORBIDDEN_KEY',
    })
    expect(running.keelson.tree.rev).toBe(0)
    client.send({ subscribe: [{ path: 'navigation.speedOverGround', policy: 'instant' }] })
    running.write('navigation.speedOverGround', 2)
    expect(Client.values(await client.drain())).toEqual([expect.objectContaining({ value: 2 })])
  })

  it('refuses deltas from a page of a foreign Origin while no users exist, and reads still work', async () => {
    running = await start()
    const ws = new WebSocket(`ws://127.0.0.1:${running.port}/signalk/v1/stream?subscribe=self`, {
      headers: { Origin: 'http://evil.example' },
    })
    const messages: any[] = []
    ws.on('message', (data) => messages.push(JSON.parse(data.toString())))
    await once(ws, 'open')
    ws.send(JSON.stringify({ requestId: 'w', updates: [{ values: [{ path: 'a.b', value: 1 }] }] }))
    await vi.waitFor(() => expect(messages.some((m) => m.requestId === 'w')).toBe(true))
    expect(messages.find((m) => m.requestId === 'w')).toMatchObject({
      code: 'KEELSON_ERR_CORS_ORIGIN',
      statusCode: 403,
    })
    expect(running.keelson.tree.rev).toBe(0)
    running.write('navigation.speedOverGround', 3)
    await vi.waitFor(() =>
      expect(Client.values(messages).some((v) => v.path === 'navigation.speedOverGround')).toBe(
        true,
      ),
    )
    ws.terminate()
  })

  it('refuses deltas over a rebound host name (Host not loopback) while no users exist', async () => {
    running = await start()
    const ws = new WebSocket(`ws://127.0.0.1:${running.port}/signalk/v1/stream?subscribe=none`, {
      headers: {
        Host: `attacker.example:${running.port}`,
        Origin: `http://attacker.example:${running.port}`,
      },
    })
    const messages: any[] = []
    ws.on('message', (data) => messages.push(JSON.parse(data.toString())))
    await once(ws, 'open')
    ws.send(JSON.stringify({ requestId: 'w', updates: [{ values: [{ path: 'a.b', value: 1 }] }] }))
    await vi.waitFor(() => expect(messages.some((m) => m.requestId === 'w')).toBe(true))
    expect(messages.find((m) => m.requestId === 'w')!.statusCode).toBe(403)
    expect(running.keelson.tree.rev).toBe(0)
    ws.terminate()
  })

  it('refuses deltas from a non-loopback client while no users exist', async () => {
    const lan = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)
    if (!lan) return
    running = await start({}, '0.0.0.0')
    const client = await open('subscribe=none', { host: lan.address })
    await client.next()
    client.send({ requestId: 'w', updates: [{ values: [{ path: 'a.b', value: 1 }] }] })
    expect(await client.next()).toMatchObject({
      requestId: 'w',
      code: 'KEELSON_ERR_WRITE_NOT_LOCAL',
      statusCode: 403,
    })
    expect(running.keelson.tree.rev).toBe(0)
  })

  it('answers an upgrade on any other path with a real 404', async () => {
    running = await start()
    const socket = connect(running.port, '127.0.0.1')
    socket.write(
      'GET /elsewhere HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    )
    const [data] = await once(socket, 'data')
    expect(String(data)).toMatch(/^HTTP\/1.1 404/)
    socket.destroy()
  })

  it('closes a peer that stops answering pings, on the shared ping timer', async () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
    })
    running = await start({ keepAliveMs: 1000 })
    const alive = await open('subscribe=none')
    const dead = await open('subscribe=none', { autoPong: false })
    await alive.next()
    await dead.next()
    vi.advanceTimersByTime(1000)
    await alive.drain()
    vi.advanceTimersByTime(1000)
    await once(dead.ws, 'close')
    expect(running.keelson.signalk.stats.pingTimeouts).toBe(1)
    expect(alive.closed).toBe(false)
    expect(running.keelson.signalk.size).toBe(1)
  })
})
