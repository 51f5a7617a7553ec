/**
 * Issue 10's security benchmarks, each on keelson alone with a generated
 * security file (bench/lib/security-file.ts) in a temporary directory:
 *
 * - (h) 1,000 SSE subscribers in four permission classes at 1,000
 *   changes/s (bench/load/acl-clients.ts), against the same clients and
 *   writes with security off (a security file with no users), in the same
 *   run and alternating rounds: off, four filtering classes, four classes
 *   that each read every written path.
 * - (login) a flood of login attempts from one address against the default
 *   limit (100 per 10 minutes), with the server's event-loop delay measured
 *   inside it (bench/lib/loop-delay.ts).
 */
import { randomBytes, scrypt } from 'node:crypto'
import { SCRYPT_PARAMS } from '../src/security/passwords.js'
import type { Acl } from '../src/security/types.js'
import { Histogram, round } from './lib/histogram.js'
import { cpuPercent, sampleMainThread, sampleProc } from './lib/proc-stats.js'
import { type BenchUser, writeBenchSecurityFile } from './lib/security-file.js'
import { type Child, startTsChild } from './lib/spawn.js'
import { ACL_PATHS, ALL_READABLE_ACL, CLASSES, FILTERING_ACL, WRITER } from './load/acl-classes.js'
import type { AclLoadClass, AclLoadConfig } from './load/acl-clients.js'
import type { Row } from './report.js'
import type { AclScenario, LoginScenario } from './scenarios.js'

const SELF = '/signalk/v1/api/vessels/self'
const MB = 1024 * 1024

interface Server {
  child: Child
  port: number
  stop(): Promise<void>
}

async function startSecured(
  users: BenchUser[],
  acls: Acl[],
  cpuProf?: string,
  env?: NodeJS.ProcessEnv,
): Promise<Server> {
  const security = await writeBenchSecurityFile(users, acls)
  const child = startTsChild('keelson', 'servers/keelson.ts', ['--security', security.file], {
    ...(env && { env }),
    nodeArgs: ['--expose-gc', ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] : [])],
  })
  try {
    const ready = await child.next('ready', 30_000)
    return {
      child,
      port: ready.port as number,
      stop: async () => {
        await child.stop()
        await security.remove()
      },
    }
  } catch (error) {
    await child.stop()
    await security.remove()
    throw error
  }
}

async function login(port: number, username: string, password: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/signalk/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
}

async function tokenOf(port: number, user: BenchUser): Promise<string> {
  const res = await login(port, user.username, user.password)
  if (res.status !== 200) throw new Error(`login of ${user.username}: ${res.status}`)
  return ((await res.json()) as { token: string }).token
}

/** The variants of (h), in the order each round runs them. */
const VARIANTS = [
  { id: 'security off', acls: undefined },
  { id: '4 classes', acls: FILTERING_ACL },
  { id: '4 classes, all readable', acls: ALL_READABLE_ACL },
] as const

/** Runs (h): every variant in each round; one row per variant and round. */
export async function runAcl(scenario: AclScenario, cpuProf?: string): Promise<Row[]> {
  const rows: Row[] = []
  for (let round_ = 1; round_ <= scenario.rounds; round_++) {
    const byVariant = new Map<string, Record<string, number>>()
    for (const variant of VARIANTS) {
      const target = `keelson, ${variant.id}${scenario.rounds > 1 ? ` #${round_}` : ''}`
      const base = {
        scenario: scenario.id,
        title: scenario.title,
        target,
        role: 'keelson' as const,
        transport: 'sse',
      }
      console.error(`(${scenario.id}) ${scenario.title}: ${target}…`)
      try {
        const metrics = await runAclOnce(scenario, variant.acls, cpuProf)
        byVariant.set(variant.id, metrics)
        const off = byVariant.get('security off')
        if (off && variant.acls) {
          // Both runs keep up when delivered/owed is 1: compare the share of what each owed.
          const keepUp = metrics.eventsPerSec! / metrics.owedPerSec!
          const offKeepUp = off.eventsPerSec! / off.owedPerSec!
          metrics.keepUpVsOff = round(keepUp / offKeepUp, 3)
          metrics.deliveredVsOff = round(metrics.eventsPerSec! / off.eventsPerSec!, 3)
          metrics.cpuPerChangeVsOff = round(metrics.cpuUsPerChange! / off.cpuUsPerChange!, 3)
          // Server CPU per delivered event: the cost of security, whatever share of a core it got.
          metrics.cpuPerEventVsOff = round(metrics.cpuUsPerEvent! / off.cpuUsPerEvent!, 3)
        }
        rows.push({ ...base, metrics })
        console.error(`  ${JSON.stringify(metrics)}`)
      } catch (error) {
        rows.push({ ...base, error: (error as Error).message, metrics: {} })
        console.error(`  error: ${(error as Error).message}`)
      }
    }
  }
  return rows
}

async function runAclOnce(
  scenario: AclScenario,
  acls: Acl[] | undefined,
  cpuProf?: string,
): Promise<Record<string, number>> {
  const password = () => randomBytes(12).toString('base64url')
  const writer: BenchUser = { ...WRITER, password: password() }
  const members: BenchUser[] = CLASSES.map((c) => ({
    username: c.username,
    type: 'readonly',
    password: password(),
  }))
  const server = await startSecured(acls ? [writer, ...members] : [], acls ?? [], cpuProf)
  const load = startTsChild('acl clients', 'load/acl-clients.ts', [])
  try {
    const classes: AclLoadClass[] = await Promise.all(
      members.map(async (m) => ({
        username: m.username,
        // BENCH_ACL_SELFTEST=1: the security-off clients check as if filtered, so the checks must fire.
        readsAll: acls === undefined ? !process.env.BENCH_ACL_SELFTEST : acls !== FILTERING_ACL,
        ...(acls && { token: await tokenOf(server.port, m) }),
      })),
    )
    const config: AclLoadConfig = {
      port: server.port,
      path: SELF,
      clients: scenario.clients,
      classes,
      auditorsPerClass: scenario.auditorsPerClass,
      rate: scenario.rate,
      durationMs: scenario.durationMs,
      drainMs: scenario.drainMs,
      inject: {
        kind: 'http-patch',
        port: server.port,
        path: SELF,
        paths: ACL_PATHS,
        ...(acls && { token: await tokenOf(server.port, writer) }),
      },
    }
    load.send({ type: 'run', config })
    const connected = await load.next('connected', 120_000)
    if ((connected.failures as number) > 0)
      console.error(`  connect failures: ${JSON.stringify(connected.failureReasons)}`)
    load.send({ type: 'go' })
    await load.next('started', 30_000)
    const s0 = sampleProc(server.child.pid)
    await load.next('injected', scenario.durationMs + 30_000)
    const s1 = sampleProc(server.child.pid)
    const r = await load.next('result', scenario.drainMs + 90_000)
    if (process.env.BENCH_DEBUG) console.error(`  result ${JSON.stringify(r)}`)
    const seen = r.unreadableSeen as string[]
    if (seen.length > 0) console.error(`  unreadable paths delivered: ${seen.join(', ')}`)
    const latency = r.latency as { p50: number; p99: number; max: number }
    const serverCpu = s0 && s1 ? round(cpuPercent(s0, s1), 1) : Number.NaN
    return {
      clients: r.clients as number,
      connectFailures: connected.failures as number,
      sent: r.sent as number,
      rejected: r.rejected as number,
      injectRate: r.injectRate as number,
      owedPerSec: r.owedPerSec as number,
      eventsPerSec: r.eventsPerSec as number,
      deliveredRatio: r.deliveredRatio as number,
      worstClientRatio: r.worstClientRatio as number,
      // Owed but not in by the drain limit (counted against delivered/s), then after 30 s more.
      late: (r.expected as number) - (r.deliveredInTime as number),
      lateClients: r.lateClients as number,
      lost: (r.expected as number) - (r.delivered as number),
      shortClients: r.shortClients as number,
      overClients: r.overClients as number,
      unreadable: r.unreadable as number,
      auditors: r.auditors as number,
      auditedPaths: r.auditedPaths as number,
      auditUnreadable: r.auditUnreadable as number,
      foldsEqual: r.foldsEqual as number,
      foldsUnequal: (r.auditors as number) - (r.foldsEqual as number),
      parseErrors: r.parseErrors as number,
      p50: latency.p50,
      p99: latency.p99,
      max: latency.max,
      serverCpu,
      cpuUsPerEvent: round((serverCpu / 100 / (r.eventsPerSec as number)) * 1e6, 3),
      cpuUsPerChange: round((serverCpu / 100 / (r.injectRate as number)) * 1e6, 1),
      peakRssMB: round((sampleProc(server.child.pid)?.peakRss ?? Number.NaN) / MB, 1),
      loadCpu: r.loadCpu as number,
    }
  } finally {
    await load.stop()
    await server.stop()
  }
}

/**
 * The server as it runs, then a diagnostic: the same server with a libuv
 * pool of one thread (`UV_THREADPOOL_SIZE=1`), so scrypt takes at most one
 * of the two cores and the event loop never waits for a core behind it.
 */
const FLOOD_VARIANTS = [
  { id: 'default limit', env: undefined },
  { id: 'default limit, UV_THREADPOOL_SIZE=1', env: { UV_THREADPOOL_SIZE: '1' } },
] as const

/** Runs the login flood; one row per variant. */
export async function runLoginFlood(scenario: LoginScenario, cpuProf?: string): Promise<Row[]> {
  const rows: Row[] = []
  for (const variant of FLOOD_VARIANTS) {
    const base = {
      scenario: scenario.id,
      title: scenario.title,
      target: `keelson, ${variant.id}`,
      role: 'keelson' as const,
      transport: 'http',
    }
    console.error(`(${scenario.id}) ${scenario.title}: ${base.target}…`)
    try {
      const metrics = await floodOnce(scenario, cpuProf, variant.env)
      console.error(`  ${JSON.stringify(metrics)}`)
      rows.push({ ...base, metrics })
    } catch (error) {
      console.error(`  error: ${(error as Error).message}`)
      rows.push({ ...base, error: (error as Error).message, metrics: {} })
    }
  }
  return rows
}

async function loopDelay(server: Server, ms: number | (() => Promise<void>)) {
  server.child.send({ type: 'loop-delay-start' })
  await server.child.next('loop-delay-started', 5000)
  if (typeof ms === 'number') await new Promise((r) => setTimeout(r, ms))
  else await ms()
  server.child.send({ type: 'loop-delay-read' })
  const d = await server.child.next('loop-delay', 30_000)
  return { p99: d.p99Ms as number, max: d.maxMs as number, mean: d.meanMs as number }
}

async function floodOnce(
  scenario: LoginScenario,
  cpuProf?: string,
  env?: NodeJS.ProcessEnv,
): Promise<Record<string, number>> {
  const alice: BenchUser = { username: 'alice', type: 'admin', password: 'right horse battery' }
  const server = await startSecured([alice], [], cpuProf, env)
  try {
    const idle = await loopDelay(server, 2000)
    // Control: the server idle while this process runs the same scrypt work on its own pool.
    // Lag here is the machine's (2 cores shared), not anything the server's loop does.
    const nextDoor = await loopDelay(server, () => scryptNextDoor(scenario.limit))
    const status = new Map<number, number>()
    // Status by attempt number (the order they were sent in; answers come back out of order).
    const order: number[] = new Array(scenario.attempts).fill(0)
    const rightAnswers: number[] = []
    const latency401 = new Histogram()
    const latency429 = new Histogram()
    let retryAfter = 0
    let next = 0
    const s0 = sampleProc(server.child.pid)
    const m0 = sampleMainThread(server.child.pid)
    const t0 = performance.now()
    const flood = async () => {
      const worker = async () => {
        while (next < scenario.attempts) {
          const i = next++
          const right = scenario.right.includes(i)
          // Half the wrong ones name alice, half a user who does not exist (the same cost, SPEC §8).
          const username = right || i % 2 === 0 ? 'alice' : 'mallory'
          const password = right ? alice.password : `guess-${i}`
          const sent = performance.now()
          const res = await login(server.port, username, password)
          await res.arrayBuffer()
          const took = performance.now() - sent
          status.set(res.status, (status.get(res.status) ?? 0) + 1)
          order[i] = res.status
          if (right) rightAnswers.push(res.status)
          if (res.status === 429) {
            latency429.record(took)
            retryAfter = Number(res.headers.get('retry-after'))
          } else latency401.record(took)
        }
      }
      await Promise.all(Array.from({ length: scenario.concurrency }, worker))
    }
    const during = await loopDelay(server, flood)
    const floodMs = performance.now() - t0
    const s1 = sampleProc(server.child.pid)
    const m1 = sampleMainThread(server.child.pid)
    // Control: as many attempts again, all refused (429, no scrypt): the loop's delay from
    // answering requests on this machine alone.
    let refusedAgain = 0
    const t1 = performance.now()
    const again = await loopDelay(server, async () => {
      let n = 0
      const worker = async () => {
        while (n++ < scenario.attempts) {
          const res = await login(server.port, 'mallory', 'guess')
          await res.arrayBuffer()
          if (res.status === 429) refusedAgain++
        }
      }
      await Promise.all(Array.from({ length: scenario.concurrency }, worker))
    })
    const againMs = performance.now() - t1
    const first429 = order.indexOf(429)
    const after = first429 < 0 ? [] : order.slice(first429)
    const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text()
    const refusedMetric = /^keelson_rate_limited_total\{limit="login"\}\s+(\d+)/m.exec(metrics)
    if (process.env.BENCH_DEBUG)
      console.error(
        metrics
          .split('\n')
          .filter((l) => /login|rate/i.test(l))
          .join('\n'),
      )
    return {
      attempts: order.length,
      ok200: status.get(200) ?? 0,
      wrong401: status.get(401) ?? 0,
      limited429: status.get(429) ?? 0,
      other:
        order.length - (status.get(200) ?? 0) - (status.get(401) ?? 0) - (status.get(429) ?? 0),
      first429At: first429,
      // Failed attempts the server checked (scrypt) past the limit, net of refunded right logins.
      overLimit:
        order.length -
        (status.get(429) ?? 0) -
        scenario.limit -
        rightAnswers.filter((x) => x === 200).length,
      after429Share:
        after.length === 0 ? 0 : round(after.filter((s) => s === 429).length / after.length, 4),
      rightAccepted: rightAnswers.filter((s) => s === 200).length,
      rightRefused: rightAnswers.filter((s) => s !== 200).length,
      retryAfterS: retryAfter,
      refusedMetric: refusedMetric ? Number(refusedMetric[1]) : Number.NaN,
      floodMs: round(floodMs),
      checkedP50: latency401.summary().p50,
      checkedP99: latency401.summary().p99,
      limitedP99: latency429.summary().p99,
      loopP99: round(during.p99),
      loopMax: round(during.max),
      loopMean: round(during.mean),
      idleLoopP99: round(idle.p99),
      idleLoopMax: round(idle.max),
      refusedAgain,
      againMs: round(againMs),
      againLoopP99: round(again.p99),
      againLoopMax: round(again.max),
      nextDoorLoopP99: round(nextDoor.p99),
      nextDoorLoopMax: round(nextDoor.max),
      serverCpu: s0 && s1 ? round(cpuPercent(s0, s1), 1) : Number.NaN,
      serverCpuS: s0 && s1 ? round(s1.cpu - s0.cpu, 2) : Number.NaN,
      mainThreadCpuS: m0 && m1 ? round(m1.cpu - m0.cpu, 2) : Number.NaN,
      mainThreadPreempted: m0 && m1 ? m1.involuntarySwitches - m0.involuntarySwitches : Number.NaN,
    }
  } finally {
    await server.stop()
  }
}

/** `count` scrypt hashes at keelson's cost (SCRYPT_PARAMS), all queued at once on this process's pool. */
async function scryptNextDoor(count: number): Promise<void> {
  const { N, r, p, hashBytes } = SCRYPT_PARAMS
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve, reject) =>
          scrypt('guess', randomBytes(16), hashBytes, { N, r, p, maxmem: 64 * MB }, (err) =>
            err ? reject(err) : resolve(),
          ),
        ),
    ),
  )
}
