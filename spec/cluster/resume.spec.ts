/**
 * Resume across nodes (SPEC §4, §9): a client's Last-Event-ID from one node
 * resumes on another; a resume point no node can honour (trimmed from the
 * stream, before a late node's snapshot) gets a reset, never a gap. And the
 * security file shared by path: a token from one node is valid on the others.
 */
import { createServer, Socket as NetSocket, type Server, type Socket } from 'node:net'
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

  it("a node behind the client's id waits for it, then resumes with no reset; past resumeWaitMs it resets", async () => {
    // B reaches Redis through a proxy the test can hold: B falls behind A while it is held.
    const proxy = await holdingProxy(Number(new URL(redis.url).port))
    try {
      const a = await node('r3')
      const b = nodes[nodes.push(await startNode(proxy.url, { clusterKey: 'r3' })) - 1]!
      const first = await open(a.url)
      expect((await patch(a.url, 'vessels/self/n', { before: 1 })).status).toBe(200)
      await until(() => b.keelson.tree.rev === a.keelson.tree.rev)
      proxy.hold()
      for (let i = 0; i < 3; i++)
        expect((await patch(a.url, 'vessels/self/n', { [`a${i}`]: i })).status).toBe(200)
      await first.until(() => first.lastEventId === a.keelson.tree.eventId)
      first.close()
      expect(b.keelson.tree.rev).toBeLessThan(a.keelson.tree.rev)
      // The resume waits on B (no answer yet), and goes on once B applied the client's id.
      let answered = false
      const resuming = open(b.url, first.lastEventId).then((client) => {
        answered = true
        return client
      })
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(answered).toBe(false)
      proxy.release()
      const resumed = await resuming
      await resumed.until(() => resumed.events.length >= 1)
      expect(resumed.messages.map((m) => m.data)).not.toContain('null')
      expect(b.keelson.tree.rev).toBeGreaterThanOrEqual(a.keelson.tree.rev)
      // Nothing missed since the client's id: a keep-alive carrying it, and the fold is exact.
      expect(resumed.events[0]).toEqual({ event: 'keep-alive', id: first.lastEventId })
      expect(fold(first)).toEqual((await read(b.url, 'vessels/self/n')).body)

      // Held past the wait: the resume goes on without the id, and gets a reset then the snapshot.
      const c =
        nodes[nodes.push(await startNode(proxy.url, { clusterKey: 'r3', resumeWaitMs: 200 })) - 1]!
      await until(() => c.keelson.tree.rev === a.keelson.tree.rev)
      proxy.hold()
      expect((await patch(a.url, 'vessels/self/n', { late: 1 })).status).toBe(200)
      const t0 = performance.now()
      const reset = await open(c.url, a.keelson.tree.eventId)
      expect(performance.now() - t0).toBeGreaterThanOrEqual(190)
      await reset.until(() => reset.messages.length >= 2)
      expect(reset.messages[0]!.data).toBe('null')
      expect(JSON.parse(reset.messages[1]!.data!)).not.toHaveProperty('late')
      proxy.release()
      // A client that leaves while it waits leaves no wait behind.
      proxy.hold()
      expect((await patch(a.url, 'vessels/self/n', { gone: 1 })).status).toBe(200)
      const leaving = new AbortController()
      const left = fetch(`${b.url}/signalk/v1/api/vessels/self/n`, {
        headers: { Accept: 'text/event-stream', 'Last-Event-ID': a.keelson.tree.eventId },
        signal: leaving.signal,
      }).catch(() => undefined)
      await until(() => waitsOf(b) === 1)
      leaving.abort()
      await left
      await until(() => waitsOf(b) === 0)
      proxy.release()
    } finally {
      await proxy.close()
    }
  })
})

/** Requests of `node` waiting for a revision (src/core/revision-wait.ts). */
function waitsOf(node: Node): number {
  return (node.keelson.sse as unknown as { waits: { size: number } }).waits.size
}

/**
 * A TCP proxy to `port` that can hold what Redis sends its clients: while
 * held, the node behind it gets no new entries of the log (as a node whose
 * link is slow), and on release everything held flows on, in order.
 */
async function holdingProxy(port: number): Promise<{
  url: string
  hold(): void
  release(): void
  close(): Promise<void>
}> {
  const links = new Set<{ upstream: Socket; client: Socket; queue: Buffer[] }>()
  let held = false
  const server: Server = createServer((client) => {
    const upstream = new NetSocket()
    upstream.connect(port, '127.0.0.1')
    const link = { upstream, client, queue: [] as Buffer[] }
    links.add(link)
    client.on('data', (bytes: Buffer) => upstream.write(bytes))
    upstream.on('data', (bytes: Buffer) => {
      if (held) link.queue.push(bytes)
      else client.write(bytes)
    })
    const end = () => {
      client.destroy()
      upstream.destroy()
      links.delete(link)
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port: own } = server.address() as { port: number }
  return {
    url: `redis://127.0.0.1:${own}`,
    hold() {
      held = true
    },
    release() {
      held = false
      for (const link of links) for (const bytes of link.queue.splice(0)) link.client.write(bytes)
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const link of links) link.upstream.destroy()
        server.close(() => resolve())
      }),
  }
}
