/**
 * `npm run fuzz [-- --cases N] [--seed S]`: the fuzzing property of
 * spec/fuzz.spec.ts at scale — 10,000 cases by default (REST 60 %,
 * WebSocket 30 %, login and access-request bodies 10 %) against one real
 * secured keelson. Prints progress and a summary of the outcomes; exits 1
 * with the counterexample on the first violation (a 5xx, a crash, half a
 * write, a changed Object.prototype).
 */
import { parseArgs } from 'node:util'
import fc from 'fast-check'
import {
  checkPrototype,
  FuzzTarget,
  loginCaseArb,
  restCaseArb,
  runLoginCase,
  runRestCase,
  runWsCase,
  wsCaseArb,
} from '../spec/support/fuzz.js'

const { values } = parseArgs({
  options: { cases: { type: 'string', default: '10000' }, seed: { type: 'string' } },
})
const total = Number(values.cases)
const seed =
  values.seed === undefined ? Date.now() ^ (Math.random() * 0x7fffffff) : Number(values.seed)
const outcomes = new Map<string, number>()
const count = (label: string) => outcomes.set(label, (outcomes.get(label) ?? 0) + 1)

const started = Date.now()
let done = 0
let lastReport = started

function progress(force = false): void {
  const now = Date.now()
  if (!force && now - lastReport < 2000) return
  lastReport = now
  const rate = done / ((now - started) / 1000)
  process.stdout.write(`  ${done}/${total} cases, ${rate.toFixed(0)}/s\n`)
}

async function run<T>(
  name: string,
  arb: fc.Arbitrary<T>,
  runs: number,
  check: (c: T) => Promise<string | number>,
) {
  process.stdout.write(`${name}: ${runs} cases (seed ${seed})\n`)
  await fc.assert(
    fc.asyncProperty(arb, async (c) => {
      const outcome = await check(c)
      count(`${name} ${outcome}`)
      done++
      progress()
    }),
    { numRuns: runs, seed, endOnFailure: false },
  )
}

const target = await FuzzTarget.start()
let failed = false
try {
  const rest = Math.round(total * 0.6)
  const ws = Math.round(total * 0.3)
  await run('rest', restCaseArb, rest, (c) => runRestCase(target, c))
  await run('ws', wsCaseArb, ws, (c) => runWsCase(target, c))
  await run('login', loginCaseArb, total - rest - ws, (c) => runLoginCase(target, c))
  await target.healthy()
  checkPrototype()
} catch (err) {
  failed = true
  process.stdout.write(
    `\nFAILED after ${done} cases:\n${err instanceof Error ? `${err.message}\n${String(err.cause ?? '')}` : String(err)}\n`,
  )
} finally {
  await target.close()
}

progress(true)
const seconds = (Date.now() - started) / 1000
process.stdout.write(
  `\n${failed ? 'FAILED' : 'passed'}: ${done} cases in ${seconds.toFixed(1)} s, seed ${seed}\n`,
)
for (const [label, n] of [...outcomes].sort()) process.stdout.write(`  ${label.padEnd(24)} ${n}\n`)
process.exitCode = failed ? 1 : 0
