/**
 * The scenarios of issue 5, full size and `--quick` size. Every one is
 * bounded: a fixed injection time, a drain limit, a connect timeout.
 */
import { type ClusterJSizes, type ClusterKSizes, clusterSizes } from './cluster.js'
import { telemetrySizes } from './telemetry.js'

/** Fan-out under a steady change rate. */
export interface StreamScenario {
  kind: 'stream'
  id: string
  title: string
  clients: number
  rate: number
  /**
   * The same injection for this long before the measured one, not counted,
   * on every server alike: the measured window is the server's steady state,
   * not its first second, when a JIT-compiled server still runs cold code
   * (keelson's p99 of that second is 150–200 ms against the ceiling's ~80,
   * its p99 over the following seconds at or below the ceiling's).
   */
  warmupMs: number
  durationMs: number
  drainMs: number
}

/** Open streams doing nothing: server memory per connection. */
export interface IdleScenario {
  kind: 'idle'
  id: string
  title: string
  clients: number
}

/** REST GET and conditional GET with autocannon. */
export interface RestScenario {
  kind: 'rest'
  id: string
  title: string
  connections: number
  durationMs: number
}

/** The NMEA ingest path, measured by bench/ingest.ts when it exists. */
export interface IngestScenario {
  kind: 'ingest'
  id: string
  title: string
  durationMs: number
}

/**
 * (g) As many idle SSE streams as one server process can hold under this
 * machine's 20,000-file limit, opened by several worker processes from
 * several 127.0.0.x source addresses, then one change to all of them:
 * server RSS per stream and the change's delivery latency.
 */
export interface IdleLimitScenario {
  kind: 'idle-limit'
  id: string
  title: string
  clients: number
  /** Load-generator processes; worker i binds its sockets to `127.0.0.${2 + i}`. */
  workers: number
  /** Connects started per second, all workers together. */
  connectRate: number
  /** Connects in flight per worker, at most (all workers: well under the listen backlog, 511). */
  concurrency: number
  /** Longest wait for the change on every stream, ms. */
  deliveryTimeoutMs: number
  /** Servers it runs on. */
  targets: string[]
  goals: Goal[]
}

/**
 * (storm) N SSE clients on one path disconnect, `changes` writes land while
 * they are away, then all reconnect at once with their `Last-Event-ID`: the
 * time until every client holds exactly the server's state again.
 */
export interface StormScenario {
  kind: 'storm'
  id: string
  title: string
  clients: number
  /** Writes made while the clients are away (each one revision; the history holds 10,000). */
  changes: number
  /** PATCHes unanswered at a time while writing. */
  window: number
  /** Longest wait for every client to be exact again, ms. */
  exactTimeoutMs: number
  targets: string[]
  /** Servers shown as skipped, with why. */
  skips: Record<string, string>
  goals: Goal[]
}

/**
 * (h) SSE subscribers in permission classes (users with different ACLs over
 * the same paths) at a change rate, against the same clients and writes with
 * security off, in the same run (bench/security.ts).
 */
export interface AclScenario {
  kind: 'acl'
  id: string
  title: string
  clients: number
  rate: number
  durationMs: number
  drainMs: number
  /** Clients per class that parse every event and compare their fold with a GET. */
  auditorsPerClass: number
  /** Rounds of (security off, 4 classes, 4 classes all readable), alternating. */
  rounds: number
  goals: Goal[]
}

/** (login) A flood of login attempts from one address against the default limit. */
export interface LoginScenario {
  kind: 'login'
  id: string
  title: string
  attempts: number
  /** Attempts in flight at a time. */
  concurrency: number
  /** Attempt numbers that carry the right password. */
  right: number[]
  /** The server's limit (its default, SPEC §8), for the figures. */
  limit: number
  goals: Goal[]
}

/**
 * (i) Fleet telemetry (issue 11): SSE telemetry streams each subscribed to
 * `perStream` of 100 units, `rate` position updates/s spread over the units,
 * against the ceiling server writing the same pre-built frames, in the same
 * run (bench/telemetry.ts).
 */
export interface TelemetryScenario {
  kind: 'telemetry'
  id: string
  title: string
  streams: number
  perStream: number
  rate: number
  durationMs: number
  /** Longest wait for every `gps` message after the last update, ms. */
  drainMs: number
  goals: Goal[]
}

/** (i-idle) Idle fleet telemetry streams: server memory per stream (bench/telemetry.ts). */
export interface TelemetryIdleScenario {
  kind: 'telemetry-idle'
  id: string
  title: string
  clients: number
  goals: Goal[]
}

/**
 * A goal on one figure of keelson's rows, checked in the report: `figure` at
 * most `max` and at least `min`, on the rows whose name contains `target`
 * (every keelson row when absent).
 */
/** (j) The journal (SPEC §9, bench/journal.ts): writes, fan-out, restart, time travel, compaction. */
export interface JournalScenario {
  kind: 'journal'
  id: string
  title: string
  /** Each write load's length, ms. */
  writeMs: number
  fanOutClients: number
  fanOutMs: number
  /** The journal a restart reads, MB (beside a 10 MB tree). */
  restartJournalMB: number
  /** Days of journal at the demo voyage's rate for time travel. */
  days: number
  stateAtQueries: number
  compactionTreeMB: number
  goals: Goal[]
}

export interface Goal {
  figure: string
  max?: number
  min?: number
  target?: string
  label: string
}

/** Issue 13's cluster on Redis Streams, (j) of the issue: fan-out over 3 nodes, a node killed (bench/cluster.ts). */
export interface ClusterScenario {
  kind: 'cluster'
  id: string
  title: string
  sizes: ClusterJSizes
}

/** Issue 13's (k): many idle SSE streams over 6 nodes, one change to all (bench/cluster.ts). */
export interface ClusterScaleScenario {
  kind: 'cluster-scale'
  id: string
  title: string
  sizes: ClusterKSizes
}

export type Scenario =
  | ClusterScenario
  | ClusterScaleScenario
  | StreamScenario
  | IdleScenario
  | RestScenario
  | IngestScenario
  | IdleLimitScenario
  | StormScenario
  | AclScenario
  | LoginScenario
  | TelemetryScenario
  | TelemetryIdleScenario
  | JournalScenario

/** The suite; `quick` shrinks client counts and times for a smoke run. */
export function scenarios(quick: boolean): Scenario[] {
  const ms = quick ? 2000 : 8000
  const drainMs = quick ? 2000 : 5000
  const many = quick ? 1000 : 10_000
  const thousand = quick ? 200 : 1000
  const stream = (id: string, clients: number, rate: number, duration = ms): StreamScenario => ({
    kind: 'stream',
    id,
    title: `${clients} clients × ${rate} changes/s`,
    clients,
    rate,
    warmupMs: quick ? 500 : 2000,
    durationMs: duration,
    drainMs,
  })
  return [
    stream('a', 100, 1000),
    stream('b1', thousand, 100),
    stream('b2', thousand, 1000),
    stream('c', many, 10, quick ? 3000 : 10_000),
    { kind: 'idle', id: 'd', title: `${many} idle streams`, clients: many },
    {
      kind: 'rest',
      id: 'e',
      title: 'REST GET and conditional GET',
      connections: 50,
      durationMs: quick ? 2000 : 5000,
    },
    { kind: 'ingest', id: 'f', title: 'NMEA 0183 ingest', durationMs: quick ? 2000 : 5000 },
    idleLimit(quick ? 2000 : 19_000, quick ? 2 : 4),
    storm(quick ? 200 : 1000, quick ? 2000 : 10_000),
    acl(thousand, 1000, quick ? 3000 : 8000, drainMs, quick ? 1 : 3),
    login(),
    ...telemetry(quick),
    ...cluster(quick),
    journal(quick),
  ]
}

function journal(quick: boolean): JournalScenario {
  const clients = quick ? 200 : 1000
  const days = quick ? 1 : 7
  const treeMB = quick ? 10 : 50
  return {
    kind: 'journal',
    id: 'j',
    title: 'journal (--data-dir): acknowledged writes, fan-out, restart, time travel, compaction',
    writeMs: quick ? 2000 : 5000,
    fanOutClients: clients,
    fanOutMs: quick ? 2000 : 8000,
    restartJournalMB: quick ? 64 : 256,
    days,
    stateAtQueries: quick ? 200 : 1000,
    compactionTreeMB: treeMB,
    goals: [
      {
        figure: 'vsNoDataDir',
        min: 0.5,
        target: 'writes: --journal sync (group commit)',
        label: 'sync ≥ 50 % of no data dir',
      },
      {
        figure: 'vsOff',
        min: 0.9,
        target: `(b2) ${clients} clients × 1000 changes/s, journal sync`,
        label: '(b2) with the journal within 10 % of off',
      },
      {
        figure: 'stateAtP99',
        max: 50,
        target: `time travel: ${days} day(s) at the demo rate`,
        label: 'stateAt p99 ≤ 50 ms',
      },
      {
        figure: 'loopMax',
        max: 20,
        target: `compaction of a ${treeMB} MB tree`,
        label: 'no event-loop pause over 20 ms during compaction',
      },
    ],
  }
}

function cluster(quick: boolean): [ClusterScenario, ClusterScaleScenario] {
  const { j, k } = clusterSizes(quick)
  const n = (x: number) => x.toLocaleString('en-US')
  return [
    {
      kind: 'cluster',
      id: 'cluster-j',
      title: `cluster: ${j.nodes} nodes on one Redis, ${n(j.clients)} SSE clients, ${n(j.rate)} changes/s to one node`,
      sizes: j,
    },
    {
      kind: 'cluster-scale',
      id: 'cluster-k',
      title: `cluster: ${n(k.streams)} SSE streams over ${k.nodes} nodes, one change to all`,
      sizes: k,
    },
  ]
}

function telemetry(quick: boolean): [TelemetryScenario, TelemetryIdleScenario] {
  const t = telemetrySizes(quick)
  const n = (x: number) => x.toLocaleString('en-US')
  return [
    {
      kind: 'telemetry',
      id: 'i',
      title: `${n(t.streams)} telemetry streams × ${t.perStream} of ${t.units} units, ${t.rate} position updates/s`,
      streams: t.streams,
      perStream: t.perStream,
      rate: t.rate,
      durationMs: t.durationMs,
      drainMs: t.drainMs,
      goals: [
        { figure: 'missing', max: 0, target: 'telemetry', label: 'every gps delivered' },
        {
          figure: 'vsCeiling',
          min: 0.9,
          target: 'telemetry',
          label: 'delivered/s ≥ 90 % of the ceiling writing the same pre-built frames',
        },
      ],
    },
    {
      kind: 'telemetry-idle',
      id: 'i-idle',
      title: `${n(t.idleStreams)} idle telemetry streams`,
      clients: t.idleStreams,
      goals: [
        {
          figure: 'kibPerStream',
          max: 8,
          target: 'telemetry',
          label: '≤ 8 KiB server memory per stream',
        },
      ],
    },
  ]
}

function acl(
  clients: number,
  rate: number,
  durationMs: number,
  drainMs: number,
  rounds: number,
): AclScenario {
  return {
    kind: 'acl',
    id: 'h',
    title: `${clients.toLocaleString('en-US')} SSE clients in 4 permission classes × ${rate.toLocaleString('en-US')} changes/s, against security off`,
    clients,
    rate,
    durationMs,
    drainMs,
    auditorsPerClass: 4,
    rounds,
    goals: [
      {
        figure: 'keepUpVsOff',
        min: 0.9,
        target: '4 classes',
        label: 'delivered/s ≥ 90 % of security off (as a share of what each run owes)',
      },
      { figure: 'lost', max: 0, target: '4 classes', label: 'nothing lost' },
      {
        figure: 'shortClients',
        max: 0,
        target: '4 classes',
        label: 'every client got every change it may read',
      },
      { figure: 'overClients', max: 0, target: '4 classes', label: 'no client got a change twice' },
      {
        figure: 'foldsUnequal',
        max: 0,
        target: '4 classes',
        label: 'audited folds equal the filtered GET',
      },
      {
        figure: 'unreadable',
        max: 0,
        target: '4 classes',
        label: 'no unreadable leaf key in any client’s bytes',
      },
      {
        figure: 'auditUnreadable',
        max: 0,
        target: '4 classes',
        label: 'no unreadable path in any audited event',
      },
    ],
  }
}

function login(): LoginScenario {
  return {
    kind: 'login',
    id: 'login',
    title: 'login flood: 1,000 attempts from one address, default limit (100 per 10 minutes)',
    attempts: 1000,
    concurrency: 50,
    right: [50, 300, 600, 900, 999],
    limit: 100,
    goals: [
      // Counted, not by attempt number: 50 in flight reach the server slightly out of order.
      {
        figure: 'overLimit',
        max: 0,
        label: 'no more than the limit (100) of failed attempts checked; every other one 429',
      },
      {
        figure: 'loopP99',
        max: 50,
        target: 'default limit',
        label: 'server event-loop delay p99 < 50 ms',
      },
      {
        figure: 'loopMax',
        max: 50,
        target: 'default limit',
        label: 'server event-loop delay max < 50 ms',
      },
    ],
  }
}

function idleLimit(clients: number, workers: number): IdleLimitScenario {
  return {
    kind: 'idle-limit',
    id: 'g',
    title: `${clients.toLocaleString('en-US')} idle streams at the file limit, then one change`,
    clients,
    workers,
    connectRate: 2500,
    concurrency: 64,
    deliveryTimeoutMs: 30_000,
    targets: ['keelson-sse', 'ceiling'],
    goals: [
      { figure: 'kibPerStream', max: 6, label: '≤ 6 KiB per stream' },
      { figure: 'p99', max: 500, label: 'p99 ≤ 500 ms' },
    ],
  }
}

function storm(clients: number, changes: number): StormScenario {
  return {
    kind: 'storm',
    id: 'storm',
    title: `reconnect storm: ${clients.toLocaleString('en-US')} SSE clients resume after ${changes.toLocaleString('en-US')} changes`,
    clients,
    changes,
    window: 64,
    exactTimeoutMs: 120_000,
    targets: ['keelson-sse'],
    skips: { ceiling: 'no resume: it ignores Last-Event-ID' },
    goals: [],
  }
}

/**
 * Whether `id` is picked by an `--only` filter: a scenario's own id picks it
 * alone (`i` is not `i-idle`), any other filter every id it begins (`b`
 * picks b1 and b2).
 */
export function picked(id: string, only: string[] | undefined): boolean {
  if (!only) return true
  const ids = scenarios(true).map((s) => s.id)
  return only.some((o) => id === o || (!ids.includes(o) && id.startsWith(o)))
}
