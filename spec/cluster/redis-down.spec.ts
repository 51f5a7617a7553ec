/**
 * Cluster mode when Redis goes away (SPEC §9): writes 503 with Retry-After
 * (never applied), reads and streams go on, /healthz degraded; Redis back
 * with its data: every acknowledged write is on every node, once; Redis back
 * empty: one node seeds it under a new epoch and every stream gets a reset.
 */
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { applyMergePatch } from '../../src/client/merge-patch.js'
import { type RedisServer, startRedis } from '../support/redis.js'
import { SseClient } from '../support/sse-client.js'
import { type Node, patch, read, reopen, startNode, until } from './support.js'

let redis: RedisServer
const nodes: Node[] = []
const clients: SseClient[] = []

beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.close()
})
afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await Promise.all(nodes.splice(0).map((n) => n.close()))
})

async function node(key: string): Promise<Node> {
  const started = await startNode(redis.url, { clusterKey: key, keepAliveMs: 200 })
  nodes.push(started)
  return started
}

async function follow(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await SseClient.open(`${url}/signalk/v1/api/vessels/self/w`, headers)
  clients.push(client)
  await client.until(() => client.messages.length >= 1)
  return client
}

function fold(client: SseClient): unknown {
  let doc: unknown = null
  for (const m of client.messages) doc = applyMergePatch(doc, JSON.parse(m.data!))
  return doc
}

describe('Redis unreachable, then back', () => {
  it('writes 503 while it is away, streams go on; back with its data: every acknowledged write once on every node', async () => {
    const [a, b] = [await node('down'), await node('down')]
    const sse = await follow(b.url)
    const changes = new Map<string, number>()
    b.keelson.tree.onChange((change) => {
      const w = (change.effect.patch as { vessels?: Record<string, { w?: object }> }).vessels
      for (const vessel of Object.values(w ?? {})) {
        for (const k of Object.keys(vessel.w ?? {})) changes.set(k, (changes.get(k) ?? 0) + 1)
      }
    })
    const status = new Map<number, number>()
    let i = 0
    const write = async (): Promise<number> => {
      const n = i++
      const res = await patch(a.url, 'vessels/self/w', { [`k${n}`]: n })
      status.set(n, res.status)
      if (res.status === 503) {
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
        expect(((await res.json()) as { code: string }).code).toBe('KEELSON_ERR_UNAVAILABLE')
      } else await res.arrayBuffer()
      return res.status
    }
    for (let k = 0; k < 20; k++) expect(await write()).toBe(200)
    // Writes in flight while Redis is killed.
    const inFlight = Promise.all(Array.from({ length: 20 }, () => write()))
    await redis.stop(true)
    await inFlight
    await until(async () => (await write()) === 503)
    for (let k = 0; k < 5; k++) expect(await write()).toBe(503)
    // Reads and streams go on from the replica; /healthz says degraded.
    const health = (await (await fetch(`${b.url}/healthz`)).json()) as { status: string }
    expect(health.status).toBe('degraded')
    expect((await fetch(`${b.url}/signalk/v1/api/vessels/self/w/k0`)).status).toBe(200)
    const keepAlives = sse.events.length
    await sse.until(() => sse.events.length > keepAlives, 3000)
    expect(sse.closed).toBe(false)

    await redis.restart()
    await until(async () => (await write()) === 200, 15_000)
    for (let k = 0; k < 10; k++) expect(await write()).toBe(200)
    await until(
      () => a.cluster.position === b.cluster.position && a.keelson.tree.rev === b.keelson.tree.rev,
    )
    const tree = (await read(b.url, 'vessels/self/w')).body as Record<string, number>
    expect(await read(a.url, 'vessels/self/w')).toEqual(await read(b.url, 'vessels/self/w'))
    for (const [n, code] of status) {
      // 200: there, on every node; 503: never appended, never there; 504: may be there.
      if (code === 200) expect(tree[`k${n}`]).toBe(n)
      else if (code === 503) expect(tree[`k${n}`]).toBeUndefined()
      else expect(code).toBe(504)
    }
    // Nothing applied twice.
    for (const count of changes.values()) expect(count).toBe(1)
    // The stream stayed open through it all and holds exactly what a GET returns at its last id.
    await sse.until(() => sse.lastEventId === b.keelson.tree.eventId)
    expect(fold(sse)).toEqual(tree)
    expect(health).toBeDefined()
    expect(((await (await fetch(`${b.url}/healthz`)).json()) as { status: string }).status).toBe(
      'ok',
    )
  }, 60_000)

  it('a write whose append gets no answer in time is 504 (outcome unknown), and may appear', async () => {
    const [a, b] = [await node('pause'), await node('pause')]
    const admin = new Redis(redis.url)
    try {
      // Redis holds every write command for 9 s: the append is sent, no answer within 5 s.
      await admin.call('CLIENT', 'PAUSE', '9000', 'WRITE')
      const res = await patch(a.url, 'vessels/self/w', { late: 1 })
      expect(res.status).toBe(504)
      const problem = (await res.json()) as { code: string }
      expect(problem.code).toBe('KEELSON_ERR_APPEND_UNKNOWN')
      // Once Redis runs it, the write is in the log: applied on every node, once.
      const there = async (url: string) =>
        (await fetch(`${url}/signalk/v1/api/vessels/self/w/late`)).status === 200
      expect(await there(a.url)).toBe(false)
      await until(() => there(b.url), 10_000)
      await until(() => a.keelson.tree.rev === b.keelson.tree.rev)
      expect((await read(a.url, 'vessels/self/w')).body).toEqual({ late: 1 })
      expect((await read(b.url, 'vessels/self/w')).body).toEqual({ late: 1 })
      expect(a.cluster.stats.unknown504).toBe(1)
    } finally {
      await admin.call('CLIENT', 'UNPAUSE').catch(() => undefined)
      admin.disconnect()
    }
  }, 30_000)

  it('back empty: the first node to notice seeds it under a new epoch and every stream gets a reset', async () => {
    const [a, b] = [await node('empty'), await node('empty')]
    for (let k = 0; k < 5; k++)
      expect((await patch(a.url, 'vessels/self/w', { [`k${k}`]: k })).status).toBe(200)
    await until(() => b.keelson.tree.rev === a.keelson.tree.rev)
    const before = a.keelson.tree.epoch
    const sse = await follow(b.url)
    const lastId = sse.lastEventId!
    await redis.stop(true)
    await redis.restart(true)
    await until(
      () =>
        a.keelson.tree.epoch !== before &&
        a.keelson.tree.epoch === b.keelson.tree.epoch &&
        a.cluster.refusal() === undefined &&
        b.cluster.refusal() === undefined,
      15_000,
    )
    expect(a.cluster.stats.seeds + b.cluster.stats.seeds).toBe(2) // the first start, and the reseed
    // The stream was ended so that its client reconnects; resuming from the old epoch gets a reset.
    await until(() => sse.closed)
    const again = await reopen(`${b.url}/signalk/v1/api/vessels/self/w`, {
      'Last-Event-ID': lastId,
    })
    clients.push(again)
    await again.until(() => again.messages.length >= 2)
    expect(again.messages[0]!.data).toBe('null')
    expect(JSON.parse(again.messages[1]!.data!)).toEqual({ k0: 0, k1: 1, k2: 2, k3: 3, k4: 4 })
    // The cluster works under its new epoch: writes on either node reach the other.
    expect((await patch(b.url, 'vessels/self/w', { k5: 5 })).status).toBe(200)
    await until(() => a.keelson.tree.rev === b.keelson.tree.rev)
    expect(await read(a.url)).toEqual(await read(b.url))
    await again.until(() => again.lastEventId === b.keelson.tree.eventId)
  }, 60_000)
})
