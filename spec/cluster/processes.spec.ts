/**
 * Cluster nodes as real `keelson --redis` processes (SPEC §9): an SSE client
 * on node B while writes go to node A; B is killed with SIGKILL mid-stream;
 * the client resumes on A with its last id and ends exact (SPEC §4).
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyMergePatch } from '../../src/client/merge-patch.js'
import {
  CLI_TIMEOUT_MS,
  type ListeningKeelson,
  runKeelson,
  startKeelson,
} from '../support/keelson-cli.js'
import { type RedisServer, startRedis } from '../support/redis.js'
import { SseClient } from '../support/sse-client.js'
import { type Node, patch, read, reopen, startNode, until } from './support.js'

let redis: RedisServer
let stateDir: string
const children: ChildProcess[] = []

beforeAll(async () => {
  redis = await startRedis()
  stateDir = mkdtempSync(join(tmpdir(), 'keelson-cluster-'))
})
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL')
  await redis.close()
  rmSync(stateDir, { recursive: true, force: true })
})

/** Starts `keelson --redis` on a free port; resolves with its URL once it listens (caught up). */
async function cliNode(url = redis.url): Promise<ListeningKeelson> {
  const node = await startKeelson(['--redis', url], { KEELSON_STATE_DIR: stateDir })
  children.push(node.child)
  return node
}

describe('keelson --redis processes', () => {
  it(
    'a node paused (SIGSTOP) while the log is trimmed past it reloads the snapshot: no gap, its streams reset',
    async () => {
      const own = await startRedis({ durable: false })
      let a: Node | undefined
      try {
        a = await startNode(own.url, { historySize: 5, clusterSnapshotMs: 100 })
        const b = await cliNode(own.url)
        const path = 'vessels/self/n'
        expect((await patch(a.url, path, { i: -1 })).status).toBe(200)
        await until(async () => (await read(b.url, path)).id === a!.keelson.tree.eventId)
        const sse = await SseClient.open(`${b.url}/signalk/v1/api/${path}`)
        await sse.until(() => sse.messages.length >= 1)
        const lastId = sse.lastEventId!
        b.child.kill('SIGSTOP')
        for (let i = 0; i < 40; i++) expect((await patch(a.url, path, { i })).status).toBe(200)
        // A stored a snapshot and trimmed the stream past where B stopped.
        const direct = new Redis(own.url)
        try {
          await until(async () => (await direct.xlen('keelson:log')) < 30, 10_000)
        } finally {
          direct.disconnect()
        }
        b.child.kill('SIGCONT')
        // B never applies entries across the gap: it reloads and serves exactly A's state.
        await until(async () => (await read(b.url, path)).id === a!.keelson.tree.eventId, 20_000)
        expect(await read(b.url)).toEqual(await read(a.url))
        // Its stream ended; resuming on B from before the gap gets a reset, then the snapshot.
        await sse.until(() => sse.closed, 10_000).catch(() => undefined)
        expect(sse.closed).toBe(true)
        const again = await reopen(`${b.url}/signalk/v1/api/${path}`, { 'Last-Event-ID': lastId })
        await again.until(() => again.messages.length >= 2, 10_000)
        expect(again.messages[0]!.data).toBe('null')
        expect(JSON.parse(again.messages[1]!.data!)).toEqual({ i: 39 })
        again.close()
        b.child.kill('SIGKILL')
      } finally {
        await a?.close()
        await own.close()
      }
    },
    3 * CLI_TIMEOUT_MS,
  )

  it(
    'refuses a --redis that is not a Redis URL, and --redis with --data-dir, with exit status 2',
    async () => {
      const bad = await runKeelson(['--port', '0', '--redis', 'localhost:6379'], {
        env: { KEELSON_STATE_DIR: stateDir },
      })
      expect(bad.code).toBe(2)
      expect(bad.stderr).toMatch(/--redis wants a redis:\/\/ or rediss:\/\/ URL/)
      const both = await runKeelson(['--redis', redis.url, '--data-dir', join(stateDir, 'data')], {
        env: { KEELSON_STATE_DIR: stateDir },
      })
      expect(both.code).toBe(2)
      expect(both.stderr).toMatch(/--redis and --data-dir cannot be combined/)
    },
    2 * CLI_TIMEOUT_MS,
  )

  it(
    'a client on B killed with SIGKILL resumes on A with its last id and ends exact',
    async () => {
      const [a, b] = [await cliNode(), await cliNode()]
      const path = 'vessels/self/navigation'
      const first = await SseClient.open(`${b.url}/signalk/v1/api/${path}`)
      let n = 0
      let writing = true
      const writer = (async () => {
        while (writing) {
          const res = await patch(a.url, path, { log: { value: n++ } })
          expect(res.status).toBe(200)
          await res.arrayBuffer()
        }
      })()
      await first.until(() => first.messages.length >= 20, 10_000)
      b.child.kill('SIGKILL')
      await first.until(() => first.closed, 5000).catch(() => undefined)
      const lastId = first.lastEventId!
      expect(lastId).toMatch(/^[0-9a-f]+\.\d+$/)
      // More writes while the client is away, then it resumes on A.
      await new Promise((resolve) => setTimeout(resolve, 200))
      const resumed = await SseClient.open(`${a.url}/signalk/v1/api/${path}`, {
        'Last-Event-ID': lastId,
      })
      await resumed.until(() => resumed.messages.length >= 3, 10_000)
      writing = false
      await writer
      const { id: finalId } = await read(a.url, path)
      await resumed.until(() => resumed.lastEventId === finalId, 10_000)
      // No reset: the id from B is one of A's.
      expect(resumed.messages.map((m) => m.data)).not.toContain('null')
      let doc: unknown = null
      for (const m of [...first.messages, ...resumed.messages]) {
        doc = applyMergePatch(doc, JSON.parse(m.data!))
      }
      expect(doc).toEqual((await read(a.url, path)).body)
      expect((doc as { log: { value: number } }).log.value).toBe(n - 1)
      resumed.close()
      // A node started now catches up and serves the same state and revision.
      const c = await cliNode()
      expect(await read(c.url, path)).toEqual(await read(a.url, path))
    },
    3 * CLI_TIMEOUT_MS,
  )
})
