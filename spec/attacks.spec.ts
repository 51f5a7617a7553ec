/**
 * Attacks that once broke the running server, replayed against a real
 * server on port 0 with real clients (`ws`, fetch, raw `node:net` sockets,
 * the `eventsource` package): odd upgrade targets, deep paths, huge or
 * repeated subscriptions, non-finite numbers, pipelining behind a stream,
 * deltas aimed at the tree's root members, and subscribers that throw.
 */
import { EventSource } from 'eventsource'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { WebSocket } from 'ws'
import { KeelsonError } from '../src/core/errors.js'
import type { Json } from '../src/core/json.js'
import { parseUrlPath } from '../src/core/path.js'
import { applyDelta } from '../src/signalk/delta.js'
import { Client, type Running, start } from './signalk/support.js'
import { dechunk, parseHead, parseResponse, RawClient, sseEvents } from './support/raw.js'
import { SseClient } from './support/sse-client.js'

const API = '/signalk/v1/api'
const MMSI = '230099999'
const SELF = `urn:mrn:imo:mmsi:${MMSI}`

let running: Running | undefined
const closers: (() => void)[] = []

afterEach(async () => {
  for (const close of closers.splice(0)) close()
  await running?.close()
  running = undefined
})

async function boot(options: Parameters<typeof start>[0] = {}): Promise<Running> {
  running = await start(options)
  return running
}

function base(): string {
  return `http://127.0.0.1:${running!.port}`
}

interface Answer {
  status: number
  headers: Headers
  text: string
}

/** A request to the REST API; `body` is sent as it is (JSON text). */
async function api(
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(`${base()}${API}${path}`, {
    method,
    headers: body === undefined ? headers : { 'Content-Type': 'application/json', ...headers },
    body,
  })
  return { status: res.status, headers: res.headers, text: await res.text() }
}

async function healthz(): Promise<{ revision: number; streams: number }> {
  return (await fetch(`${base()}/healthz`)).json() as Promise<{ revision: number; streams: number }>
}

/** Checks `answer` is an RFC 9457 problem with `status` and `code`. */
function expectProblem(answer: Answer, status: number, code: string): void {
  expect(answer.status).toBe(status)
  expect(answer.headers.get('content-type')).toBe('application/problem+json; charset=utf-8')
  expect(JSON.parse(answer.text)).toMatchObject({ status, code })
}

/** A Signal K WebSocket client past its hello and cached values. */
async function openClient(query = ''): Promise<Client> {
  const client = await Client.open(running!.port, query)
  closers.push(() => client.close())
  expect(await client.next()).toMatchObject({ self: `vessels.${SELF}` })
  await client.drain()
  return client
}

async function rawClient(): Promise<RawClient> {
  const raw = await RawClient.connect(running!.port)
  closers.push(() => raw.close())
  return raw
}

/** The error message a WebSocket client gets for a refusal with `code`. */
function wsError(code: string, statusCode: number): unknown {
  return { errorMessage: expect.any(String), code: `KEELSON_ERR_${code}`, statusCode }
}

/** `levels` nested objects: `{"k":{"k":...{"k":1}}}`. */
function nested(levels: number): Json {
  let value: Json = 1
  for (let i = 0; i < levels; i++) value = { k: value }
  return value
}

/** The error `fn` throws. */
function thrown(fn: () => unknown): KeelsonError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(KeelsonError)
    return err as KeelsonError
  }
  throw new Error('did not throw')
}

function upgradeRequest(target: string): string {
  return (
    `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${running!.port}\r\nUpgrade: websocket\r\n` +
    'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
    'Sec-WebSocket-Version: 13\r\n\r\n'
  )
}

describe('a WebSocket upgrade to an odd URL', () => {
  for (const target of ['//', '/\\', '//signalk/v1/stream']) {
    it(`answers an upgrade to ${target} with an HTTP status and keeps serving`, async () => {
      await boot()
      const raw = await rawClient()
      raw.send(upgradeRequest(target))
      const res = await raw.response()
      expect([400, 404]).toContain(res.status)
      expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8')
      expect(JSON.parse(res.body)).toMatchObject({ status: res.status, code: expect.any(String) })
      await raw.until(() => raw.closed)
      expect((await api('GET', '/vessels/self')).status).toBe(200)
    })
  }

  it('opens the stream for an upgrade whose query is garbage, and keeps serving', async () => {
    await boot()
    const client = await Client.open(running!.port, '%zz&subscribe=%')
    closers.push(() => client.close())
    expect(await client.next()).toMatchObject({ self: `vessels.${SELF}` })
    const raw = await rawClient()
    raw.send(upgradeRequest('/signalk/v1/stream?%zz&subscribe=%&sendCachedValues=%%'))
    await raw.until(() => parseHead(raw.received) !== undefined)
    expect(parseHead(raw.received)!.status).toBe(101)
    expect((await api('GET', '/vessels/self')).status).toBe(200)
    expect(running!.keelson.signalk.size).toBe(2)
  })
})

describe('a write deeper than the depth limit', () => {
  const DEEP_URL = `/${'a/'.repeat(4500)}b`

  it('refuses a PUT at a path of 4,500 segments with 400 TOO_DEEP and applies nothing', async () => {
    await boot()
    const before = await healthz()
    expectProblem(await api('PUT', DEEP_URL, '{"v":1}'), 400, 'KEELSON_ERR_TOO_DEEP')
    expectProblem(await api('PATCH', DEEP_URL, '{"v":1}'), 400, 'KEELSON_ERR_TOO_DEEP')
    expectProblem(await api('DELETE', DEEP_URL), 400, 'KEELSON_ERR_TOO_DEEP')
    expectProblem(await api('GET', DEEP_URL), 400, 'KEELSON_ERR_TOO_DEEP')
    expect((await healthz()).revision).toBe(before.revision)
    expect((await api('GET', '/a')).status).toBe(404)
    expect((await api('GET', '/')).status).toBe(200)
    expect((await api('GET', '/vessels/self')).status).toBe(200)
  })

  it('leaves an SSE stream at the root working, and its count returns to 0 once it closes', async () => {
    await boot()
    const source = new EventSource(`${base()}${API}/`)
    closers.push(() => source.close())
    const messages: string[] = []
    source.onmessage = (event) => messages.push(event.data)
    await vi.waitUntil(() => messages.length === 1, { timeout: 3000 })
    expect(JSON.parse(messages[0]!)).toMatchObject({ self: `vessels.${SELF}` })
    expect((await healthz()).streams).toBe(1)

    expectProblem(await api('PUT', DEEP_URL, '{"v":1}'), 400, 'KEELSON_ERR_TOO_DEEP')
    const later = await api('PATCH', '/vessels/self/navigation/speedOverGround', '{"value":3}')
    expect(later.status).toBe(200)
    await vi.waitUntil(() => messages.length >= 2, { timeout: 3000 })
    expect(messages.map((m) => JSON.parse(m))).toEqual([
      expect.anything(),
      { vessels: { [SELF]: { navigation: { speedOverGround: { value: 3 } } } } },
    ])
    expect((await api('GET', '/')).status).toBe(200)

    source.close()
    await vi.waitUntil(async () => (await healthz()).streams === 0, { timeout: 3000 })
  })

  it('refuses a Signal K delta whole when one of its paths is too deep, ETag and revision unchanged', async () => {
    await boot()
    const client = await openClient()
    const get = await api('GET', '/vessels/self')
    const etag = get.headers.get('etag')!
    const eventId = get.headers.get('x-keelson-event-id')
    const before = await healthz()

    client.send({
      context: 'vessels.self',
      updates: [
        {
          values: [
            { path: 'navigation.speedOverGround', value: 1 },
            { path: `${'a.'.repeat(4000)}b`, value: 1 },
          ],
        },
      ],
    })
    expect(await client.drain()).toEqual([wsError('TOO_DEEP', 400)])
    expect((await api('GET', '/vessels/self/navigation/speedOverGround')).status).toBe(404)
    expect((await api('GET', '/vessels/self/a')).status).toBe(404)
    expect((await healthz()).revision).toBe(before.revision)
    const again = await api('GET', '/vessels/self', undefined, { 'If-None-Match': etag })
    expect(again.status).toBe(304)
    expect(again.headers.get('x-keelson-event-id')).toBe(eventId)

    // The shallow value alone is accepted: the content changes, and so does the answer.
    client.send({
      context: 'vessels.self',
      updates: [{ values: [{ path: 'navigation.speedOverGround', value: 1 }] }],
    })
    expect(Client.values(await client.drain())).toEqual([
      { context: `vessels.${SELF}`, path: 'navigation.speedOverGround', value: 1 },
    ])
    const changed = await api('GET', '/vessels/self', undefined, { 'If-None-Match': etag })
    expect(changed.status).toBe(200)
    expect(changed.headers.get('etag')).not.toBe(etag)
    expect((await healthz()).revision).toBe(before.revision + 1)
  })

  it('counts a REST write from the root: a path of 2 and a body of 63 levels is refused, 62 accepted', async () => {
    await boot()
    const before = await healthz()
    const refused = await api('PATCH', '/a/b', JSON.stringify(nested(63)))
    expectProblem(refused, 400, 'KEELSON_ERR_TOO_DEEP')
    expectProblem(await api('PUT', '/a/b', JSON.stringify(nested(63))), 400, 'KEELSON_ERR_TOO_DEEP')
    expect((await api('GET', '/a')).status).toBe(404)
    expect((await healthz()).revision).toBe(before.revision)

    expect((await api('PATCH', '/a/b', JSON.stringify(nested(62)))).status).toBe(200)
    expect(JSON.parse((await api('GET', '/a/b')).text)).toEqual(nested(62))
  })

  it('refuses a PUT at 65 path segments and accepts a primitive at 64', async () => {
    await boot()
    const path = (n: number) => `/${Array.from({ length: n }, (_, i) => `k${i}`).join('/')}`
    expectProblem(await api('PUT', path(65), '1'), 400, 'KEELSON_ERR_TOO_DEEP')
    expect((await api('GET', '/k0')).status).toBe(404)
    expect((await api('PUT', path(64), '1')).status).toBe(200)
    expect((await api('GET', path(64))).text).toBe('1')
  })

  it('counts a delta from the root: context, path, "value" and the value nesting, 65 refused and 64 accepted', async () => {
    await boot()
    const client = await openClient('subscribe=none')
    const delta = (path: string, value: Json) => ({
      context: 'vessels.self',
      updates: [{ values: [{ path, value }] }],
    })
    const before = await healthz()
    // vessels, self, deep, value: 4 levels, then the value's own.
    client.send(delta('deep', nested(61)))
    // vessels, self, 62 path keys, value: 65.
    const long = Array.from({ length: 62 }, (_, i) => `p${i}`).join('.')
    client.send(delta(long, 1))
    expect(await client.drain()).toEqual([wsError('TOO_DEEP', 400), wsError('TOO_DEEP', 400)])
    expect((await healthz()).revision).toBe(before.revision)
    expect((await api('GET', '/vessels/self/deep')).status).toBe(404)
    expect((await api('GET', '/vessels/self/p0')).status).toBe(404)

    client.send(delta('deep', nested(60)))
    client.send(delta(long.slice(0, long.lastIndexOf('.')), 1))
    expect(await client.drain()).toEqual([])
    expect(JSON.parse((await api('GET', '/vessels/self/deep/value')).text)).toEqual(nested(60))
    const at64 = `/vessels/self/${long.split('.').slice(0, 61).join('/')}/value`
    expect((await api('GET', at64)).text).toBe('1')
  })
})

describe('subscription floods', () => {
  it('refuses a 500 KB subscribe of 14,000 entries at once, with the server answering meanwhile', async () => {
    await boot()
    // A page of another origin: a read-only client (its deltas are refused).
    const ws = new WebSocket(`ws://127.0.0.1:${running!.port}/signalk/v1/stream?subscribe=none`, {
      origin: 'http://attacker.example',
    })
    closers.push(() => ws.terminate())
    const messages: any[] = []
    ws.on('message', (data) => messages.push(JSON.parse(data.toString())))
    await new Promise((resolve) => ws.once('open', resolve))
    await vi.waitUntil(() => messages.length === 1)

    const entry = { path: 'x.*', policy: 'instant', period: 1000, minPeriod: 0 }
    const text = JSON.stringify({
      context: 'vessels.self',
      subscribe: Array.from({ length: 14_000 }, () => entry),
    })
    expect(text.length).toBeGreaterThan(500_000)
    const rss = process.memoryUsage().rss
    const sent = performance.now()
    ws.send(text)
    const [res] = await Promise.all([
      fetch(`${base()}/healthz`),
      vi.waitUntil(() => messages.length === 2, { timeout: 5000 }),
    ])
    expect(res.status).toBe(200)
    expect(performance.now() - sent).toBeLessThan(2000)
    expect(messages[1]).toEqual(wsError('TOO_MANY_SUBSCRIPTIONS', 429))
    expect(process.memoryUsage().rss - rss).toBeLessThan(50 * 1024 * 1024)
    expect(running!.keelson.hub.subscribers).toBe(0)

    ws.send(JSON.stringify({ updates: [{ values: [{ path: 'x.y', value: 1 }] }] }))
    await vi.waitUntil(() => messages.length === 3)
    expect(messages[2]).toEqual(wsError('CORS_ORIGIN', 403))
    expect(ws.readyState).toBe(WebSocket.OPEN)
  })

  it('holds bounded memory for 2,000 subscribe messages from a client that never reads', async () => {
    await boot()
    // About 100 KB of cached values for every subscribe to x.*.
    for (let i = 0; i < 100; i++) running!.write(`x.a${i}`, `${i} ${'y'.repeat(1000)}`)
    const client = await openClient('subscribe=none')
    const socket = (client.ws as unknown as { _socket: { pause(): void } })._socket
    socket.pause()
    const { keelson } = running!
    const { highWaterBytes, maxConnectionBytes } = keelson.streams.limits
    const rss = process.memoryUsage().rss

    const message = JSON.stringify({ context: 'vessels.self', subscribe: [{ path: 'x.*' }] })
    for (let i = 0; i < 2000; i++) client.send(message)
    await vi.waitUntil(() => keelson.streams.bufferedBytes('ws') >= highWaterBytes, {
      timeout: 5000,
    })
    for (let i = 0; i < 10; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(keelson.streams.bufferedBytes('ws')).toBeLessThan(maxConnectionBytes)
    }
    expect(process.memoryUsage().rss - rss).toBeLessThan(50 * 1024 * 1024)
    // Each subscribe replaced the last: one subscription, and the connection is still open.
    expect(keelson.hub.subscribers).toBe(1)
    expect(keelson.signalk.size).toBe(1)
  })

  it('keeps one subscription for the same (context, path) subscribed five times, and sends one delta', async () => {
    await boot()
    const client = await openClient('subscribe=none')
    const entry = { path: 'navigation.speedOverGround', policy: 'instant' }
    for (let i = 0; i < 4; i++) client.send({ context: 'vessels.self', subscribe: [entry] })
    client.send({ context: 'vessels.self', subscribe: [entry, entry, entry] })
    expect(await client.drain()).toEqual([])
    expect(running!.keelson.hub.subscribers).toBe(1)

    running!.write('navigation.speedOverGround', 4.2)
    expect(Client.values(await client.drain())).toEqual([
      { context: `vessels.${SELF}`, path: 'navigation.speedOverGround', value: 4.2 },
    ])
  })
})

describe('numbers that are not finite', () => {
  it('refuses a PATCH of {"v":1e999} and a PUT of [1e999] with 400 NOT_FINITE, storing nothing', async () => {
    await boot()
    const before = await healthz()
    const patch = await api('PATCH', '/vessels/self', '{"v":1e999}', {
      'Content-Type': 'application/merge-patch+json',
    })
    expectProblem(patch, 400, 'KEELSON_ERR_NOT_FINITE')
    expectProblem(await api('PUT', '/vessels/self/arr', '[1e999]'), 400, 'KEELSON_ERR_NOT_FINITE')
    expectProblem(
      await api('PUT', '/vessels/self/o', '{"a":[1,-1e999]}'),
      400,
      'KEELSON_ERR_NOT_FINITE',
    )
    expectProblem(await api('PATCH', '/vessels/self', '{"v":NaN}'), 400, 'KEELSON_ERR_BAD_JSON')
    expectProblem(
      await api('PATCH', '/vessels/self', '{"v":Infinity}'),
      400,
      'KEELSON_ERR_BAD_JSON',
    )
    expect((await api('GET', '/vessels/self/v')).status).toBe(404)
    expect((await api('GET', '/vessels/self/arr')).status).toBe(404)
    expect((await api('GET', '/vessels/self/o')).status).toBe(404)
    expect((await healthz()).revision).toBe(before.revision)
  })

  it('refuses a Signal K delta holding 1e999 anywhere with NOT_FINITE, storing nothing', async () => {
    await boot()
    const client = await openClient()
    const before = await healthz()
    client.send(
      '{"context":"vessels.self","updates":[{"values":[{"path":"navigation.speedThroughWater","value":1e999}]}]}',
    )
    client.send(
      '{"updates":[{"values":[{"path":"navigation.speedThroughWater","value":2},{"path":"navigation.position","value":{"latitude":-1e999,"longitude":1}}]}]}',
    )
    client.send(
      '{"updates":[{"source":{"label":"x","pgn":1e999},"values":[{"path":"navigation.speedThroughWater","value":2}]}]}',
    )
    client.send('{"updates":[{"values":[{"path":"navigation.speedThroughWater","value":NaN}]}]}')
    expect(await client.drain()).toEqual([
      wsError('NOT_FINITE', 400),
      wsError('NOT_FINITE', 400),
      wsError('NOT_FINITE', 400),
      wsError('BAD_JSON', 400),
    ])
    expect((await api('GET', '/vessels/self/navigation')).status).toBe(404)
    expect((await healthz()).revision).toBe(before.revision)
  })

  it('refuses Infinity and NaN written in-process through the write port and applyDelta', async () => {
    const { keelson } = await boot()
    const self = parseUrlPath('/vessels/self', keelson.tree.selfKey)
    const rev = keelson.tree.rev
    expect(thrown(() => keelson.writes.patch(self, { v: Number.POSITIVE_INFINITY })).code).toBe(
      'KEELSON_ERR_NOT_FINITE',
    )
    expect(thrown(() => keelson.writes.put(self, { v: [Number.NaN] })).code).toBe(
      'KEELSON_ERR_NOT_FINITE',
    )
    const delta = (value: number) => ({
      updates: [{ values: [{ path: 'navigation.speedOverGround', value }] }],
    })
    for (const builtInProcess of [false, true]) {
      for (const value of [Number.NaN, Number.NEGATIVE_INFINITY]) {
        const err = thrown(() => applyDelta(keelson.writes, delta(value), { builtInProcess }))
        expect(err.code).toBe('KEELSON_ERR_NOT_FINITE')
      }
    }
    expect(keelson.tree.rev).toBe(rev)
  })
})

describe('requests pipelined with an SSE stream', () => {
  const host = () => `Host: 127.0.0.1:${running!.port}\r\n`

  it('answers a GET, then opens the SSE stream pipelined behind it with its snapshot and later patches', async () => {
    await boot()
    const raw = await rawClient()
    raw.send(
      `GET ${API}/vessels/self HTTP/1.1\r\n${host()}\r\n` +
        `GET ${API}/vessels/self HTTP/1.1\r\n${host()}Accept: text/event-stream\r\n\r\n`,
    )
    const events = () => {
      const first = parseResponse(raw.received)
      const head = first && parseHead(first.rest)
      return head ? sseEvents(dechunk(head.rest)) : []
    }
    await raw.until(() => events().length >= 1)
    const first = parseResponse(raw.received)!
    expect(first.status).toBe(200)
    expect(first.headers['content-type']).toBe('application/json; charset=utf-8')
    const head = parseHead(first.rest)!
    expect(head.status).toBe(200)
    expect(head.headers['content-type']).toBe('text/event-stream; charset=utf-8')
    expect(head.headers['transfer-encoding']).toBe('chunked')
    expect(JSON.parse(events()[0]!.data!)).toEqual(JSON.parse(first.body))

    expect(
      (await api('PATCH', '/vessels/self/navigation', '{"speedOverGround":{"value":5}}')).status,
    ).toBe(200)
    await raw.until(() => events().length >= 2)
    expect(JSON.parse(events()[1]!.data!)).toEqual({
      navigation: { speedOverGround: { value: 5 } },
    })
  })

  it('does not execute a PATCH pipelined behind an SSE stream, nor answer it', async () => {
    await boot()
    const body = '{"value":1}'
    const patch =
      `PATCH ${API}/vessels/self/pipelined HTTP/1.1\r\n${host()}` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`
    const events = (raw: RawClient) => {
      const head = parseHead(raw.received)
      return head ? sseEvents(dechunk(head.rest)) : []
    }
    const stream = `GET ${API}/vessels/self HTTP/1.1\r\n${host()}Accept: text/event-stream\r\n\r\n`

    // In one write with the stream's request, and later on the open stream's connection.
    const together = await rawClient()
    together.send(stream + patch)
    const later = await rawClient()
    later.send(stream)
    await later.until(() => events(later).length >= 1)
    await together.until(() => events(together).length >= 1)
    later.send(patch.replace('pipelined', 'pipelinedLater'))

    expect((await api('PATCH', '/vessels/self/other', '{"value":2}')).status).toBe(200)
    for (const raw of [together, later]) {
      await raw.until(() => events(raw).length >= 2)
      expect(events(raw).map((e) => JSON.parse(e.data!))).toEqual([
        { mmsi: MMSI },
        { other: { value: 2 } },
      ])
      expect(raw.received.match(/HTTP\/1\.1 /g)).toHaveLength(1)
    }
    expect((await api('GET', '/vessels/self/pipelined')).status).toBe(404)
    expect((await api('GET', '/vessels/self/pipelinedLater')).status).toBe(404)
  })
})

describe('deltas aimed at the root members and identity', () => {
  it('refuses path "" with {"navigation": null}, keeping the branch and the mmsi', async () => {
    await boot()
    running!.write('navigation.speedOverGround', 3)
    const client = await openClient()
    const before = await healthz()
    for (const value of [{ navigation: null }, { mmsi: null }, { name: 'x', uuid: null }]) {
      client.send({ context: 'vessels.self', updates: [{ values: [{ path: '', value }] }] })
    }
    expect(await client.drain()).toEqual([
      wsError('BAD_DELTA', 400),
      wsError('BAD_DELTA', 400),
      wsError('BAD_DELTA', 400),
    ])
    const self = JSON.parse((await api('GET', '/vessels/self')).text)
    expect(self.mmsi).toBe(MMSI)
    expect(self.navigation.speedOverGround.value).toBe(3)
    expect(self.name).toBeUndefined()
    expect((await healthz()).revision).toBe(before.revision)
  })

  it('refuses path "" with {"uuid": null} on a vessel known by its uuid', async () => {
    await boot({ mmsi: undefined, uuid: '0d6d5ae1-5f3a-4b8e-9b0c-4c1c0b5c2c11' })
    const client = await Client.open(running!.port)
    closers.push(() => client.close())
    await client.next()
    await client.drain()
    client.send({ updates: [{ values: [{ path: '', value: { uuid: null } }] }] })
    expect(await client.drain()).toEqual([wsError('BAD_DELTA', 400)])
    const self = JSON.parse((await api('GET', '/vessels/self')).text)
    expect(self.uuid).toBe('urn:mrn:signalk:uuid:0d6d5ae1-5f3a-4b8e-9b0c-4c1c0b5c2c11')
  })

  it('refuses a delta whose context is version.x, self.x or sources.x; version and self stay strings', async () => {
    await boot()
    const client = await openClient()
    const before = await healthz()
    for (const context of ['version.x', 'self.x', 'sources.x']) {
      client.send({ context, updates: [{ values: [{ path: 'a', value: 1 }] }] })
    }
    expect(await client.drain()).toEqual([
      wsError('BAD_DELTA', 400),
      wsError('BAD_DELTA', 400),
      wsError('BAD_DELTA', 400),
    ])
    expect(JSON.parse((await api('GET', '/version')).text)).toBe('1.7.0')
    expect(JSON.parse((await api('GET', '/self')).text)).toBe(`vessels.${SELF}`)
    expect((await api('GET', '/sources/x')).status).toBe(404)
    expect((await healthz()).revision).toBe(before.revision)
  })
})

describe('subscribers and listeners that fail', () => {
  it('still delivers a change to an SSE stream when another subscriber of its path throws', async () => {
    const { keelson } = await boot()
    let calls = 0
    keelson.hub.subscribe(parseUrlPath('/vessels/self/navigation', keelson.tree.selfKey), {
      deliver() {
        calls++
        throw new Error('boom')
      },
    })
    const stream = await SseClient.open(`${base()}${API}/vessels/self/navigation`)
    closers.push(() => stream.close())
    await stream.until(() => stream.messages.length === 1)
    const client = await openClient()

    const res = await api('PATCH', '/vessels/self/navigation', '{"headingTrue":{"value":1.5}}')
    expect(res.status).toBe(200)
    await stream.until(() => stream.messages.length === 2)
    expect(JSON.parse(stream.messages[1]!.data!)).toEqual({ headingTrue: { value: 1.5 } })
    expect(Client.values(await client.drain())).toEqual([
      { context: `vessels.${SELF}`, path: 'navigation.headingTrue', value: 1.5 },
    ])
    expect(calls).toBe(1)
  })

  it('keeps a write standing and streamed when a write listener and a change listener throw', async () => {
    const { keelson } = await boot()
    let calls = 0
    const boom = () => {
      calls++
      throw new Error('boom')
    }
    keelson.writes.onWrite(boom)
    keelson.tree.onChange(boom)
    const stream = await SseClient.open(`${base()}${API}/vessels/self`)
    closers.push(() => stream.close())
    await stream.until(() => stream.messages.length === 1)

    expect((await api('PUT', '/vessels/self/name', '"Keel"')).status).toBe(200)
    await stream.until(() => stream.messages.length === 2)
    expect(JSON.parse(stream.messages[1]!.data!)).toEqual({ name: 'Keel' })
    expect(JSON.parse((await api('GET', '/vessels/self/name')).text)).toBe('Keel')
    expect(calls).toBe(2)
  })
})

describe('a closed stream with a held change', () => {
  it('leaves no scheduler entry after an SSE stream with minPeriod=86400000 closes', async () => {
    const { keelson } = await boot()
    const scheduler = keelson.streams.scheduler
    const baseline = scheduler.size
    const stream = await SseClient.open(
      `${base()}${API}/vessels/self/navigation?minPeriod=86400000`,
    )
    closers.push(() => stream.close())
    await stream.until(() => stream.messages.length === 1)

    expect((await api('PATCH', '/vessels/self/navigation', '{"a":{"value":1}}')).status).toBe(200)
    expect((await api('PATCH', '/vessels/self/navigation', '{"b":{"value":2}}')).status).toBe(200)
    expect(scheduler.size).toBe(baseline + 1)
    expect(stream.messages).toHaveLength(1)

    stream.close()
    await vi.waitUntil(() => keelson.streams.size === 0, { timeout: 3000 })
    expect(scheduler.size).toBe(baseline)
  })

  it('leaves no scheduler entry after a WebSocket client with a day-long minPeriod closes', async () => {
    const { keelson } = await boot()
    const scheduler = keelson.streams.scheduler
    const baseline = scheduler.size
    const client = await openClient('subscribe=none')
    client.send({
      context: 'vessels.self',
      subscribe: [{ path: 'navigation.*', policy: 'instant', minPeriod: 86_400_000 }],
    })
    await client.drain()
    running!.write('navigation.a', 1)
    running!.write('navigation.b', 2)
    expect(Client.values(await client.drain())).toHaveLength(1)
    expect(scheduler.size).toBe(baseline + 1)

    client.close()
    await vi.waitUntil(() => keelson.streams.size === 0, { timeout: 3000 })
    expect(scheduler.size).toBe(baseline)
  })
})
