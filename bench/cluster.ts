/**
 * Issue 13's cluster benches on one machine (127.0.0.1), each node a
 * `startClusterNode` process (bench/cluster-node.ts) on one redis-server:
 *
 * - (j) 3 nodes, N SSE clients spread over them, R changes/s written to one
 *   node: delivered/s on every node, write-to-delivery p99 against the same
 *   run on a single keelson without Redis, Redis CPU per change (INFO cpu);
 *   then a node killed with SIGKILL while writes go on: the time until each
 *   of its clients, resumed on another node with `Last-Event-ID`, has its
 *   catch-up, and whether every fold ends exact.
 * - (k) S idle SSE streams over 6 nodes (a process opens at most 20,000
 *   files here: the clients are spread over several load processes), one
 *   change written to one node: its delivery to every stream (p99 against
 *   the wall clock) and the nodes' RSS per stream.
 *
 * `npx tsx bench/cluster.ts [--quick] [--only j|k] [--k-streams N]` runs
 * alone and prints JSON; bench/run.ts runs them as scenarios j and k.
 */

import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { type RedisServer, startRedis } from '../spec/support/redis.js'
import { round } from './lib/histogram.js'
import { monoMs } from './lib/mono-clock.js'
import { sampleProc } from './lib/proc-stats.js'
import { type Child, startTsChild } from './lib/spawn.js'
import type { IdleWorkerConfig } from './load/idle-worker.js'
import type { Row } from './report.js'
import type { ClusterScaleScenario, ClusterScenario } from './scenarios.js'

const MB = 1024 * 1024
/** Every path the injector writes is under it: each change reaches every client. */
const STREAM_PATH = '/signalk/v1/api/vessels/self'
/** (k): connects started per second over all workers, as (g) paces them (no SYN-flood look). */
const K_CONNECT_RATE = 2500

/** Sizes of (j). */
export interface ClusterJSizes {
  nodes: number
  clients: number
  rate: number
  durationMs: number
  drainMs: number
  /** Clients on the node that is killed (the kill phase). */
  killClients: number
  killRate: number
}

/** Sizes of (k). */
export interface ClusterKSizes {
  nodes: number
  streams: number
  /** Longest wait for the one change to reach every stream, ms. */
  waitMs: number
  /** How long connecting may take: the change goes to the streams open by then, ms. */
  connectMs: number
}

export function clusterSizes(quick: boolean): { j: ClusterJSizes; k: ClusterKSizes } {
  return {
    j: {
      nodes: 3,
      clients: quick ? 300 : 1000,
      rate: quick ? 300 : 1000,
      durationMs: quick ? 2000 : 5000,
      drainMs: 5000,
      killClients: quick ? 100 : 333,
      killRate: quick ? 300 : 1000,
    },
    k: { nodes: 6, streams: quick ? 6000 : 100_000, waitMs: 10_000, connectMs: 180_000 },
  }
}

interface Node {
  child: Child
  port: number
}

async function startNodes(
  count: number,
  redis: RedisServer | undefined,
  key: string,
): Promise<Node[]> {
  const nodes: Node[] = []
  for (let i = 0; i < count; i++) {
    const args = redis === undefined ? [] : ['--redis', redis.url, '--key', key]
    if (i === 0) args.push('--seed')
    // --expose-gc: SIGUSR2 runs a full GC and answers its memory (bench/lib/gc-on-signal.ts).
    const child = startTsChild(`node ${i}`, 'cluster-node.ts', args, { nodeArgs: ['--expose-gc'] })
    const ready = await child.next('ready', 120_000)
    nodes.push({ child, port: Number(ready.port) })
  }
  return nodes
}

/** A node's memory after a full GC, bytes: what it holds, not garbage awaiting collection. */
async function memoryAfterGc(node: Node): Promise<{ rss: number; heap: number }> {
  node.child.proc.kill('SIGUSR2')
  const gc = await node.child.next('gc', 30_000)
  return { rss: gc.rss as number, heap: (gc.heapUsed as number) + (gc.external as number) }
}

async function stopAll(nodes: Node[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.child.stop(2000)))
}

/** Redis's own CPU time (INFO cpu), seconds. */
async function redisCpu(url: string): Promise<number> {
  const conn = new Redis(url)
  try {
    const info = await conn.info('cpu')
    const field = (name: string) =>
      Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN)
    return field('used_cpu_user') + field('used_cpu_sys')
  } finally {
    conn.disconnect()
  }
}

/** One (j) run on `nodes` (the first takes the writes); `redis` for Redis's CPU. */
async function fanOut(
  nodes: Node[],
  sizes: ClusterJSizes,
  redis?: RedisServer,
): Promise<Record<string, number>> {
  const load = startTsChild('cluster load', 'cluster-load.ts', [])
  try {
    load.send({
      type: 'run-j',
      ports: nodes.map((n) => n.port),
      writePort: nodes[0]!.port,
      clients: sizes.clients,
      rate: sizes.rate,
      durationMs: sizes.durationMs,
      drainMs: sizes.drainMs,
      path: STREAM_PATH,
    })
    const connected = await load.next('connected', 120_000)
    load.send({ type: 'go' })
    await load.next('started', 30_000)
    const s0 = nodes.map((n) => sampleProc(n.child.pid))
    const r0 = redis ? await redisCpu(redis.url) : 0
    await load.next('injected', sizes.durationMs + 30_000)
    const r1 = redis ? await redisCpu(redis.url) : 0
    const s1 = nodes.map((n) => sampleProc(n.child.pid))
    const result = await load.next('result', sizes.drainMs + 30_000)
    const latency = result.latency as { p50: number; p99: number; max: number }
    const perNode = result.perNodePerS as number[]
    const nodeCpu = nodes.map((_, i) =>
      s0[i] && s1[i]
        ? ((s1[i].cpu - s0[i].cpu) / ((s1[i].at - s0[i].at) / 1000)) * 100
        : Number.NaN,
    )
    const sent = result.sent as number
    const metrics: Record<string, number> = {
      nodes: nodes.length,
      clients: sizes.clients,
      connectFailures: connected.failures as number,
      sent,
      rejected: result.rejected as number,
      injectRate: result.injectRate as number,
      deliveredRatio: result.deliveredRatio as number,
      deliveredPerS: result.deliveredPerS as number,
      p50: latency.p50,
      p99: latency.p99,
      max: latency.max,
      loadCpu: result.loadCpu as number,
    }
    perNode.forEach((rate, i) => {
      metrics[`node${i}PerS`] = rate
      metrics[`node${i}Cpu`] = round(nodeCpu[i]!, 1)
    })
    if (redis) metrics.redisCpuUsPerChange = round(((r1 - r0) / sent) * 1e6, 2)
    for (const [i, node] of nodes.entries()) {
      node.child.send({ type: 'stats' })
      const stats = await node.child.next('stats', 10_000)
      metrics[`node${i}Rev`] = stats.rev as number
      metrics[`node${i}Streams`] = stats.streams as number
      const cluster = stats.cluster as Record<string, number> | undefined
      if (cluster)
        metrics[`node${i}Reloads`] = cluster.reloads! + cluster.seeds! - (i === 0 ? 1 : 0)
    }
    return metrics
  } finally {
    await load.stop(2000)
  }
}

/** The kill phase of (j): clients on the last node, which is killed while writes go to the first. */
async function killRun(nodes: Node[], sizes: ClusterJSizes): Promise<Record<string, number>> {
  const victim = nodes[nodes.length - 1]!
  const load = startTsChild('cluster kill load', 'cluster-load.ts', [])
  try {
    load.send({
      type: 'kill-open',
      port: victim.port,
      fallbackPort: nodes[0]!.port,
      clients: sizes.killClients,
      path: STREAM_PATH,
      writePort: nodes[0]!.port,
      rate: sizes.killRate,
      durationMs: 6000,
    })
    const opened = await load.next('opened', 120_000)
    await new Promise((resolve) => setTimeout(resolve, 1500))
    victim.child.proc.kill('SIGKILL')
    load.send({ type: 'killed', at: monoMs() })
    const result = await load.next('killed-result', 60_000)
    const time = result.timeToExact as { p50: number; p99: number; max: number }
    return {
      clients: result.clients as number,
      openFailures: opened.failures as number,
      reconnectFailures: result.reconnectFailures as number,
      resumed: result.resumed as number,
      resets: result.resets as number,
      exactAtEnd: result.exactAtEnd as number,
      timeToExactP50: time.p50,
      timeToExactP99: time.p99,
      timeToExactMax: time.max,
    }
  } finally {
    await load.stop(2000)
  }
}

/** (j): the cluster run, the kill, then the single-node baseline. */
export async function runClusterJ(
  sizes: ClusterJSizes,
): Promise<Record<string, Record<string, number>>> {
  const redis = await startRedis({ durable: false })
  const out: Record<string, Record<string, number>> = {}
  try {
    let nodes = await startNodes(sizes.nodes, redis, `j${Date.now()}`)
    try {
      out.cluster = await fanOut(nodes, sizes, redis)
      out.kill = await killRun(nodes, sizes)
    } finally {
      await stopAll(nodes)
    }
    nodes = await startNodes(1, undefined, 'single')
    try {
      out.single = await fanOut(nodes, sizes)
    } finally {
      await stopAll(nodes)
    }
    out.cluster!.p99VsSingle = round(out.cluster!.p99! / out.single!.p99!, 2)
    return out
  } finally {
    await redis.close()
  }
}

/**
 * (k): S idle streams over the nodes, one change written to node 0, its
 * delivery to all, RSS per stream. The streams are opened by (g)'s idle
 * workers (load/idle-worker.ts), one per node; the change carries its send time on the workers' clock
 * (CLOCK_MONOTONIC, lib/mono-clock.ts), and the quantiles are exact over
 * every stream.
 */
export async function runClusterK(sizes: ClusterKSizes): Promise<Record<string, number>> {
  const redis = await startRedis({ durable: false })
  const workers: Child[] = []
  let nodes: Node[] = []
  try {
    nodes = await startNodes(sizes.nodes, redis, `k${Date.now()}`)
    const before = await Promise.all(nodes.map(memoryAfterGc))
    const t0 = performance.now()
    nodes.forEach((node, i) => {
      const worker = startTsChild(`cluster k worker ${i}`, 'load/idle-worker.ts', [])
      workers.push(worker)
      const config: IdleWorkerConfig = {
        port: node.port,
        path: STREAM_PATH,
        clients:
          Math.floor(sizes.streams / nodes.length) + (i < sizes.streams % nodes.length ? 1 : 0),
        // No source address: each worker connects to its own node's port, so 127.0.0.1's
        // ports suffice (a port is unique per destination), and connect stays fast.
        rate: K_CONNECT_RATE / nodes.length,
        concurrency: 64,
        connectTimeoutMs: 20_000,
      }
      worker.send({ type: 'run', config })
    })
    const connected = await Promise.all(
      workers.map((w) => w.next('connected', sizes.connectMs + 60_000)),
    )
    const streams = connected.reduce((n, c) => n + (c.clients as number), 0)
    const failures = connected.reduce(
      (n, c) => n + Object.values(c.failures as Record<string, number>).reduce((a, b) => a + b, 0),
      0,
    )
    const connectS = (performance.now() - t0) / 1000
    const after = await Promise.all(nodes.map(memoryAfterGc))
    const since = monoMs()
    for (const w of workers) w.send({ type: 'arm', since, timeoutMs: sizes.waitMs })
    await Promise.all(workers.map((w) => w.next('armed', 10_000)))
    // BENCH_PROFILE=DIR: each node writes a CPU profile of the next 5 s (the fan-out) there.
    if (process.env.BENCH_PROFILE)
      for (const node of nodes)
        node.child.send({ type: 'profile', dir: process.env.BENCH_PROFILE, ms: 5000 })
    const res = await fetch(
      `http://127.0.0.1:${nodes[0]!.port}/signalk/v1/api/vessels/self/navigation`,
      {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ speedOverGround: { value: round(monoMs(), 3) } }),
      },
    )
    if (res.status !== 200) throw new Error(`the write was answered ${res.status}`)
    const delivered = await Promise.all(
      workers.map((w) => w.next('delivered', sizes.waitMs + 10_000)),
    )
    // Per node, so a node that lags the others (the writer's, one given less of a core) shows.
    const perNode = delivered.map((d) => (d.latencies as number[]).slice().sort((a, b) => a - b))
    const latencies = perNode.flat().sort((a, b) => a - b)
    console.error(
      `  (k) per node p50/p99/max ms: ${perNode
        .map((xs) => [0.5, 0.99, 1].map((q) => round(quantile(xs, q))).join('/'))
        .join(', ')}`,
    )
    const sum = (xs: number[]) => xs.reduce((total, x) => total + x, 0)
    const rssGrowth = sum(after.map((m, i) => m.rss - before[i]!.rss))
    const heapGrowth = sum(after.map((m, i) => m.heap - before[i]!.heap))
    return {
      nodes: nodes.length,
      asked: sizes.streams,
      streams,
      connectFailures: failures,
      connectS: round(connectS, 1),
      delivered: latencies.length,
      p50: round(quantile(latencies, 0.5)),
      p99: round(quantile(latencies, 0.99)),
      max: round(quantile(latencies, 1)),
      rssPerNodeMB: round(Math.max(...after.map((m) => m.rss)) / MB, 1),
      // RSS growth understates when the start-up's freed pages are reused; the total RSS over
      // the streams (node base included) bounds it from above, the heap growth from below.
      kibPerStream: round(rssGrowth / streams / 1024, 2),
      heapKibPerStream: round(heapGrowth / streams / 1024, 2),
      totalRssKibPerStream: round(sum(after.map((m) => m.rss)) / streams / 1024, 2),
    }
  } finally {
    // The nodes first: they close the streams, so the TIME_WAITs are on their side.
    await stopAll(nodes)
    await Promise.all(workers.map((w) => w.stop(2000)))
    await redis.close()
  }
}

/** The `q` quantile of sorted `xs` (nearest rank); NaN when empty. */
function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return Number.NaN
  return xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(q * xs.length) - 1))]!
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'k-streams': { type: 'string' },
    },
  })
  const sizes = clusterSizes(values.quick)
  if (values['k-streams']) sizes.k.streams = Number(values['k-streams'])
  const out: Record<string, unknown> = {}
  if (values.only !== 'k') out.j = await runClusterJ(sizes.j)
  if (values.only !== 'j') out.k = await runClusterK(sizes.k)
  console.log(JSON.stringify(out, null, 2))
  process.exit(0)
}

/** (j) in the suite (bench/run.ts): the cluster, the kill and the single node as rows. */
export async function clusterJRows(scenario: ClusterScenario): Promise<Row[]> {
  const base = {
    scenario: scenario.id,
    title: scenario.title,
    role: 'keelson' as const,
    transport: 'sse',
  }
  console.error(`(${scenario.id}) ${scenario.title}…`)
  try {
    const out = await runClusterJ(scenario.sizes)
    console.error(`  ${JSON.stringify(out)}`)
    return [
      {
        ...base,
        target: `keelson cluster (${scenario.sizes.nodes} nodes, Redis)`,
        metrics: out.cluster!,
      },
      {
        ...base,
        target: 'cluster: a node killed, its clients resume elsewhere',
        metrics: out.kill!,
      },
      { ...base, target: 'keelson single node (no Redis)', metrics: out.single! },
    ]
  } catch (error) {
    return [{ ...base, target: 'keelson cluster', error: (error as Error).message, metrics: {} }]
  }
}

/** (k) in the suite (bench/run.ts). */
export async function clusterKRows(scenario: ClusterScaleScenario): Promise<Row[]> {
  const base = {
    scenario: scenario.id,
    title: scenario.title,
    role: 'keelson' as const,
    transport: 'sse',
  }
  console.error(`(${scenario.id}) ${scenario.title}…`)
  try {
    const metrics = await runClusterK(scenario.sizes)
    console.error(`  ${JSON.stringify(metrics)}`)
    return [{ ...base, target: `keelson cluster (${scenario.sizes.nodes} nodes, Redis)`, metrics }]
  } catch (error) {
    return [{ ...base, target: 'keelson cluster', error: (error as Error).message, metrics: {} }]
  }
}
