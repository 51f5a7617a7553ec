import { afterEach, describe, expect, it } from 'vitest'
import { startServer } from '../support/server.js'
import {
  MMSI,
  type Recording,
  recordVoyage,
  SELF,
  sleep,
  snapshot,
  startRecording,
  writeLeaf,
} from './voyage.js'

const closers: (() => Promise<void>)[] = []

async function recording(options = {}): Promise<Recording> {
  const running = await startRecording(options)
  closers.push(running.close)
  return running
}

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

/** The value of `path` (dots, below the self vessel) after every write up to `rev`, from the writes themselves. */
function expectedAt(
  writes: { rev: number; path: string; value: unknown }[],
  rev: number,
  path: string,
) {
  let value: unknown
  for (const w of writes) if (w.rev <= rev && w.path === path) value = w.value
  return value
}

describe('GET /signalk/v1/api/snapshot/<path>?time=', () => {
  it('answers each path as it was at each recorded moment, with the id of that revision', async () => {
    const server = await recording()
    const writes = await recordVoyage(server.url, 6, 15)
    for (const w of writes) {
      const got = await snapshot(server.url, '/vessels/self/navigation', w.time)
      expect(got.status).toBe(200)
      expect(got.headers.get('x-keelson-event-id')).toBe(w.id)
      expect(got.body.speedOverGround?.value).toBe(
        expectedAt(writes, w.rev, 'navigation.speedOverGround'),
      )
      expect(got.body.headingTrue?.value).toBe(expectedAt(writes, w.rev, 'navigation.headingTrue'))
      // The same read at the root, with the full vessel key instead of `self`.
      const whole = await snapshot(server.url, '', w.time)
      const depth = whole.body.vessels[SELF].environment?.depth?.belowTransducer?.value
      expect(depth).toBe(expectedAt(writes, w.rev, 'environment.depth.belowTransducer'))
    }
    // The present, read back through the past at the last moment, is the live GET.
    const live = await (await fetch(`${server.url}/signalk/v1/api/vessels/self`)).json()
    const last = await snapshot(server.url, '/vessels/self', writes.at(-1)!.time)
    expect(last.body).toEqual(live)
  })

  it('reads wildcard paths and leaves as a GET does', async () => {
    const server = await recording()
    const writes = await recordVoyage(server.url, 3, 10)
    const at = writes.at(-1)!.time
    const star = await snapshot(server.url, '/vessels/*/navigation/speedOverGround/value', at)
    expect(star.status).toBe(200)
    expect(star.body).toEqual({
      [SELF]: { navigation: { speedOverGround: { value: writes.at(-1)!.value } } },
    })
    const leaf = await snapshot(server.url, '/vessels/self/navigation/speedOverGround/value', at)
    expect(leaf.body).toBe(expectedAt(writes, writes.at(-1)!.rev, 'navigation.speedOverGround'))
    const self = await snapshot(server.url, '/self', at)
    expect(self.body).toBe(`vessels.${SELF}`)
  })

  it('answers HEAD with the headers of the GET and no body', async () => {
    const server = await recording()
    const writes = await recordVoyage(server.url, 2, 10)
    const at = new Date(writes[0]!.time).toISOString()
    const url = `${server.url}/signalk/v1/api/snapshot/vessels/self?time=${at}`
    const get = await fetch(url)
    const head = await fetch(url, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
    expect(head.headers.get('content-length')).toBe(get.headers.get('content-length'))
    expect(head.headers.get('x-keelson-event-id')).toBe(writes[0]!.id)
    await get.arrayBuffer()
  })

  it('answers 404 for a path missing at that time, though it exists now', async () => {
    const server = await recording()
    const first = await writeLeaf(server.url, 'navigation.speedOverGround', 1)
    await new Promise((resolve) => setTimeout(resolve, 15))
    await writeLeaf(server.url, 'navigation.log', 1852)
    const got = await snapshot(server.url, '/vessels/self/navigation/log', first.time)
    expect(got.status).toBe(404)
    expect(got.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(got.body.code).toBe('KEELSON_ERR_PATH_NOT_FOUND')
  })

  it('answers 404 before the retained history starts', async () => {
    const server = await recording()
    const got = await snapshot(server.url, '/vessels/self', Date.now() - 3_600_000)
    expect(got.status).toBe(404)
    expect(got.body.code).toBe('KEELSON_ERR_NOT_RETAINED')
    expect(got.body.detail).toMatch(/retained history starts at \d{4}-/)
  })

  it.each([
    ['no time', undefined],
    ['an empty time', ''],
    ['words', 'yesterday'],
    ['a date without a time', '2026-12-02'],
    ['a time without a zone', '2026-12-02T10:00:00'],
    ['a day that does not exist', '2026-02-30T10:00:00Z'],
    ['hour 24', '2026-02-03T24:00:00Z'],
    ['a leap second', '2026-06-30T23:59:60Z'],
    ['an offset past 23 hours', '2026-02-03T10:00:00+24:00'],
    ['epoch milliseconds', '1796208353783'],
    ['a number past doubles', '1e999'],
    ['a long string', `2026-12-02T10:00:00.${'1'.repeat(5000)}Z`],
    ['a control character', '2026-12-02T10:00:00Z\u0000'],
  ])('answers 400 with problem details for %s', async (_name, time) => {
    const server = await recording()
    const query = time === undefined ? '' : `?time=${encodeURIComponent(time)}`
    const res = await fetch(`${server.url}/signalk/v1/api/snapshot/vessels/self${query}`)
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect((await res.json()).code).toBe('KEELSON_ERR_BAD_TIME')
  })

  it.each([
    ['a forbidden key', '/vessels/__proto__/x', 'KEELSON_ERR_FORBIDDEN_KEY'],
    ['an empty segment', '/vessels//x', 'KEELSON_ERR_BAD_PATH'],
    ['a path past the depth limit', '/a'.repeat(65), 'KEELSON_ERR_TOO_DEEP'],
    ['bad percent-encoding', '/vessels/%E0%A4%A', 'KEELSON_ERR_BAD_PATH'],
  ])('answers 400 for %s in the path, as a GET does', async (_name, path, code) => {
    const server = await recording()
    const at = new Date().toISOString()
    const res = await fetch(`${server.url}/signalk/v1/api/snapshot${path}?time=${at}`)
    expect(res.status).toBe(400)
    expect((await res.json()).code).toBe(code)
  })

  it('answers 400 for a time given twice and for a time in the future', async () => {
    const server = await recording()
    const now = new Date().toISOString()
    const twice = await fetch(
      `${server.url}/signalk/v1/api/snapshot/vessels?time=${now}&time=${now}`,
    )
    expect(twice.status).toBe(400)
    expect((await twice.json()).code).toBe('KEELSON_ERR_BAD_TIME')
    const later = await snapshot(server.url, '/vessels', Date.now() + 60_000)
    expect(later.status).toBe(400)
    expect(later.body.detail).toMatch(/in the future/)
  })

  it('reads the same moment with a zone offset as in UTC', async () => {
    const server = await recording()
    const writes = await recordVoyage(server.url, 2, 10)
    const utc = new Date(writes[0]!.time)
    const shifted = new Date(utc.getTime() + 2 * 3_600_000).toISOString().replace('Z', '+02:00')
    const a = await snapshot(server.url, '/vessels/self', utc.toISOString())
    const b = await snapshot(server.url, '/vessels/self', shifted)
    expect(b.status).toBe(200)
    expect(b.body).toEqual(a.body)
  })

  it('answers 501 without a data dir, as signalk-server without a history provider', async () => {
    const running = await startServer({ mmsi: MMSI })
    closers.push(running.close)
    const got = await snapshot(running.url, '/vessels/self', Date.now() - 1000)
    expect(got.status).toBe(501)
    expect(got.body.code).toBe('KEELSON_ERR_NO_HISTORY')
    expect(got.body.detail).toMatch(/--data-dir/)
  })

  it('only reads: a write at snapshot/ is 405 and changes nothing', async () => {
    const server = await recording()
    const before = await (await fetch(`${server.url}/signalk/v1/api`)).json()
    const res = await fetch(`${server.url}/signalk/v1/api/snapshot/vessels/self/x`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: '{"value":1}',
    })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('GET, HEAD')
    expect(await (await fetch(`${server.url}/signalk/v1/api`)).json()).toEqual(before)
  })

  it('answers the past across a restart on the same data dir', async () => {
    const dir = await recording()
    const writes = await recordVoyage(dir.url, 3, 10)
    const before = await snapshot(dir.url, '/vessels/self', writes[1]!.time)
    await dir.stop()
    const again = await startServer({ dataDir: dir.dir, mmsi: MMSI })
    closers.push(again.close)
    const after = await snapshot(again.url, '/vessels/self', writes[1]!.time)
    expect(after.status).toBe(200)
    expect(after.body).toEqual(before.body)
    expect(after.headers.get('x-keelson-event-id')).toBe(writes[1]!.id)
  })

  it('refuses time travel past maxTimeTravel at once with 429 and Retry-After', async () => {
    const server = await recording({ maxTimeTravel: 2 })
    const start = Date.now()
    const writes = await recordVoyage(server.url, 2, 5)
    const at = new Date(writes[0]!.time).toISOString()
    // Two slow playbacks hold both slots while they replay.
    const held = await Promise.all(
      [0, 1].map(() =>
        fetch(
          `${server.url}/signalk/v1/api/vessels/self?startTime=${new Date(start).toISOString()}&playbackRate=0.001`,
          { headers: { Accept: 'text/event-stream' } },
        ),
      ),
    )
    expect(held.map((res) => res.status)).toEqual([200, 200])
    const refused = await fetch(`${server.url}/signalk/v1/api/snapshot/vessels/self?time=${at}`)
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toBe('1')
    expect((await refused.json()).code).toBe('KEELSON_ERR_TOO_MANY_CONNECTIONS')
    for (const res of held) await res.body!.cancel()
    // Once they end, reads are served again, and many at once leave no slot taken.
    const deadline = Date.now() + 5000
    while (server.keelson.streams.count('sse') > 0 && Date.now() < deadline) await sleep(10)
    const answers = await Promise.all(
      Array.from({ length: 40 }, () =>
        fetch(`${server.url}/signalk/v1/api/snapshot/vessels/self?time=${at}`),
      ),
    )
    for (const res of answers) await res.arrayBuffer()
    expect(answers.every((res) => res.status === 200 || res.status === 429)).toBe(true)
    expect((await snapshot(server.url, '/vessels/self', writes[0]!.time)).status).toBe(200)
  })
})
