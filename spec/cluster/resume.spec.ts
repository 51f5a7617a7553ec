/**
 * Resume across nodes (SPEC §4, §9): a client's Last-Event-ID from one node
 * resumes on another; a resume point no node can honour (trimmed from the
 * stream, before a late node's snapshot) gets a reset, never a gap. And the
 * security file shared by path: a token from one node is valid on the others.
 */
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { applyMergePatch } from '../../src/client/merge-patch.js'
import { type RedisServer, startRedis } from '../support/redis.js'
import { SseClient } from '../support/sse-client.js'
import { type Node, patch, read, startNode, until } from './support.js'

let redis: RedisServer
const nodes: Node[] = []
const clients: SseClient[] = []

beforeAll(async () => {
  redis = await startRedis({ durable: false })
})
afterAll(async () => {
  await redis.close()
})
afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await Promise.all(nodes.splice(0).map((n) => n.close()))
})

async function node(key: string, options: Parameters<typeof startNode>[1] = {}): Promise<Node> {
  const started = await startNode(redis.url, { clusterKey: key, ...options })
  nodes.push(started)
  return started
}

async function open(url: string, lastEventId?: string): Promise<SseClient> {
  const client = await SseClient.open(
    `${url}/signalk/v1/api/vessels/self/n`,
    lastEventId === undefined ? {} : { 'Last-Event-ID': lastEventId },
  )
  clients.push(client)
  return client
}

function fold(client: SseClient): unknown {
  let doc: unknown = null
  for (const m of client.messages) doc = applyMergePatch(doc, JSON.parse(m.data!))
  return doc
}

describe('resume on any node', () => {
  it('an id from node A resumes on node B with one catch-up patch, and the fold is exact', async () => {
    const [a, b] = [await node('r1'), await node('r1')]
    const first = await open(a.url)
    for (let i = 0; i < 5; i++)
      expect((await patch(a.url, 'vessels/self/n', { [`a${i}`]: i })).status).toBe(200)
    await first.until(() => first.lastEventId === a.keelson.tree.eventId)
    first.close()
    for (let i = 0; i < 5; i++)
      expect((await patch(b.url, 'vessels/self/n', { [`b${i}`]: i })).status).toBe(200)
    const resumed = await open(b.url, first.lastEventId)
    await resumed.until(() => resumed.messages.length >= 1)
    // One patch with what was missed: no reset (no `null`), and the invariant over both streams.
    expect(resumed.messages[0]!.data).not.toBe('null')
    expect(resumed.messages[0]!.id).toBe(b.keelson.tree.eventId)
    let doc = fold(first)
    doc = applyMergePatch(doc, JSON.parse(resumed.messages[0]!.data!))
    expect(doc).toEqual((await read(b.url, 'vessels/self/n')).body)
  })

  it('a resume point trimmed away gets a reset on the node that cannot honour it, then the snapshot', async () => {
    const a = await node('r2', { historySize: 5, clusterSnapshotMs: 100 })
    for (let i = 0; i < 30; i++)
      expect((await patch(a.url, 'vessels/self/n', { i })).status).toBe(200)
    const old = a.keelson.tree.idOf(3)
    // A snapshot was stored and the stream trimmed to the history window (5 changes), never past it.
    await until(() => a.cluster.stats.snapshots > 0)
    await until(async () => {
      const probe = await node('r2')
      const rev = probe.cluster.joined!.rev
      await probe.close()
      return rev === a.keelson.tree.rev
    })
    // Trimmed: fewer entries than writes, the floor recorded, and nothing after the snapshot gone.
    const direct = new Redis(redis.url)
    try {
      await until(async () => (await direct.xlen('r2:log')) < 30)
      const [id, floor] = await direct.hmget('r2:state', 'id', 'floor')
      expect(floor).not.toBe('0-0')
      const after = await direct.xrange('r2:log', `(${id}`, '+')
      const rev = Number(await direct.hget('r2:state', 'rev'))
      expect(after.length).toBe(a.keelson.tree.rev - rev)
    } finally {
      direct.disconnect()
    }
    const late = await node('r2')
    expect(late.keelson.tree.rev).toBe(a.keelson.tree.rev)
    for (const n of [a, late]) {
      const client = await open(n.url, old)
      await client.until(() => client.messages.length >= 2)
      expect(client.messages[0]!.data).toBe('null')
      expect(JSON.parse(client.messages[1]!.data!)).toEqual({ i: 29 })
      expect(client.messages[1]!.id).toBe(a.keelson.tree.eventId)
    }
    // The current id resumes on the late node with nothing to send: no reset.
    const current = await open(late.url, a.keelson.tree.eventId)
    await current.until(() => current.events.length >= 1)
    expect(current.messages.map((m) => m.data)).not.toContain('null')
  })
})
