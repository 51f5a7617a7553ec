/**
 * Cluster mode (SPEC §9, issue 13) with in-process nodes on a real Redis:
 * writes on one node reach streams on the others, revisions and event ids
 * agree everywhere, a late node catches up from the snapshot plus the stream.
 */
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { applyMergePatch } from '../../src/client/merge-patch.js'
import { type RedisServer, startRedis } from '../support/redis.js'
import { SseClient } from '../support/sse-client.js'
import { WsPeer } from '../support/ws-peer.js'
import { type Node, patch, read, startNode, until } from './support.js'

let redis: RedisServer
const nodes: Node[] = []
let key = 0

beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.close()
})
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()))
})

/** A node of a fresh cluster per test (its own key prefix on the shared Redis). */
async function node(options: Parameters<typeof startNode>[1] = {}): Promise<Node> {
  const started = await startNode(redis.url, { clusterKey: `k${key}`, ...options })
  nodes.push(started)
  return started
}

function fold(client: SseClient): unknown {
  let doc: unknown = null
  for (const m of client.messages) doc = applyMergePatch(doc, JSON.parse(m.data!))
  return doc
}

describe('a cluster of nodes on one Redis', () => {
  it('a write on A reaches an SSE client on B and a WebSocket client on C; ids agree', async () => {
    key++
    const [a, b, c] = [await node(), await node(), await node()]
    // One cluster: the same epoch and the same self on every node.
    expect(b.keelson.tree.epoch).toBe(a.keelson.tree.epoch)
    expect(c.keelson.tree.selfKey).toBe(a.keelson.tree.selfKey)
    const sse = await SseClient.open(`${b.url}/signalk/v1/api/vessels/self/navigation`)
    const ws = await WsPeer.open(`${c.url.replace('http', 'ws')}/signalk/v1/stream?subscribe=none`)
    await ws.next() // hello
    ws.send({
      context: 'vessels.self',
      subscribe: [{ path: 'navigation.speedOverGround' }],
    })
    await sse.until(() => sse.messages.length >= 1)
    const res = await patch(a.url, 'vessels/self/navigation', {
      speedOverGround: { value: 3.5 },
    })
    expect(res.status).toBe(200)
    // Read-your-writes: A answers once its replica applied it, with that revision's id.
    const id = res.headers.get('x-keelson-event-id')
    expect(id).toBe(a.keelson.tree.eventId)
    expect((await res.json()) as unknown).toEqual({ speedOverGround: { value: 3.5 } })
    await sse.until(() => sse.lastEventId === id)
    expect(fold(sse)).toEqual({ speedOverGround: { value: 3.5 } })
    const delta = await ws.next()
    expect(delta.updates[0].values[0]).toEqual({ path: 'navigation.speedOverGround', value: 3.5 })
    // The same revision and the same read on every node.
    await until(() => c.keelson.tree.eventId === id)
    for (const n of [a, b, c]) {
      expect(await read(n.url, 'vessels/self/navigation')).toEqual({
        body: { speedOverGround: { value: 3.5 } },
        id,
      })
    }
    sse.close()
    ws.close()
  })

  it('concurrent writes on A and B to one path: the same tree and revision sequence everywhere', async () => {
    key++
    const [a, b] = [await node(), await node()]
    const seen = new Map<string, string[]>()
    for (const [name, n] of [
      ['a', a],
      ['b', b],
    ] as const) {
      const revs: string[] = []
      seen.set(name, revs)
      n.keelson.tree.onChange((change) =>
        revs.push(`${change.rev}:${JSON.stringify(change.effect.patch)}`),
      )
    }
    const writes: Promise<Response>[] = []
    for (let i = 0; i < 100; i++) {
      writes.push(patch(a.url, 'vessels/self/x', { n: i, from: 'a' }))
      writes.push(patch(b.url, 'vessels/self/x', { n: i, from: 'b' }))
    }
    const answers = await Promise.all(writes)
    expect(answers.map((r) => r.status)).toEqual(answers.map(() => 200))
    await until(
      () => a.keelson.tree.rev === b.keelson.tree.rev && a.cluster.position === b.cluster.position,
    )
    expect(seen.get('a')).toEqual(seen.get('b'))
    expect(await read(a.url)).toEqual(await read(b.url))
    // Every acknowledged write has its own revision; ids of the answers are all distinct.
    const ids = new Set(answers.map((r) => r.headers.get('x-keelson-event-id')))
    expect(ids.size).toBe(200)
  })

  it('a node started late catches up from the snapshot in Redis plus the stream', async () => {
    key++
    const a = await node({ clusterSnapshotMs: 100 })
    for (let i = 0; i < 20; i++)
      expect((await patch(a.url, 'vessels/self/n', { i })).status).toBe(200)
    await until(() => a.cluster.stats.snapshots > 0 && a.cluster.position !== '0-0', 5000)
    // A stores no more snapshots once closed; B (a long period) takes the next writes.
    const b = await node({ clusterSnapshotMs: 600_000 })
    await a.close()
    for (let i = 20; i < 30; i++)
      expect((await patch(b.url, 'vessels/self/n', { i })).status).toBe(200)
    const late = await node()
    // Started from the snapshot, then the stream after it; listening only once caught up.
    expect(late.cluster.joined!.rev).toBeGreaterThan(0)
    expect(late.cluster.joined!.rev).toBeLessThan(b.keelson.tree.rev)
    expect(late.keelson.tree.rev).toBe(b.keelson.tree.rev)
    expect(await read(late.url)).toEqual(await read(b.url))
  })

  it('an entry no replica can apply (junk in the log) is skipped alike on every node', async () => {
    key++
    const [a, b] = [await node(), await node()]
    const direct = new Redis(redis.url)
    try {
      await direct.xadd(`k${key}:log`, '*', 'op', '{"kind":"merge","path":["__proto__"],"value":1}')
      await direct.xadd(`k${key}:log`, '*', 'op', 'not json', 'from', 'nobody:1')
      await direct.xadd(`k${key}:log`, '*', 'nothing', 'here')
    } finally {
      direct.disconnect()
    }
    const res = await patch(a.url, 'vessels/self/after', { ok: true })
    expect(res.status).toBe(200)
    await until(() => b.cluster.position === a.cluster.position)
    expect(b.keelson.tree.rev).toBe(a.keelson.tree.rev)
    expect(await read(b.url)).toEqual(await read(a.url))
    expect(({} as Record<string, unknown>).value).toBeUndefined()
  })

  it('a Redis URL that is not one is refused with a clear message', async () => {
    for (const url of ['localhost:6379', 'http://localhost', 'redis://']) {
      await expect(startNode(url)).rejects.toThrow(/--redis/)
    }
  })

  it('a write refused by the replica that applies it is refused to its writer, and changes nothing anywhere', async () => {
    key++
    const [a, b] = [await node(), await node()]
    const rev = a.keelson.tree.rev
    const res = await fetch(`${a.url}/signalk/v1/api/vessels/self/nothing`, { method: 'DELETE' })
    expect(res.status).toBe(404)
    const bad = await patch(b.url, 'vessels/self/x', JSON.parse('{"__proto__": 1}'))
    expect(bad.status).toBe(400)
    expect(a.keelson.tree.rev).toBe(rev)
    expect(b.keelson.tree.rev).toBe(rev)
  })
})
