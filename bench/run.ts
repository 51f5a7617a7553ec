/**
 * `npm run bench [-- --quick] [--only a,b] [--targets keelson-sse,ceiling]
 * [--profile] [--write]`: issue 5's fan-out suite. Each server runs in its
 * own process, restarted for every scenario; the load generator runs in
 * another. Prints markdown, writes bench/.out/latest.{md,json}, and on a
 * full run (or `--write`) bench/RESULTS.md and bench/results.json.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { clusterJRows, clusterKRows } from './cluster.js'
import { runIdleLimit } from './idle-limit.js'
import { runJournal } from './journal.js'
import { BENCH_DIR } from './lib/spawn.js'
import { machineLine, type Row, ratiosByScenario, toMarkdown, writeOutputs } from './report.js'
import { runIdle, runRest, runStream } from './runners.js'
import { picked, type Scenario, scenarios } from './scenarios.js'
import { runAcl, runLoginFlood } from './security.js'
import { runStorm } from './storm.js'
import { TARGETS, type Target } from './targets.js'
import { runTelemetry, runTelemetryIdle } from './telemetry.js'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    targets: { type: 'string' },
    profile: { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
  },
})
const only = values.only?.split(',').map((s) => s.trim())
const targetIds = values.targets?.split(',').map((s) => s.trim())
const outDir = join(BENCH_DIR, '.out')
mkdirSync(outDir, { recursive: true })
const cpuProf = values.profile ? join(outDir, 'prof') : undefined

const suite = scenarios(values.quick).filter((s) => picked(s.id, only))
const targets = TARGETS.filter((t) => !targetIds || targetIds.includes(t.id))
const rows: Row[] = []
const started = Date.now()
const loadAtStart = loadavg()[0]!
console.error(`keelson bench: ${machineLine()}${values.quick ? ' (quick)' : ''}`)

for (const scenario of suite) {
  if (scenario.kind === 'ingest') {
    rows.push(await runIngest(scenario))
    continue
  }
  // Issue 10's security scenarios run on keelson alone, each with its own security file.
  if (scenario.kind === 'acl') {
    rows.push(...(await runAcl(scenario, cpuProf)))
    continue
  }
  if (scenario.kind === 'login') {
    rows.push(...(await runLoginFlood(scenario, cpuProf)))
    continue
  }
  // Issue 11's fleet telemetry: its own servers (bench/telemetry-server.ts), keelson and a ceiling.
  if (scenario.kind === 'telemetry') {
    rows.push(...(await runTelemetry(scenario, cpuProf)))
    continue
  }
  if (scenario.kind === 'telemetry-idle') {
    rows.push(...(await runTelemetryIdle(scenario)))
    continue
  }
  // Issue 12's journal: its own server variants and in-process parts (bench/journal.ts).
  if (scenario.kind === 'journal') {
    rows.push(...(await runJournal(scenario, cpuProf)))
    continue
  }
  // Issue 13's cluster: its own nodes on a redis-server it starts (bench/cluster.ts).
  if (scenario.kind === 'cluster') {
    rows.push(...(await clusterJRows(scenario)))
    continue
  }
  if (scenario.kind === 'cluster-scale') {
    rows.push(...(await clusterKRows(scenario)))
    continue
  }
  for (const target of targets) {
    if (scenario.kind === 'rest' && !target.restPath) continue
    const base = {
      scenario: scenario.id,
      title: scenario.title,
      target: target.id,
      role: target.role,
      transport: scenario.kind === 'rest' ? 'http' : target.transport,
    }
    if ('targets' in scenario && !scenario.targets.includes(target.id)) {
      const why = scenario.kind === 'storm' ? scenario.skips[target.id] : undefined
      if (why) rows.push({ ...base, skipped: why, metrics: {} })
      continue
    }
    if (target.skip) {
      rows.push({ ...base, skipped: target.skip, metrics: {} })
      continue
    }
    console.error(`(${scenario.id}) ${scenario.title}: ${target.id}…`)
    try {
      const metrics = await measure(target, scenario)
      rows.push({ ...base, metrics })
      console.error(`  ${JSON.stringify(metrics)}`)
    } catch (error) {
      rows.push({ ...base, error: (error as Error).message, metrics: {} })
      console.error(`  error: ${(error as Error).message}`)
    }
  }
}

const kinds = new Map(suite.map((s) => [s.id, s.kind]))
const kindOf = (id: string) => kinds.get(id) ?? 'other'
const goalsOf = (id: string) => {
  const s = suite.find((x) => x.id === id)
  return s && 'goals' in s ? s.goals : []
}
const seconds = Math.round((Date.now() - started) / 1000)
const header = [
  `Machine: ${machineLine()}. Shared with other engineers' test runs, so figures are noisy.`,
  `Command: \`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\` (${seconds} s).`,
  `Load average (1 min) at start ${loadAtStart.toFixed(1)}, at end ${loadavg()[0]!.toFixed(1)}: above 2 means other processes shared the 2 cores.`,
  '',
].join('\n')
const markdown = header + toMarkdown(rows, kindOf, goalsOf)
const byScenario = ratiosByScenario(rows, kindOf)
const json = { machine: machineLine(), quick: values.quick, seconds, rows, ratios: byScenario }
console.log(markdown)
writeOutputs(markdown, json, values.write || (!values.quick && !only && !targetIds))

function measure(target: Target, scenario: Scenario): Promise<Record<string, number>> {
  switch (scenario.kind) {
    case 'stream':
      return runStream(target, scenario, cpuProf)
    case 'idle':
      return runIdle(target, scenario)
    case 'idle-limit':
      return runIdleLimit(target, scenario)
    case 'storm':
      return runStorm(target, scenario)
    case 'rest':
      return runRest(target, scenario, cpuProf)
    case 'ingest':
    case 'acl':
    case 'login':
    case 'telemetry':
    case 'telemetry-idle':
    case 'journal':
    case 'cluster':
    case 'cluster-scale':
      throw new Error(`${scenario.kind} runs once, not per server`)
  }
}

async function runIngest(scenario: Scenario): Promise<Row> {
  const base = {
    scenario: scenario.id,
    title: scenario.title,
    target: 'keelson',
    role: 'keelson' as const,
    transport: 'nmea0183',
  }
  // The slot for the ingest engineer: bench/ingest.ts exports benchIngest(options) → figures.
  if (!existsSync(join(BENCH_DIR, 'ingest.ts'))) {
    return { ...base, skipped: 'bench/ingest.ts (NMEA ingest bench) not written yet', metrics: {} }
  }
  try {
    const mod = (await import('./ingest.js' as string)) as {
      benchIngest?: (o: { quick: boolean; durationMs: number }) => Promise<Record<string, number>>
    }
    if (!mod.benchIngest)
      return { ...base, skipped: 'bench/ingest.ts exports no benchIngest()', metrics: {} }
    const durationMs = scenario.kind === 'ingest' ? scenario.durationMs : 5000
    return { ...base, metrics: await mod.benchIngest({ quick: values.quick, durationMs }) }
  } catch (error) {
    return { ...base, error: (error as Error).message, metrics: {} }
  }
}
