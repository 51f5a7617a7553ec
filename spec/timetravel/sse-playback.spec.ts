import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { applyMergePatch } from '../../src/client/merge-patch.js'
import { startServer } from '../support/server.js'
import { SseClient, type SseEvent } from '../support/sse-client.js'
import {
  MMSI,
  type Recording,
  recordVoyage,
  sleep,
  snapshot,
  startRecording,
  type Written,
  writeLeaf,
} from './voyage.js'

const closers: (() => Promise<void> | void)[] = []

async function recording(options = {}): Promise<Recording> {
  const running = await startRecording(options)
  closers.push(running.close)
  return running
}

async function play(
  url: string,
  path: string,
  startTime: number | string,
  rate: number | string,
  headers: Record<string, string> = {},
): Promise<SseClient> {
  const at = typeof startTime === 'number' ? new Date(startTime).toISOString() : startTime
  const client = await SseClient.open(
    `${url}/signalk/v1/api${path}?startTime=${encodeURIComponent(at)}&playbackRate=${rate}`,
    headers,
  )
  closers.push(() => client.close())
  return client
}

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

/** The fold of `events` (RFC 7396 from null), as a client keeps it. */
function fold(events: SseEvent[], from: unknown = null): unknown {
  let doc = from
  for (const e of events) doc = applyMergePatch(doc, JSON.parse(e.data!))
  return doc
}

const revOf = (id: string | undefined): number => Number(id!.slice(id!.lastIndexOf('.') + 1))

describe('SSE playback (GET <path>?startTime=&playbackRate= as an event stream)', () => {
  it('replays the path: its fold equals snapshot?time= at every event, at the recorded pace', async () => {
    const server = await recording()
    const start = Date.now()
    const writes = await recordVoyage(server.url, 6, 20)
    const last = writes.filter((w) => w.path.startsWith('navigation.')).at(-1)!
    const rate = 2
    const client = await play(server.url, '/vessels/self/navigation', start, rate)
    expect(client.response.statusCode).toBe(200)
    expect(client.response.headers['content-type']).toBe('text/event-stream; charset=utf-8')
    const arrivals = new Map<string, number>()
    await client.until(() => {
      for (const e of client.messages) if (!arrivals.has(e.id!)) arrivals.set(e.id!, Date.now())
      return client.messages.some((e) => e.id === last.id)
    }, 10_000)
    const messages = client.messages
    // The first event is the path at startTime, with the id of the revision then.
    const first = await snapshot(server.url, '/vessels/self/navigation', start)
    const root = await snapshot(server.url, '', start)
    expect(messages[0]!.id).toBe(root.headers.get('x-keelson-event-id'))
    expect(first.status).toBe(404)
    expect(messages[0]!.data).toBe('null')
    // Ids only go up, and every event's fold is the snapshot API at that event's revision.
    const byRev = new Map<number, Written>(writes.map((w) => [w.rev, w]))
    for (let i = 1; i < messages.length; i++) {
      const rev = revOf(messages[i]!.id)
      expect(rev).toBeGreaterThan(revOf(messages[i - 1]!.id))
      const w = byRev.get(rev)!
      expect(w.path.startsWith('navigation.')).toBe(true)
      const at = await snapshot(server.url, '/vessels/self/navigation', w.time)
      expect(at.headers.get('x-keelson-event-id')).toBe(w.id)
      expect(fold(messages.slice(0, i + 1))).toEqual(at.body)
    }
    // Changes elsewhere (the depth) sent nothing; every change of the path was sent.
    expect(messages.length - 1).toBe(writes.filter((w) => w.path.startsWith('navigation.')).length)
    // Paced: the changes came no faster than recorded / rate (timers never fire early).
    const firstChange = writes[0]!
    const span = last.time - firstChange.time
    const took = arrivals.get(last.id)! - arrivals.get(firstChange.id)!
    expect(took).toBeGreaterThanOrEqual((span / rate) * 0.5)
  })

  it('holds to minPeriod while it replays: changes within a period come composed, the fold exact', async () => {
    const server = await recording()
    const start = Date.now()
    const writes = await recordVoyage(server.url, 12, 5)
    const path = '/vessels/self/navigation'
    const last = writes.filter((w) => w.path.startsWith('navigation.')).at(-1)!
    const at = encodeURIComponent(new Date(start).toISOString())
    const client = await SseClient.open(
      `${server.url}/signalk/v1/api${path}?startTime=${at}&playbackRate=1&minPeriod=150`,
    )
    closers.push(() => client.close())
    await client.until(() => client.messages.some((e) => e.id === last.id), 10_000)
    const span = last.time - start
    // The snapshot, then at most one event per 150 ms of the replay (rate 1).
    expect(client.messages.length - 1).toBeLessThanOrEqual(Math.ceil(span / 150) + 1)
    expect(client.messages.length - 1).toBeLessThan(writes.length)
    expect(fold(client.messages)).toEqual((await snapshot(server.url, path, last.time)).body)
  })

  it('reads wildcard paths through the playback as a stream does', async () => {
    const server = await recording()
    const start = Date.now()
    const writes = await recordVoyage(server.url, 4, 10)
    const path = '/vessels/*/navigation/speedOverGround/value'
    const client = await play(server.url, path, start, 1000)
    const lastSog = writes.filter((w) => w.path === 'navigation.speedOverGround').at(-1)!
    await client.until(() => client.messages.some((e) => e.id === lastSog.id))
    const at = await snapshot(server.url, path, lastSog.time)
    expect(fold(client.messages)).toEqual(at.body)
  })

  it('goes on as the live stream once it reaches the present, and resumes live by Last-Event-ID', async () => {
    const server = await recording()
    const start = Date.now()
    const writes = await recordVoyage(server.url, 3, 10)
    const client = await play(server.url, '/vessels/self', start, 10_000)
    await client.until(() => client.messages.some((e) => e.id === writes.at(-1)!.id))
    // Live now: a new write arrives with its own id, and the fold is the live GET.
    const live = await writeLeaf(server.url, 'navigation.speedOverGround', 42)
    await client.until(() => client.messages.some((e) => e.id === live.id))
    const get = await (await fetch(`${server.url}/signalk/v1/api/vessels/self`)).json()
    expect(fold(client.messages)).toEqual(get)
    // The playback no longer counts as time travel (its slot is free).
    expect(server.keelson.streams.count('sse')).toBe(1)
    // The same URL again with Last-Event-ID (EventSource's reconnect) goes on live from there.
    const held = fold(client.messages)
    client.close()
    const again = await play(server.url, '/vessels/self', start, 10_000, {
      'Last-Event-ID': live.id,
    })
    const next = await writeLeaf(server.url, 'navigation.speedOverGround', 43)
    await again.until(() => again.messages.some((e) => e.id === next.id))
    const get2 = await (await fetch(`${server.url}/signalk/v1/api/vessels/self`)).json()
    expect(fold(again.messages, held)).toEqual(get2)
    expect(again.messages.every((e) => e.data !== 'null')).toBe(true)
  })

  it('resumes a playback where the client left it (Last-Event-ID), without the snapshot again', async () => {
    const server = await recording()
    const start = Date.now()
    const writes = await recordVoyage(server.url, 6, 25)
    const path = '/vessels/self/navigation/speedOverGround'
    const sog = writes.filter((w) => w.path === 'navigation.speedOverGround')
    const client = await play(server.url, path, start, 1)
    await client.until(() => client.messages.some((e) => e.id === sog[1]!.id), 10_000)
    client.close()
    const held = fold(client.messages)
    const resumeId = client.messages.at(-1)!.id!
    const again = await play(server.url, path, start, 1, { 'Last-Event-ID': resumeId })
    await again.until(() => again.messages.some((e) => e.id === sog.at(-1)!.id), 10_000)
    // Nothing the client held was sent again, nothing was missed.
    expect(revOf(again.messages[0]!.id)).toBeGreaterThan(revOf(resumeId))
    expect(again.messages.map((e) => e.id)).toEqual(
      sog.filter((w) => w.rev > revOf(resumeId)).map((w) => w.id),
    )
    expect(fold(again.messages, held)).toEqual(
      (await snapshot(server.url, path, sog.at(-1)!.time)).body,
    )
  })

  it('resumes a playback across a restart on the same data dir', async () => {
    const server = await recording()
    const start = Date.now()
    const writes = await recordVoyage(server.url, 6, 25)
    const path = '/vessels/self/navigation/speedOverGround'
    const sog = writes.filter((w) => w.path === 'navigation.speedOverGround')
    const client = await play(server.url, path, start, 1)
    await client.until(() => client.messages.some((e) => e.id === sog[1]!.id), 10_000)
    const held = fold(client.messages)
    const resumeId = client.messages.at(-1)!.id!
    client.close()
    await server.stop()
    const again = await startServer({ dataDir: server.dir, mmsi: MMSI })
    closers.push(again.close)
    const resumed = await play(again.url, path, start, 1000, { 'Last-Event-ID': resumeId })
    await resumed.until(() => resumed.messages.some((e) => e.id === sog.at(-1)!.id), 10_000)
    expect(resumed.messages[0]!.data).not.toBe('null')
    expect(revOf(resumed.messages[0]!.id)).toBeGreaterThan(revOf(resumeId))
    const get = await (await fetch(`${again.url}/signalk/v1/api${path}`)).json()
    expect(fold(resumed.messages, held)).toEqual(get)
  })

  it('gives a client holding an id from before startTime one patch with what it missed, then the playback', async () => {
    const server = await recording()
    const writes = await recordVoyage(server.url, 4, 15)
    const path = '/vessels/self/navigation'
    const from = writes.find((w) => w.path.startsWith('navigation.'))!
    const held = (await snapshot(server.url, path, from.time)).body
    const at = writes.at(-2)!
    const client = await play(server.url, path, at.time, 1000, { 'Last-Event-ID': from.id })
    await client.until(
      () => client.messages.some((e) => e.id === writes.at(-1)!.id) || client.messages.length > 1,
    )
    const first = client.messages[0]!
    expect(first.data).not.toBe('null')
    expect(first.id).toBe(
      (await snapshot(server.url, '', at.time)).headers.get('x-keelson-event-id'),
    )
    expect(fold([first], held)).toEqual((await snapshot(server.url, path, at.time)).body)
    const live = await writeLeaf(server.url, 'navigation.speedOverGround', 99)
    await client.until(() => client.messages.some((e) => e.id === live.id))
    const get = await (await fetch(`${server.url}/signalk/v1/api${path}`)).json()
    expect(fold(client.messages, held)).toEqual(get)
  })

  it('answers a resume it cannot honour with a reset, then the snapshot at startTime', async () => {
    const server = await recording()
    const start = Date.now()
    const writes = await recordVoyage(server.url, 2, 10)
    for (const lastEventId of [
      'not-an-id',
      'ffffffffffff.1',
      `${writes[0]!.id.split('.')[0]}.99999`,
    ]) {
      const client = await play(server.url, '/vessels/self', start, 1000, {
        'Last-Event-ID': lastEventId,
      })
      await client.until(() => client.messages.some((e) => e.id === writes.at(-1)!.id))
      expect(client.messages[0]!.data).toBe('null')
      expect(JSON.parse(client.messages[1]!.data!)).toEqual(
        (await snapshot(server.url, '/vessels/self', start)).body,
      )
      client.close()
    }
  })

  it.each([
    ['0', 'BAD_QUERY'],
    ['-1', 'BAD_QUERY'],
    ['NaN', 'BAD_QUERY'],
    ['Infinity', 'BAD_QUERY'],
    ['1e999', 'BAD_QUERY'],
    ['1e300', 'BAD_QUERY'],
    ['0x10', 'BAD_QUERY'],
    ['fast', 'BAD_QUERY'],
    ['', 'BAD_QUERY'],
  ])('refuses playbackRate=%s before any stream opens', async (rate, code) => {
    const server = await recording()
    const res = await fetch(
      `${server.url}/signalk/v1/api/vessels/self?startTime=${new Date().toISOString()}&playbackRate=${rate}`,
      { headers: { Accept: 'text/event-stream' } },
    )
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect((await res.json()).code).toBe(`KEELSON_ERR_${code}`)
    expect(server.keelson.streams.count('sse')).toBe(0)
  })

  it('refuses a bad, future or too early startTime, and answers 501 without a data dir', async () => {
    const server = await recording()
    const cases: [string, number, string][] = [
      ['last tuesday', 400, 'BAD_TIME'],
      ['2026-12-02T10:00:00', 400, 'BAD_TIME'],
      [new Date(Date.now() + 3_600_000).toISOString(), 400, 'BAD_TIME'],
      [new Date(Date.now() - 86_400_000).toISOString(), 404, 'NOT_RETAINED'],
    ]
    for (const [startTime, status, code] of cases) {
      const res = await fetch(
        `${server.url}/signalk/v1/api/vessels/self?startTime=${encodeURIComponent(startTime)}`,
        { headers: { Accept: 'text/event-stream' } },
      )
      expect([startTime, res.status]).toEqual([startTime, status])
      expect((await res.json()).code).toBe(`KEELSON_ERR_${code}`)
    }
    const plain = await startServer({ mmsi: MMSI })
    closers.push(plain.close)
    const res = await fetch(
      `${plain.url}/signalk/v1/api/vessels/self?startTime=${new Date().toISOString()}`,
      { headers: { Accept: 'text/event-stream' } },
    )
    expect(res.status).toBe(501)
    expect((await res.json()).code).toBe('KEELSON_ERR_NO_HISTORY')
  })

  it('holds at most maxTimeTravel playbacks at once and gives a slot back when one ends', async () => {
    const server = await recording({ maxTimeTravel: 1 })
    const start = Date.now()
    await recordVoyage(server.url, 2, 10)
    // A slow playback holds its slot while it replays.
    const slow = await play(server.url, '/vessels/self', start, 0.001)
    await slow.until(() => slow.messages.length >= 1)
    const refused = await fetch(
      `${server.url}/signalk/v1/api/vessels/self?startTime=${new Date(start).toISOString()}`,
      { headers: { Accept: 'text/event-stream' } },
    )
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toBe('1')
    await refused.arrayBuffer()
    slow.close()
    await sleep(50)
    const next = await play(server.url, '/vessels/self', start, 0.001)
    expect(next.response.statusCode).toBe(200)
  })

  it('sends keep-alives without an id while it replays (they must not move the resume point)', async () => {
    const server = await recording({ keepAliveMs: 30 })
    const start = Date.now()
    await recordVoyage(server.url, 2, 10)
    const client = await play(server.url, '/vessels/self', start, 0.001)
    await client.until(() => client.events.filter((e) => e.event === 'keep-alive').length >= 3)
    const keepAlives = client.events.filter((e) => e.event === 'keep-alive')
    expect(keepAlives.every((e) => e.id === undefined)).toBe(true)
    expect(client.lastEventId).toBe(client.messages[0]!.id)
  })

  it('answers hundreds of playbacks asked for at once with streams or 429, and frees every slot', async () => {
    const server = await recording({ maxTimeTravel: 16 })
    const start = Date.now()
    await recordVoyage(server.url, 2, 10)
    const url = `${server.url}/signalk/v1/api/vessels/self?startTime=${new Date(start).toISOString()}&playbackRate=0.001`
    const controllers = Array.from({ length: 300 }, () => new AbortController())
    closers.push(() => {
      for (const c of controllers) c.abort()
    })
    const answers = await Promise.all(
      controllers.map((c) =>
        fetch(url, { headers: { Accept: 'text/event-stream' }, signal: c.signal }),
      ),
    )
    const statuses = answers.map((res) => res.status)
    expect(statuses.filter((s) => s === 200).length).toBe(16)
    expect(statuses.filter((s) => s === 429).length).toBe(300 - 16)
    for (const c of controllers) c.abort()
    const deadline = Date.now() + 5000
    while (server.keelson.streams.count('sse') > 0 && Date.now() < deadline) await sleep(10)
    expect(server.keelson.streams.count('sse')).toBe(0)
    const again = await play(server.url, '/vessels/self', start, 0.001)
    expect(again.response.statusCode).toBe(200)
    expect((await (await fetch(`${server.url}/healthz`)).json()).status).toBe('ok')
  })

  it('keeps a client that never reads to bounded memory and closes it once stalled', async () => {
    const maxConnectionBytes = 512 * 1024
    const server = await recording({
      journal: 'async',
      maxConnectionBytes,
      stallTimeoutMs: 300,
      maxTimeTravel: 1,
    })
    const start = Date.now()
    // 6 MiB of history: far more than the socket buffers and the connection's bound.
    for (let i = 0; i < 60; i++) {
      await writeLeaf(server.url, 'notifications.log', `${i}:${'x'.repeat(100 * 1024)}`)
    }
    // A socket with no reader: nothing is read past its own small buffer.
    const socket = connect(Number(new URL(server.url).port), '127.0.0.1')
    closers.push(() => void socket.destroy())
    socket.on('error', () => {})
    const path = `/signalk/v1/api/vessels/self?startTime=${new Date(start).toISOString()}&playbackRate=1000000`
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`)
    const streams = server.keelson.streams
    let opened = false
    let most = 0
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      const open = streams.count('sse') === 1
      opened ||= open
      if (opened && !open) break
      most = Math.max(most, streams.bufferedBytes('sse'))
      await sleep(5)
    }
    // The server closed it (the client, reading nothing, cannot even see that).
    expect(opened).toBe(true)
    expect(streams.count('sse')).toBe(0)
    expect(most).toBeGreaterThan(0)
    expect(most).toBeLessThanOrEqual(maxConnectionBytes)
    expect(server.keelson.sse.stats.stalledClosed).toBeGreaterThanOrEqual(1)
    // Its time-travel slot was given back.
    const next = await play(server.url, '/vessels/self', start, 1)
    expect(next.response.statusCode).toBe(200)
  })
})
