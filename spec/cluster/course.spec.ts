/**
 * The v2 course API on a cluster (SPEC §9, §11) on a real Redis: the course
 * set through any node is every node's, and one node at a time, the holder
 * of a lease in Redis, writes the calculated values; when it goes away
 * (closed, or a `keelson --redis` process killed with SIGKILL) another
 * takes over within seconds.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { CLI_TIMEOUT_MS, startKeelson } from '../support/keelson-cli.js'
import { type RedisServer, startRedis } from '../support/redis.js'
import { call, type Node, patch, startNode, until } from './support.js'

const COURSE = '/signalk/v2/api/vessels/self/navigation/course'
const HOME = { latitude: 50.6, longitude: -1.5 }
const NORTH = { latitude: 50.7, longitude: -1.5 }
const FAR = { latitude: 50.8, longitude: -1.5 }

let redis: RedisServer
let direct: Redis
let stateDir: string
const nodes: Node[] = []
const children: ChildProcess[] = []
let key = 0

beforeAll(async () => {
  redis = await startRedis()
  direct = new Redis(redis.url)
  stateDir = mkdtempSync(join(tmpdir(), 'keelson-cluster-course-'))
})
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL')
  direct.disconnect()
  await redis.close()
  rmSync(stateDir, { recursive: true, force: true })
})
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()))
})

/** A node of the test's cluster (its own key prefix), calculating every 200 ms when it holds the lease. */
async function node(): Promise<Node> {
  const started = await startNode(redis.url, { clusterKey: `c${key}`, coursePeriodMs: 200 })
  nodes.push(started)
  return started
}

const course = async (url: string): Promise<any> => (await call(url, 'GET', COURSE)).body

/** The node ids of the entries of the log `clusterKey` since `sinceMs` that wrote calculated values. */
async function calcWriters(clusterKey: string, sinceMs: number): Promise<string[]> {
  const entries = (await direct.xrange(`${clusterKey}:log`, `${sinceMs}-0`, '+')) as [
    string,
    string[],
  ][]
  const out: string[] = []
  for (const [, fields] of entries) {
    const op = fields[fields.indexOf('op') + 1]!
    const from = fields[fields.indexOf('from') + 1]!
    if (op.includes('"$source":"course-provider"')) out.push(from.split(':')[0]!)
  }
  return out
}

function route(points: { latitude: number; longitude: number }[]): Record<string, unknown> {
  return {
    name: 'Out',
    feature: {
      type: 'Feature',
      geometry: { type: 'LineString', coordinates: points.map((p) => [p.longitude, p.latitude]) },
      properties: {},
    },
  }
}

describe('the course on a cluster', () => {
  it('a course set on A is seen on B, changed on B and C, cleared on C; a late node has it', async () => {
    key++
    const [a, b, c] = [await node(), await node(), await node()]
    expect(
      (await patch(a.url, 'vessels/self/navigation', { position: { value: HOME } })).status,
    ).toBe(200)
    expect((await call(a.url, 'PUT', `${COURSE}/destination`, { position: NORTH })).status).toBe(
      200,
    )
    const set = await course(a.url)
    expect(set.nextPoint).toEqual({ type: 'Location', position: NORTH, name: 'DP' })
    await until(async () => JSON.stringify(await course(b.url)) === JSON.stringify(set))

    expect((await call(b.url, 'PUT', `${COURSE}/arrivalCircle`, { value: 120 })).status).toBe(200)
    await until(async () => (await course(a.url)).arrivalCircle === 120)

    const saved = await call(
      a.url,
      'POST',
      '/signalk/v2/api/resources/routes',
      // No point within the arrival circle of the vessel: the route advances only when told.
      route([NORTH, FAR, NORTH]),
    )
    const href = `/resources/routes/${saved.body.id}`
    await until(async () => (await call(b.url, 'GET', `/signalk/v2/api${href}`)).status === 200)
    expect((await call(b.url, 'PUT', `${COURSE}/activeRoute`, { href })).status).toBe(200)
    await until(async () => (await course(c.url)).activeRoute?.href === href)
    expect((await call(c.url, 'PUT', `${COURSE}/activeRoute/nextPoint`)).status).toBe(200)
    for (const n of [a, b]) {
      await until(async () => (await course(n.url)).activeRoute.pointIndex === 1)
      expect((await course(n.url)).nextPoint.position).toEqual(FAR)
    }
    // The vessel reaches the point: the node that calculates moves the route on, once.
    await patch(c.url, 'vessels/self/navigation', { position: { value: FAR } })
    for (const n of [a, b, c]) {
      await until(async () => (await course(n.url)).activeRoute.pointIndex === 2)
    }
    await patch(c.url, 'vessels/self/navigation', { position: { value: HOME } })
    // Values of the route, from whichever node calculates, on every node.
    for (const n of [a, b, c]) {
      await until(async () => {
        const values = await call(n.url, 'GET', `${COURSE}/calcValues`)
        return values.status === 200 && typeof values.body.route?.distance === 'number'
      })
    }

    const late = await node()
    expect(await course(late.url)).toEqual(await course(a.url))

    expect((await call(c.url, 'DELETE', COURSE)).status).toBe(200)
    for (const n of [a, b, late]) {
      await until(async () => (await course(n.url)).nextPoint === null)
      expect((await course(n.url)).arrivalCircle).toBe(120)
      expect((await call(n.url, 'GET', `${COURSE}/calcValues`)).status).toBe(400)
    }
    // The clear emptied the values in the tree, and once settled nobody writes them again.
    const distance = (n: Node): { value?: number } | undefined =>
      n.keelson.tree.get({
        segments: [
          'vessels',
          n.keelson.tree.selfKey,
          'navigation',
          'course',
          'calcValues',
          'distance',
        ],
        starAt: -1,
      }) as { value?: number } | undefined
    await until(() => distance(a) !== undefined && distance(a)!.value === undefined)
    await new Promise((resolve) => setTimeout(resolve, 400))
    const since = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 600))
    expect(await calcWriters(`c${key}`, since)).toEqual([])
    // Values left in the tree with no course (one calculated as another node cleared it lands
    // after the clear in the log) are emptied by the node that calculates.
    const stale = { distance: { value: 1234, $source: 'course-provider' } }
    expect((await patch(b.url, 'vessels/self/navigation/course/calcValues', stale)).status).toBe(
      200,
    )
    await until(() => distance(a)?.value === 1234)
    await until(() => distance(a)?.value === undefined)

    // Junk written under navigation.course through the v1 API reads as no course, on every node.
    const junk = {
      nextPoint: { value: { type: 'Location', position: { latitude: 999 } }, $source: 'courseApi' },
      previousPoint: { value: 'x'.repeat(10_000), $source: 'courseApi' },
      activeRoute: { value: { href: 7 }, $source: 'courseApi' },
    }
    expect((await patch(b.url, 'vessels/self/navigation/course', junk)).status).toBe(200)
    for (const n of [a, b, c, late]) {
      await until(() => n.keelson.tree.rev === b.keelson.tree.rev)
      expect((await course(n.url)).nextPoint).toBe(null)
      expect((await call(n.url, 'GET', `${COURSE}/calcValues`)).status).toBe(400)
    }
    // And a course set over it is taken.
    expect((await call(c.url, 'PUT', `${COURSE}/destination`, { position: NORTH })).status).toBe(
      200,
    )
    await until(async () => (await course(a.url)).nextPoint?.position?.latitude === NORTH.latitude)
  })

  it('one node writes the calculated values, once a period; another takes over when it closes', async () => {
    key++
    const [a, b, c] = [await node(), await node(), await node()]
    await patch(a.url, 'vessels/self/navigation', { position: { value: HOME } })
    expect((await call(b.url, 'PUT', `${COURSE}/destination`, { position: NORTH })).status).toBe(
      200,
    )
    for (const n of [a, b, c]) {
      await until(async () => {
        const values = await call(n.url, 'GET', `${COURSE}/calcValues`)
        return typeof values.body.distance === 'number'
      })
    }
    const since = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const writers = await calcWriters(`c${key}`, since)
    // 2 s at one write per 200 ms: about 10, from one node (three nodes would make about 30).
    expect(new Set(writers).size).toBe(1)
    expect(writers.length).toBeGreaterThanOrEqual(5)
    expect(writers.length).toBeLessThanOrEqual(13)
    const holder = nodes.find((n) => n.cluster.nodeId === writers[0])!
    expect(await direct.get(`c${key}:course-lease`)).toBe(holder.cluster.nodeId)

    // Closed, it gives the lease up: another node calculates within a second or two.
    await holder.close()
    const after = Date.now()
    await until(async () => (await calcWriters(`c${key}`, after)).length >= 3, 5000)
    const next = new Set(await calcWriters(`c${key}`, after))
    expect(next.size).toBe(1)
    expect(next.has(holder.cluster.nodeId)).toBe(false)
  })

  it('a lease key without a time to live or of another type is taken; a live one of another is not', async () => {
    key++
    const lease = `c${key}:course-lease`
    // Written by hand, with no time to live: no node would ever hold it if it were respected.
    await direct.set(lease, 'left-by-hand')
    const a = await node()
    await patch(a.url, 'vessels/self/navigation', { position: { value: HOME } })
    expect((await call(a.url, 'PUT', `${COURSE}/destination`, { position: NORTH })).status).toBe(
      200,
    )
    await until(async () => (await direct.get(lease)) === a.cluster.nodeId)
    await until(async () => (await calcWriters(`c${key}`, 0)).length > 0)

    // Another holder's live lease: A stops within its own hold (under 3 s) and writes nothing.
    await direct.set(lease, 'another-node', 'PX', 60_000)
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const since = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 800))
    expect(await calcWriters(`c${key}`, since)).toEqual([])

    // A key of another type: taken over, and the values come again.
    await direct.del(lease)
    await direct.hset(lease, 'holder', 'x')
    await until(async () => (await direct.type(lease)) === 'string')
    expect(await direct.get(lease)).toBe(a.cluster.nodeId)
    const after = Date.now()
    await until(async () => (await calcWriters(`c${key}`, after)).length > 0)
  })

  it(
    'the holder killed with SIGKILL: another keelson process writes the values within seconds',
    async () => {
      const own = await startRedis({ durable: false })
      const watch = new Redis(own.url)
      try {
        const [a, b] = [await cliNode(own.url), await cliNode(own.url)]
        await patch(a.url, 'vessels/self/navigation', { position: { value: HOME } })
        expect(
          (await call(b.url, 'PUT', `${COURSE}/destination`, { position: NORTH })).status,
        ).toBe(200)
        await until(async () => (await watch.get('keelson:course-lease')) !== null, 10_000)
        const holderId = (await watch.get('keelson:course-lease'))!
        const [holder, other] = holderId === a.nodeId ? [a, b] : [b, a]
        expect(holder.nodeId).toBe(holderId)
        await until(
          async () =>
            typeof (await call(other.url, 'GET', `${COURSE}/calcValues`)).body.distance ===
            'number',
          10_000,
        )

        holder.child.kill('SIGKILL')
        const killed = Date.now()
        const writersSince = async (): Promise<string[]> => {
          const entries = (await watch.xrange('keelson:log', `${killed}-0`, '+')) as [
            string,
            string[],
          ][]
          return entries
            .filter(([, f]) => f[f.indexOf('op') + 1]!.includes('"$source":"course-provider"'))
            .map(([, f]) => f[f.indexOf('from') + 1]!.split(':')[0]!)
        }
        // The lease lapses after 3 s and the survivor asks every second.
        await until(async () => (await writersSince()).includes(other.nodeId), 10_000)
        expect(Date.now() - killed).toBeLessThan(10_000)
        expect(await watch.get('keelson:course-lease')).toBe(other.nodeId)
        expect(new Set(await writersSince())).toEqual(new Set([other.nodeId]))
        other.child.kill('SIGKILL')
      } finally {
        watch.disconnect()
        await own.close()
      }
    },
    3 * CLI_TIMEOUT_MS,
  )
})

/** Starts `keelson --redis` on a free port; resolves with its URL and cluster node id once it listens. */
async function cliNode(url: string): Promise<{ url: string; nodeId: string; child: ChildProcess }> {
  const node = await startKeelson(['--redis', url], { KEELSON_STATE_DIR: stateDir })
  children.push(node.child)
  if (node.nodeId === undefined) throw new Error('keelson logged no cluster node id')
  return { ...node, nodeId: node.nodeId }
}
