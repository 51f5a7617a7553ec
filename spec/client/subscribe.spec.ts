import type { IncomingHttpHeaders } from 'node:http'
import { isDeepStrictEqual } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type EventInfo,
  type Status,
  StreamRefusedError,
  type Subscription,
  subscribe,
} from '../../src/client/index.js'
import { Restartable } from './restartable.js'
import { until } from './until.js'

const FAST = { initialMs: 20, maxMs: 100 }

let server: Restartable | undefined
const subscriptions: Subscription<unknown>[] = []

afterEach(async () => {
  for (const sub of subscriptions.splice(0)) sub.close()
  await server?.close()
  server = undefined
})

async function get(path: string): Promise<unknown> {
  const res = await fetch(`${server!.url}/signalk/v1/api${path}`)
  return res.status === 404 ? null : res.json()
}

async function write(method: string, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${server!.url}/signalk/v1/api${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  expect(res.status).toBeLessThan(300)
}

interface Watched<T> {
  sub: Subscription<T>
  statuses: Status[]
  patches: { patch: unknown; info: EventInfo }[]
}

function watch<T>(path: string, options: Parameters<typeof subscribe<T>>[1] = {}): Watched<T> {
  const statuses: Status[] = []
  const patches: { patch: unknown; info: EventInfo }[] = []
  const sub = subscribe<T>(`${server!.url}/signalk/v1/api${path}`, {
    backoff: FAST,
    onStatus: (status) => statuses.push(status),
    onPatch: (patch, info) => patches.push({ patch, info }),
    ...options,
  })
  subscriptions.push(sub as Subscription<unknown>)
  return { sub, statuses, patches }
}

async function settles(sub: Subscription<unknown>, path: string): Promise<void> {
  let expected: unknown
  await until(
    async () => {
      expected = await get(path)
      return isDeepStrictEqual(sub.state, expected)
    },
    3000,
    () => `state ${JSON.stringify(sub.state)} GET ${JSON.stringify(expected)}`,
  )
}

describe('subscribe() in Node over fetch', () => {
  it('folds the snapshot and every patch into what a GET of the path returns', async () => {
    server = await Restartable.start()
    await write('PATCH', '/vessels/self/test', { a: { b: 1, c: [1, 2] }, d: 'x' })
    const { sub, statuses } = watch('/vessels/self/test')
    await settles(sub, '/vessels/self/test')
    await write('PATCH', '/vessels/self/test', { a: { b: null, c: [3] }, e: { f: true } })
    await settles(sub, '/vessels/self/test')
    expect(sub.state).toEqual({ a: { c: [3] }, d: 'x', e: { f: true } })
    await write('DELETE', '/vessels/self/test/e')
    await settles(sub, '/vessels/self/test')
    expect(statuses).toEqual(['connecting', 'live'])
    expect(sub.lastEventId).toMatch(/.+/)
  })

  it('holds null while the path does not exist, then its value when it appears', async () => {
    server = await Restartable.start()
    const { sub } = watch<{ a: number }>('/vessels/self/later')
    await until(() => sub.status === 'live')
    expect(sub.state).toBeNull()
    await write('PUT', '/vessels/self/later', { a: 1 })
    await until(() => sub.state?.a === 1)
  })

  it('goes reconnecting when the server stops and live again when it returns, with what it missed in one catch-up patch', async () => {
    server = await Restartable.start()
    await write('PATCH', '/vessels/self/test', { a: 1 })
    const { sub, statuses, patches } = watch('/vessels/self/test')
    await settles(sub, '/vessels/self/test')
    await server.stop()
    await until(() => sub.status === 'reconnecting')
    server.patch('/vessels/self/test', { a: 2, b: { c: 3 } })
    server.patch('/vessels/self/test', { b: { c: null, d: 4 } })
    const before = patches.length
    await server.resume()
    await until(() => isDeepStrictEqual(sub.state, { a: 2, b: { d: 4 } }))
    expect(patches.slice(before)).toHaveLength(1)
    expect(patches.at(-1)!.info.reset).toBe(false)
    expect(statuses[0]).toBe('connecting')
    expect(statuses).toContain('reconnecting')
    expect(statuses.at(-1)).toBe('live')
  })

  it('starts over when a restarted server cannot honour the resume (data: null, then the snapshot)', async () => {
    server = await Restartable.start()
    await write('PATCH', '/vessels/self/test', { old: true, keep: 1 })
    const { sub, patches } = watch('/vessels/self/test')
    await settles(sub, '/vessels/self/test')
    const epochBefore = sub.lastEventId
    await server.replace()
    server.patch('/vessels/self/test', { keep: 2 })
    await until(() => isDeepStrictEqual(sub.state, { keep: 2 }))
    expect(patches.some(({ patch }) => patch === null)).toBe(true)
    expect(patches.at(-1)!.info.reset).toBe(false)
    expect(sub.lastEventId).not.toBe(epochBefore)
  })

  it('sends the token as a bearer header, the resume point as Last-Event-ID and minPeriod in the query', async () => {
    server = await Restartable.start()
    const seen: { url: string; headers: IncomingHttpHeaders }[] = []
    const record = (req: { url?: string; headers: IncomingHttpHeaders }) =>
      seen.push({ url: req.url ?? '', headers: req.headers })
    server.http!.on('request', record)
    const { sub } = watch('/vessels/self/test', { token: 's3cret', minPeriod: 50 })
    await until(() => sub.status === 'live' && sub.lastEventId !== undefined)
    const id = sub.lastEventId
    await server.stop()
    await server.resume()
    server.http!.on('request', record)
    await until(() => seen.length >= 2 && sub.status === 'live')
    expect(seen[0]!.url).toBe('/signalk/v1/api/vessels/self/test?minPeriod=50')
    expect(seen[0]!.headers.authorization).toBe('Bearer s3cret')
    expect(seen[0]!.headers.accept).toBe('text/event-stream')
    expect(seen[0]!.headers['last-event-id']).toBeUndefined()
    expect(seen[1]!.headers['last-event-id']).toBe(id)
  })

  it('closes for good, with the error, when the server refuses the request as malformed', async () => {
    server = await Restartable.start()
    let error: Error | undefined
    const statuses: Status[] = []
    const { sub } = watch('/vessels/self/test?minPeriod=soon', {
      onStatus: (status, info) => {
        statuses.push(status)
        error = info.error
      },
    })
    await until(() => sub.status === 'closed')
    expect(statuses).toEqual(['connecting', 'closed'])
    expect(error).toBeInstanceOf(StreamRefusedError)
    expect((error as StreamRefusedError).status).toBe(400)
  })

  it('reconnects and resumes when nothing arrives for idleTimeoutMs', async () => {
    server = await Restartable.start({ keepAliveMs: 60_000 })
    await write('PATCH', '/vessels/self/test', { a: 1 })
    const { sub, statuses } = watch('/vessels/self/test', { idleTimeoutMs: 150 })
    await until(() => statuses.filter((s) => s === 'live').length >= 2)
    expect(statuses.slice(0, 3)).toEqual(['connecting', 'live', 'reconnecting'])
    expect(sub.state).toEqual({ a: 1 })
  })

  it('stops when its AbortSignal aborts and reports closed once', async () => {
    server = await Restartable.start()
    const aborter = new AbortController()
    const { sub, statuses } = watch('/vessels/self/test', { signal: aborter.signal })
    await until(() => sub.status === 'live')
    aborter.abort()
    sub.close()
    expect(statuses).toEqual(['connecting', 'live', 'closed'])
    await until(() => server!.keelson.streams.count('sse') === 0)
  })

  it('does not connect at all with a signal that has already aborted', () => {
    const sub = subscribe('http://127.0.0.1:9/none', { signal: AbortSignal.abort() })
    expect(sub.status).toBe('closed')
  })
})
