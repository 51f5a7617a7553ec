/**
 * Cluster mode with security (SPEC §8, §9): nodes that open one security
 * file (shared by path: one secret) accept each other's tokens; a refused
 * write is refused on the node that took it and never reaches the log.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SecurityStore } from '../../src/security/store.js'
import type { SecurityFile } from '../../src/security/types.js'
import { type RedisServer, startRedis } from '../support/redis.js'
import { hashOf, PASSWORD } from '../support/secured.js'
import { type Node, read, startNode, until } from './support.js'

let redis: RedisServer
let dir: string
const nodes: Node[] = []
const stores: SecurityStore[] = []

beforeAll(async () => {
  redis = await startRedis({ durable: false })
  dir = await mkdtemp(join(tmpdir(), 'keelson-cluster-sec-'))
  const file = join(dir, 'security.json')
  const content: SecurityFile = {
    allowReadonly: true,
    expiration: '1d',
    secretKey: randomBytes(32).toString('hex'),
    users: [
      { username: 'skipper', type: 'readwrite', password: await hashOf(PASSWORD) },
      { username: 'guest', type: 'readonly', password: await hashOf(PASSWORD) },
    ],
    devices: [],
    acls: [],
  }
  await writeFile(file, JSON.stringify(content), { mode: 0o600 })
  for (let i = 0; i < 2; i++) {
    const store = await SecurityStore.open(file, pino({ level: 'silent' }))
    stores.push(store)
    nodes.push(await startNode(redis.url, { security: store, clusterKey: 'sec' }))
  }
})
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()))
  for (const store of stores) store.close()
  await redis.close()
  await rm(dir, { recursive: true, force: true })
})

async function login(url: string, username: string): Promise<string> {
  const res = await fetch(`${url}/signalk/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  })
  expect(res.status).toBe(200)
  return ((await res.json()) as { token: string }).token
}

function put(url: string, token: string | undefined, value: unknown): Promise<Response> {
  return fetch(`${url}/signalk/v1/api/vessels/self/notes`, {
    method: 'PUT',
    headers: {
      'Content-Type': 'application/json',
      ...(token !== undefined && { Authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(value),
  })
}

describe('a secured cluster', () => {
  it('a token from node A writes on node B; refusals stay on the node that took them', async () => {
    const [a, b] = nodes as [Node, Node]
    const skipper = await login(a.url, 'skipper')
    const res = await put(b.url, skipper, { text: 'from b' })
    expect(res.status).toBe(200)
    await until(() => a.keelson.tree.rev === b.keelson.tree.rev)
    expect((await read(a.url, 'vessels/self/notes')).body).toEqual({ text: 'from b' })
    const rev = a.keelson.tree.rev
    const guest = await login(b.url, 'guest')
    expect((await put(a.url, guest, { text: 'guest' })).status).toBe(403)
    expect((await put(a.url, undefined, { text: 'nobody' })).status).toBe(401)
    expect((await put(a.url, 'forged', { text: 'forged' })).status).toBe(401)
    // Nothing refused reached the log: the revision is the same on both nodes.
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(a.keelson.tree.rev).toBe(rev)
    expect(b.keelson.tree.rev).toBe(rev)
    expect(a.cluster.stats.appended + b.cluster.stats.appended).toBe(1)
  })
})
