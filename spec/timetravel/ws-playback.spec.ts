import { createRequire } from 'node:module'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { startServer } from '../support/server.js'
import { deltaValues, WsPeer } from '../support/ws-peer.js'
import {
  CONTEXT,
  MMSI,
  type Recording,
  recordVoyage,
  sleep,
  snapshot,
  startRecording,
  writeLeaf,
} from './voyage.js'

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

const closers: (() => Promise<void> | void)[] = []

async function recording(options = {}): Promise<Recording> {
  const running = await startRecording(options)
  closers.push(running.close)
  return running
}

function playbackUrl(url: string, query: string): string {
  return `${url.replace('http', 'ws')}/signalk/v1/playback?${query}`
}

async function open(url: string, query: string): Promise<WsPeer> {
  const peer = await WsPeer.open(playbackUrl(url, query))
  closers.push(() => peer.close())
  return peer
}

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

/** Reads messages until `done` holds for the list read so far. */
async function readUntil(peer: WsPeer, done: (messages: any[]) => boolean, ms = 5000) {
  const out: any[] = []
  const deadline = Date.now() + ms
  while (!done(out)) out.push(await peer.next(Math.max(1, deadline - Date.now())))
  return out
}

describe('the Signal K WebSocket playback /signalk/v1/playback', () => {
  it('greets with a hello carrying startTime and playbackRate that validates against hello.json', async () => {
    const server = await recording()
    const start = new Date(Date.now() - 1).toISOString()
    const peer = await open(server.url, `startTime=${start}&playbackRate=2.5`)
    const hello = await peer.next()
    expect(hello).toMatchObject({
      name: 'keelson',
      self: CONTEXT,
      roles: ['master', 'main'],
      startTime: start,
      playbackRate: 2.5,
    })
    expect(tv4.validateResult(hello, helloSchema).valid).toBe(true)
  })

  it('sends the values at startTime, then each recorded change as a delta that validates, in order and paced', async () => {
    const server = await recording()
    const before = await writeLeaf(server.url, 'navigation.courseOverGroundTrue', 0.5)
    await sleep(10)
    const start = Date.now()
    const writes = await recordVoyage(server.url, 5, 20)
    const rate = 2
    const peer = await open(
      server.url,
      `startTime=${new Date(start).toISOString()}&playbackRate=${rate}&subscribe=self`,
    )
    const hello = await peer.next()
    expect(hello.playbackRate).toBe(rate)
    const last = writes.at(-1)!
    const arrivals: number[] = []
    const messages = await readUntil(peer, (read) => {
      arrivals.push(Date.now())
      return deltaValues(read).some((v) => v.path === last.path && v.value === last.value)
    })
    for (const message of messages) expect(schema.validateDelta(message).valid).toBe(true)
    // The cached values: the tree at startTime (the course, written before it), nothing later.
    const cached = deltaValues(messages.slice(0, 1))
    expect(cached).toContainEqual({
      context: CONTEXT,
      path: 'navigation.courseOverGroundTrue',
      value: 0.5,
    })
    expect(cached.some((v) => v.path === 'navigation.speedOverGround')).toBe(false)
    // Then every write after startTime, in the order written, with its recorded timestamp.
    const replayed = deltaValues(messages.slice(1))
    expect(replayed).toEqual(
      writes.map((w) => ({ context: CONTEXT, path: w.path, value: w.value })),
    )
    expect(before.rev).toBeLessThan(writes[0]!.rev)
    const recorded = await snapshot(
      server.url,
      '/vessels/self/navigation/speedOverGround',
      last.time,
    )
    const lastSog = messages
      .flatMap((m) => m.updates)
      .filter((u: any) => u.values.some((v: any) => v.path === 'navigation.speedOverGround'))
      .at(-1)
    expect(lastSog.timestamp).toBe(recorded.body.timestamp)
    expect(lastSog.$source).toBe('test.voyage')
    // Paced by the rate: no faster than recorded / rate (timers never fire early).
    const span = last.time - writes[0]!.time
    // (arrivals[2] is when the first recorded change had been read: after the cached values.)
    expect(arrivals.at(-1)! - arrivals[2]!).toBeGreaterThanOrEqual((span / rate) * 0.5)
  })

  it('skips the values at startTime with sendCachedValues=false', async () => {
    const server = await recording()
    await writeLeaf(server.url, 'navigation.courseOverGroundTrue', 0.5)
    await sleep(10)
    const start = Date.now()
    const later = await writeLeaf(server.url, 'navigation.speedOverGround', 4)
    const at = new Date(start).toISOString()
    const peer = await open(server.url, `startTime=${at}&playbackRate=1000&sendCachedValues=false`)
    await peer.next()
    const values = deltaValues(await readUntil(peer, (read) => read.length >= 1))
    expect(values).toEqual([{ context: CONTEXT, path: later.path, value: 4 }])
  })

  it('plays other vessels with subscribe=all only, and nothing but the hello with subscribe=none', async () => {
    const server = await recording()
    const start = Date.now()
    const other = 'urn:mrn:imo:mmsi:230000001'
    const res = await fetch(
      `${server.url}/signalk/v1/api/vessels/${other}/navigation/speedOverGround`,
      {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ value: 7, timestamp: new Date().toISOString(), $source: 'ais.x' }),
      },
    )
    expect(res.status).toBe(200)
    const mine = await writeLeaf(server.url, 'navigation.speedOverGround', 3)
    const at = new Date(start).toISOString()
    const all = await open(server.url, `startTime=${at}&playbackRate=1000&subscribe=all`)
    const self = await open(server.url, `startTime=${at}&playbackRate=1000`)
    const none = await open(server.url, `startTime=${at}&playbackRate=1000&subscribe=none`)
    const seen = (read: any[]) => deltaValues(read).some((v) => v.value === mine.value)
    const allValues = deltaValues(await readUntil(all, seen))
    expect(allValues).toContainEqual({
      context: `vessels.${other}`,
      path: 'navigation.speedOverGround',
      value: 7,
    })
    const selfValues = deltaValues(await readUntil(self, seen))
    expect(selfValues.every((v) => v.context === CONTEXT)).toBe(true)
    expect((await none.next()).playbackRate).toBe(1000)
    expect(await none.drain()).toEqual([])
  })

  it('goes on with the changes as they happen once it has caught up, and frees its slot', async () => {
    const server = await recording({ maxTimeTravel: 1 })
    const start = Date.now()
    await writeLeaf(server.url, 'navigation.speedOverGround', 1)
    const at = `startTime=${new Date(start).toISOString()}&playbackRate=1000`
    const peer = await open(server.url, at)
    await readUntil(peer, (read) => deltaValues(read).some((v) => v.value === 1))
    // Written after the playback started: it comes as it happens, a delta that validates.
    await sleep(50)
    const later = await writeLeaf(server.url, 'navigation.speedOverGround', 2)
    const messages = await readUntil(peer, (read) => deltaValues(read).some((v) => v.value === 2))
    expect(deltaValues(messages).at(-1)).toEqual({ context: CONTEXT, path: later.path, value: 2 })
    for (const message of messages) expect(schema.validateDelta(message).valid).toBe(true)
    // Live, it no longer holds a time-travel slot: another playback opens (maxTimeTravel 1).
    const second = await WsPeer.connect(playbackUrl(server.url, at))
    expect(second.refused).toBe(false)
    if (!second.refused) closers.push(() => second.close())
  })

  it('catches up with what changed after the last record when it goes live', async () => {
    const server = await recording()
    const start = Date.now()
    const writes = await recordVoyage(server.url, 3, 5)
    const peer = await open(
      server.url,
      `startTime=${new Date(start).toISOString()}&playbackRate=1000000`,
    )
    const last = writes.at(-1)!
    const messages = await readUntil(peer, (read) =>
      deltaValues(read).some((v) => v.path === last.path && v.value === last.value),
    )
    // The values played end at the live tree's values.
    const byPath = new Map(deltaValues(messages).map((v) => [v.path, v.value]))
    const live = await (await fetch(`${server.url}/signalk/v1/api/vessels/self`)).json()
    for (const w of writes) {
      const [group, ...rest] = w.path.split('.')
      let node = live[group!]
      for (const key of rest) node = node[key]
      expect(byPath.get(w.path)).toEqual(node.value)
    }
  })

  it('answers a message from the client with an error message and stays open; {} is a keep-alive', async () => {
    const server = await recording()
    const peer = await open(server.url, `startTime=${new Date().toISOString()}&subscribe=none`)
    await peer.next()
    peer.send({})
    peer.send('not json')
    peer.send({ context: 'vessels.self', updates: [{ values: [{ path: 'a.b', value: 1 }] }] })
    peer.send({ requestId: 'r2', subscribe: [{ path: '*' }] })
    const error = {
      errorMessage: 'Playback does not support ws upstream messages',
      code: 'KEELSON_ERR_BAD_MESSAGE',
      statusCode: 400,
    }
    // One error per message but the keep-alive, the request's with its requestId.
    expect([await peer.next(), await peer.next(), await peer.next()]).toEqual([
      error,
      error,
      { ...error, requestId: 'r2' },
    ])
    // Nothing a playback client sends is written, and the connection stays open.
    const got = await fetch(`${server.url}/signalk/v1/api/vessels/self/a`)
    expect(got.status).toBe(404)
    expect(await peer.drain()).toEqual([])
    expect(peer.closed).toBe(false)
  })

  it.each([
    ['no startTime', '', 400],
    ['a bad startTime', 'startTime=soon', 400],
    [
      'a startTime in the future',
      `startTime=${new Date(Date.now() + 3_600_000).toISOString()}`,
      400,
    ],
    [
      'a startTime before the retained history',
      `startTime=${new Date(Date.now() - 86_400_000).toISOString()}`,
      404,
    ],
    ['playbackRate=0', `startTime=${new Date().toISOString()}&playbackRate=0`, 400],
    ['playbackRate=-2', `startTime=${new Date().toISOString()}&playbackRate=-2`, 400],
    ['playbackRate=NaN', `startTime=${new Date().toISOString()}&playbackRate=NaN`, 400],
    ['playbackRate=1e999', `startTime=${new Date().toISOString()}&playbackRate=1e999`, 400],
  ])('refuses %s with an HTTP status on the upgrade', async (_name, query, status) => {
    const server = await recording()
    const refused = await WsPeer.connect(playbackUrl(server.url, query))
    expect(refused.refused).toBe(true)
    if (!refused.refused) return
    expect(refused.status).toBe(status)
    expect(refused.opened).toBe(false)
    expect(JSON.parse(refused.body).status).toBe(status)
  })

  it('answers 501 on the upgrade without a data dir', async () => {
    const plain = await startServer({ mmsi: MMSI })
    closers.push(plain.close)
    const refused = await WsPeer.connect(
      playbackUrl(plain.url, `startTime=${new Date().toISOString()}`),
    )
    expect(refused.refused && refused.status).toBe(501)
  })

  it('holds at most maxTimeTravel playbacks at once (429 on the upgrade), and frees a slot on close', async () => {
    const server = await recording({ maxTimeTravel: 2 })
    const at = `startTime=${new Date(Date.now() - 1).toISOString()}&playbackRate=0.001`
    const peers = await Promise.all(
      Array.from({ length: 20 }, () => WsPeer.connect(playbackUrl(server.url, at))),
    )
    const open = peers.filter((p): p is WsPeer => !p.refused)
    for (const p of open) closers.push(() => p.close())
    expect(open.length).toBe(2)
    const refused = peers.filter((p) => p.refused)
    expect(refused.every((p) => p.refused && p.status === 429)).toBe(true)
    const first = refused[0]!
    expect(first.refused && JSON.parse(first.body).code).toBe('KEELSON_ERR_TOO_MANY_CONNECTIONS')
    // The refusal says when to retry, as over HTTP.
    const retryAfter = await new Promise<string | undefined>((resolve, reject) => {
      const ws = new WebSocket(playbackUrl(server.url, at))
      ws.once('unexpected-response', (_req, res) => {
        resolve(res.headers['retry-after'])
        res.resume()
      })
      ws.once('open', () => reject(new Error('opened past maxTimeTravel')))
      ws.once('error', () => {})
    })
    expect(retryAfter).toBe('1')
    for (const p of open) p.close()
    await sleep(50)
    const again = await WsPeer.connect(playbackUrl(server.url, at))
    expect(again.refused).toBe(false)
    if (!again.refused) closers.push(() => again.close())
  })
})
