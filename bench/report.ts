/**
 * The bench's output: one row per scenario and server, ratios of keelson to
 * the peer and to the ceiling, as markdown and JSON. A full run rewrites the
 * generated part of bench/RESULTS.md and keeps the notes around it.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { BENCH_DIR } from './lib/spawn.js'
import type { Goal } from './scenarios.js'

/** One figure set: one scenario on one server. */
export interface Row {
  scenario: string
  title: string
  target: string
  role: 'keelson' | 'peer' | 'ceiling'
  transport: string
  skipped?: string
  error?: string
  metrics: Record<string, number>
}

/** The figures compared across servers, per scenario kind, with their labels. */
const COLUMNS: Record<string, [string, string][]> = {
  stream: [
    ['eventsPerSec', 'delivered/s'],
    ['deliveredRatio', 'delivered/expected'],
    ['worstClientRatio', 'worst client'],
    ['p50', 'p50 ms'],
    ['p99', 'p99 ms'],
    ['max', 'max ms'],
    ['serverCpu', 'server CPU %'],
    ['cpuUsPerEvent', 'CPU µs/event'],
    ['peakRssMB', 'peak RSS MB'],
    ['loadCpu', 'load-gen CPU %'],
    ['gcMinorMs', 'minor GC ms'],
    ['gcMinorMaxMs', 'longest minor GC ms'],
    ['gcMajorMaxMs', 'longest major GC ms'],
  ],
  idle: [
    ['clients', 'streams'],
    ['kibPerStream', 'KiB/stream'],
    ['rssBeforeMB', 'RSS before MB'],
    ['rssAfterMB', 'RSS after MB'],
    ['connectMs', 'connect ms'],
  ],
  'idle-limit': [
    ['clients', 'streams'],
    ['connectFailures', 'connect errors'],
    ['connectMs', 'connect ms'],
    ['listenOverflows', 'listen overflows'],
    ['syncookiesSent', 'SYN cookies'],
    ['serverFds', 'server fds'],
    ['kibPerStream', 'KiB/stream'],
    ['heapKibPerStream', 'heap KiB/stream'],
    ['rssBeforeMB', 'RSS before MB'],
    ['rssAfterMB', 'RSS after MB'],
    ['delivered', 'change delivered'],
    ['p50', 'p50 ms'],
    ['p99', 'p99 ms'],
    ['max', 'max ms'],
  ],
  storm: [
    ['clients', 'clients'],
    ['changesAway', 'changes away'],
    ['writesPerSec', 'writes/s'],
    ['allExactMs', 'all exact ms'],
    ['exactP50', 'exact p50 ms'],
    ['exactP99', 'exact p99 ms'],
    ['oneCatchUp', 'one catch-up patch'],
    ['resets', 'resets'],
    ['reconnectFailures', 'reconnect errors'],
    ['loopMaxMs', 'server loop stall max ms'],
    ['serverCpuS', 'server CPU s'],
    ['catchUpBytes', 'catch-up bytes'],
    ['listenOverflows', 'listen overflows'],
  ],
  acl: [
    ['clients', 'clients'],
    ['sent', 'changes'],
    ['rejected', 'writes refused'],
    ['owedPerSec', 'owed/s'],
    ['eventsPerSec', 'delivered/s'],
    ['deliveredRatio', 'delivered/owed'],
    ['worstClientRatio', 'worst client'],
    ['late', 'late'],
    ['lost', 'lost'],
    ['overClients', 'clients over'],
    ['unreadable', 'unreadable (scan)'],
    ['auditedPaths', 'audited paths'],
    ['auditUnreadable', 'unreadable (audit)'],
    ['foldsEqual', 'folds = GET'],
    ['p50', 'p50 ms'],
    ['p99', 'p99 ms'],
    ['serverCpu', 'server CPU %'],
    ['cpuUsPerChange', 'CPU µs/change'],
    ['cpuUsPerEvent', 'CPU µs/event'],
    ['peakRssMB', 'peak RSS MB'],
    ['loadCpu', 'load-gen CPU %'],
    ['keepUpVsOff', 'keep-up vs off'],
    ['deliveredVsOff', 'delivered/s vs off'],
    ['cpuPerEventVsOff', 'CPU/event vs off'],
  ],
  login: [
    ['attempts', 'attempts'],
    ['ok200', '200'],
    ['wrong401', '401'],
    ['limited429', '429'],
    ['other', 'other'],
    ['first429At', 'first 429 at #'],
    ['rightAccepted', 'right ones 200'],
    ['rightRefused', 'right ones 429'],
    ['retryAfterS', 'Retry-After s'],
    ['floodMs', 'flood ms'],
    ['checkedP99', '401 p99 ms'],
    ['limitedP99', '429 p99 ms'],
    ['loopP99', 'loop p99 ms'],
    ['loopMax', 'loop max ms'],
    ['idleLoopMax', 'idle loop max ms'],
    ['againLoopP99', 'all-429 flood: loop p99 ms'],
    ['againLoopMax', 'all-429 flood: loop max ms'],
    ['nextDoorLoopP99', 'scrypt next door: loop p99 ms'],
    ['nextDoorLoopMax', 'scrypt next door: loop max ms'],
    ['serverCpuS', 'server CPU s'],
    ['mainThreadCpuS', 'main thread CPU s'],
    ['mainThreadPreempted', 'main thread preempted'],
  ],
  telemetry: [
    ['streams', 'streams'],
    ['injected', 'updates'],
    ['expected', 'gps owed'],
    ['delivered', 'gps delivered'],
    ['missing', 'missing'],
    ['deliveredPerS', 'delivered/s'],
    ['vsCeiling', 'vs ceiling'],
    ['p50', 'p50 ms'],
    ['p99', 'p99 ms'],
    ['max', 'max ms'],
    ['serverCpu', 'server CPU %'],
    ['cpuUsPerMessage', 'CPU µs/gps'],
    ['peakRssMB', 'peak RSS MB'],
  ],
  'telemetry-idle': [
    ['clients', 'streams'],
    ['kibPerStream', 'KiB/stream'],
    ['heapKibPerStream', 'heap KiB/stream'],
    ['rssBeforeMB', 'RSS before MB'],
    ['rssAfterMB', 'RSS after MB'],
    ['connectMs', 'connect ms'],
  ],
  journal: [
    ['writesPerS', 'acked writes/s'],
    ['vsNoDataDir', 'vs no data dir'],
    ['p50', 'p50 ms'],
    ['p99', 'p99 ms'],
    ['errors', 'errors'],
    ['oneWriterPerS', '1 writer: writes/s'],
    ['oneWriterP99', '1 writer: p99 ms'],
    ['eventsPerSec', 'delivered/s'],
    ['cpuUsPerEvent', 'CPU µs/event'],
    ['vsOff', 'delivered/s vs off'],
    ['p99VsOff', 'p99 vs off'],
    ['journalMB', 'journal MB'],
    ['checkpointsMB', 'checkpoints MB'],
    ['records', 'records'],
    ['restartMs', 'start to listening ms'],
    ['noDataDirMs', 'same, no data dir ms'],
    ['journalCostMs', 'journal cost ms'],
    ['days', 'days'],
    ['mbPerDay', 'MB/day'],
    ['buildS', 'generated in s'],
    ['stateAtP50', 'stateAt p50 ms'],
    ['stateAtP99', 'stateAt p99 ms'],
    ['stateAtMax', 'stateAt max ms'],
    ['stateAtCpuP99', 'stateAt CPU p99 ms'],
    ['compactionMs', 'compaction ms'],
    ['loopMax', 'loop max ms'],
    ['loopP99', 'loop p99 ms'],
    ['quietLoopMax', 'no compaction: loop max ms'],
    ['quietLoopP99', 'no compaction: loop p99 ms'],
    ['writesDuring', 'writes during'],
  ],
  rest: [
    ['getRps', 'GET req/s'],
    ['getP99', 'GET p99 ms'],
    ['condRps', '304 req/s'],
    ['cond304', '304 answers'],
    ['condP99', '304 p99 ms'],
    ['serverCpu', 'server CPU %'],
  ],
}

/** The figure a ratio is taken on, per scenario kind. */
const HEADLINE: Record<string, string[]> = {
  stream: ['eventsPerSec', 'p99', 'cpuUsPerEvent'],
  idle: ['kibPerStream'],
  'idle-limit': ['kibPerStream', 'heapKibPerStream', 'p99'],
  rest: ['getRps', 'condRps'],
  telemetry: ['deliveredPerS', 'p99', 'cpuUsPerMessage'],
}

/** How a scenario kind measures, printed under its title so a table reads on its own. */
const METHOD: Record<string, string> = {
  journal:
    'writes: autocannon in the bench process, 64 connections PATCHing a changing value of the self vessel, then one ' +
    'connection (1 writer); a write counts once answered 200, i.e. once its record is fsynced in sync mode. ' +
    'fsync per write: the same sync journal with group commit off (an fdatasync per record instead of per event-loop turn). ' +
    '(b2): scenario b2 on the bench server without and with a sync data dir. restart: a journal generated in this process ' +
    '(a 10 MB tree, then demo-shaped patches), then the bench server started on it: spawn to listening, against a start ' +
    'with no data dir. time travel: a journal of demo-shaped patches (~1.7 KB) at the demo voyage’s measured rate (1.45 changes/s) ' +
    'generated with a clock of its own, then stateAt at random times within it. compaction: a tree of that size in this process, ' +
    'a checkpoint asked for while writes go on (200/s, async journal: a sync journal’s fdatasync on the loop would measure the disk); loop: monitorEventLoopDelay over the compaction, then over as long again with the same writes and no compaction.',
  'idle-limit':
    'Streams from several worker processes, each bound to its own 127.0.0.x, connects paced (rate and in-flight bounded). ' +
    'KiB/stream = (server RSS after the streams opened − before) ÷ streams, both after a full GC; heap KiB/stream the same of V8’s heapUsed ' +
    '(RSS also holds the free heap V8 keeps after a GC, so it moves with heap sizing). ' +
    'Then one PATCH carrying its send time (CLOCK_MONOTONIC, one clock for every process): p50/p99/max over every stream of ' +
    'its read time − send time. listen overflows, SYN cookies: the kernel dropped a connection on a full accept queue, or its SYN queue was full ' +
    '(what a SYN flood looks like; counted machine-wide over the connects); 0 is right.',
  acl:
    'Each row is a fresh server with a generated security file: security off (no users: everyone reads everything), ' +
    '4 classes (users nav, position, env, no-depth: all of navigation; navigation.position only; environment only; ' +
    'everything but environment.depth), and 4 classes whose ACLs differ but each read every written path. ' +
    'Clients take their class in turn and send its token as Bearer header, JAUTHENTICATION cookie or ?token= in turn; ' +
    'the injector PATCHes 8 paths in rotation as an admin (Bearer). owed/s: changes of the paths each client may read, ' +
    'summed over clients, per second of injection. delivered/s and delivered/owed count what arrived by the drain limit ' +
    '(5 s after the last change); late: owed events not in by then; lost: still not in 30 s later; clients over: clients ' +
    'that got more values than they were owed (a duplicate). keep-up vs off: (delivered/s ÷ owed/s) ÷ the same of the ' +
    'security-off row of its round; delivered/s vs off: raw; CPU/event vs off: server CPU µs per delivered event ÷ the ' +
    'same off (the cost of filtering, less sensitive to how much of a core the server got). unreadable (scan): hits of the leaf keys a class may not ' +
    'read in every read of every client (a read holding one counts 1); audit: 4 clients per class parse every event, check each leaf path against ' +
    'the class and compare their RFC 7396 fold with a GET made with the class token.',
  login:
    'One address (127.0.0.1), 50 attempts in flight; half the wrong ones name the admin, half a user that does not exist; ' +
    'the right password at attempts #50, #300, #600, #900 and #999. Only failed attempts count (a right one is refunded), ' +
    'and a refused one is not counted. loop p99/max: monitorEventLoopDelay (1 ms resolution) inside the server over the ' +
    'whole flood; idle loop max: the same over 2 s before it; all-429 flood: the same over 1,000 more attempts right after, ' +
    'all refused (no scrypt: the cost of answering requests alone); scrypt next door: the same, the server idle, while the ' +
    'bench process runs 100 scrypt hashes at keelson’s cost on its own libuv pool (what the machine alone does to the loop). ' +
    'main thread CPU s / preempted: the event-loop thread’s own CPU time over the flood and its involuntary context switches ' +
    '(/proc/<pid>/task/<pid>); server CPU s counts every thread, the pool’s scrypt work included.',
  telemetry:
    'Each server in its own process, this one the load generator: SSE streams connect to /sse/telemetry/connect, wait for stream_id, ' +
    'and subscribe 10 units each as the vendor guide does (GET the unit token, POST subscribe), stream i the 10 units ending in 7i mod 10, ' +
    'so each unit has streams ÷ 10 subscribers. Then the server itself writes positions (a Signal K delta per update) round-robin over ' +
    'the 100 units at the rate, each stamped with its send time. gps owed: updates × subscribers per unit; delivered/s: gps messages ' +
    'received ÷ (first update → last gps in, or the drain limit 5 s after the last update); p50/p99/max: arrival − the gps timestamp. ' +
    'CPU µs/gps: server CPU over that time ÷ gps delivered (each comes with its telemetry message). The ceiling is a bare node:http ' +
    'server keeping per unit its subscribed sockets and writing to each the gps and telemetry frames of an update, built once: the same ' +
    'number of messages, no tree, no tokens checked. vs ceiling: keelson delivered/s ÷ the ceiling’s, the same run.',
  'telemetry-idle':
    'Streams opened 500 at a time and held idle (a ping every 15 s). KiB/stream = (server RSS after − before) ÷ ' +
    'streams, both after a full GC; heap KiB/stream the same of V8’s heapUsed. The second row is the same count of plain SSE streams ' +
    'of the tree (/signalk/v1/api/vessels/self) on the same server build, for comparison.',
  storm:
    'Clients fold snapshot, catch-up and patches with RFC 7396 (the bench’s own code) and are checked against a GET. ' +
    'They disconnect, the writes land (PATCHes of the same path, as fast as answered), then all reconnect in one loop with Last-Event-ID. ' +
    'all exact ms: from the first reconnect to the last client whose state equals a GET taken after the writes. ' +
    'one catch-up patch: clients that got exactly one data event (no `data: null` reset) before being exact. ' +
    'server loop stall: longest event-loop delay inside the server during the burst (monitorEventLoopDelay); server CPU s: its CPU time over the burst. ' +
    'listen overflows: reconnects the kernel dropped on the full accept queue (backlog 511) while the loop stalled; each then waits for a TCP ' +
    'retransmit (after 1 s, then doubling), and those waits then dominate all exact ms.',
}

/** The machine line: cores, CPU model, node version, date. */
export function machineLine(): string {
  const model = cpus()[0]?.model ?? 'unknown CPU'
  return `${cpus().length} cores (${model}), node ${process.version}, ${new Date().toISOString()}`
}

/** Markdown tables of `rows`, one per scenario, then the ratios. */
export function toMarkdown(
  rows: Row[],
  kindOf: (scenario: string) => string,
  goalsOf: (scenario: string) => Goal[] = () => [],
): string {
  const out: string[] = []
  const scenarios = [...new Set(rows.map((r) => r.scenario))]
  for (const id of scenarios) {
    const group = rows.filter((r) => r.scenario === id)
    const kind = kindOf(id)
    out.push(`### (${id}) ${group[0]!.title}`, '')
    const method = METHOD[kind]
    if (method) out.push(method, '')
    const columns = COLUMNS[kind]
    if (!columns) {
      for (const r of group) {
        const figures = Object.entries(r.metrics).map(
          ([k, v]) => `${k} ${fmt(Math.round(v * 100) / 100)}`,
        )
        out.push(`- ${r.target}: ${note(r) ?? figures.join(', ')}`)
      }
      out.push('')
      continue
    }
    out.push(`| server | ${columns.map((c) => c[1]).join(' | ')} |`)
    out.push(`|---|${columns.map(() => '---:').join('|')}|`)
    for (const r of group) {
      const skipped = note(r)
      const cells = skipped
        ? [skipped, ...columns.slice(1).map(() => '')]
        : columns.map(([key]) => fmt(r.metrics[key]))
      out.push(`| ${r.target} (${r.transport}) | ${cells.join(' | ')} |`)
    }
    const ratios = ratioLines(group, HEADLINE[kind] ?? [])
    if (ratios.length > 0) out.push('', ...ratios)
    const goals = goalLines(group, goalsOf(id))
    if (goals.length > 0) out.push('', ...goals)
    out.push('')
  }
  return out.join('\n')
}

/** `keelson/peer` and `keelson/ceiling` of the headline figures, per scenario. */
export function ratiosByScenario(
  rows: Row[],
  kindOf: (scenario: string) => string,
): { scenario: string; ratios: Record<string, number> }[] {
  return [...new Set(rows.map((r) => r.scenario))].map((scenario) => ({
    scenario,
    ratios: ratios(
      rows.filter((r) => r.scenario === scenario),
      HEADLINE[kindOf(scenario)] ?? [],
    ),
  }))
}

/** `keelson/peer` and `keelson/ceiling` for the headline figures of one scenario. */
export function ratios(group: Row[], keys: string[]): Record<string, number> {
  const out: Record<string, number> = {}
  const ok = group.filter((r) => !r.skipped && !r.error)
  for (const k of ok.filter((r) => r.role === 'keelson')) {
    for (const other of ok.filter((r) => r.role !== 'keelson')) {
      for (const key of keys) {
        const a = k.metrics[key]
        const b = other.metrics[key]
        if (a !== undefined && b !== undefined && b !== 0) {
          out[`${k.target}/${other.target} ${key}`] = Math.round((a / b) * 100) / 100
        }
      }
    }
  }
  return out
}

function ratioLines(group: Row[], keys: string[]): string[] {
  return Object.entries(ratios(group, keys)).map(([name, value]) => `- ${name}: **${value}×**`)
}

/** Each goal against each keelson row: the figure and whether it is met. */
function goalLines(group: Row[], goals: Goal[]): string[] {
  const out: string[] = []
  for (const goal of goals) {
    const rows = group.filter(
      (x) =>
        x.role === 'keelson' &&
        !x.skipped &&
        !x.error &&
        (goal.target === undefined || x.target.includes(goal.target)),
    )
    for (const r of rows) {
      const x = r.metrics[goal.figure]
      const met =
        x !== undefined &&
        !Number.isNaN(x) &&
        (goal.max === undefined || x <= goal.max) &&
        (goal.min === undefined || x >= goal.min)
      out.push(`- goal ${goal.label}: ${r.target} ${fmt(x)} → **${met ? 'met' : 'not met'}**`)
    }
  }
  return out
}

function note(r: Row): string | undefined {
  if (r.skipped) return `skipped: ${r.skipped}`
  if (r.error) return `error: ${r.error}`
  return undefined
}

function fmt(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return '–'
  if (Number.isInteger(x) && Math.abs(x) >= 1000) return x.toLocaleString('en-US')
  return String(x)
}

const START = '<!-- bench:results:start -->'
const END = '<!-- bench:results:end -->'

/** Writes bench/.out/latest.{md,json}; with `intoResults`, also the generated part of RESULTS.md. */
export function writeOutputs(markdown: string, json: unknown, intoResults: boolean): void {
  writeFileSync(join(BENCH_DIR, '.out', 'latest.md'), markdown)
  writeFileSync(join(BENCH_DIR, '.out', 'latest.json'), `${JSON.stringify(json, null, 2)}\n`)
  if (!intoResults) return
  writeFileSync(join(BENCH_DIR, 'results.json'), `${JSON.stringify(json, null, 2)}\n`)
  const file = join(BENCH_DIR, 'RESULTS.md')
  const current = existsSync(file)
    ? readFileSync(file, 'utf8')
    : `# Benchmark results\n\n${START}\n${END}\n`
  const from = current.indexOf(START)
  const to = current.indexOf(END)
  const block = `${START}\n${markdown}\n${END}`
  const next =
    from >= 0 && to > from
      ? current.slice(0, from) + block + current.slice(to + END.length)
      : `${current}\n${block}\n`
  writeFileSync(file, next)
  // Biome formats markdown too (padded tables); keep `npm run lint` clean after every run.
  try {
    execFileSync(
      join(BENCH_DIR, '..', 'node_modules', '.bin', 'biome'),
      ['format', '--write', file],
      {
        stdio: 'ignore',
      },
    )
  } catch {
    console.error('could not format bench/RESULTS.md with biome; run `npm run format`')
  }
}
