/**
 * The kill -9 loop of SPEC §9 (spec/journal/crash.spec.ts runs it 20 times,
 * `npm run crash-test` 200 times): keelson runs with `--data-dir` in sync
 * mode while writers send PATCHes and an SSE client folds a stream; it is
 * killed with SIGKILL at a random moment and started again. After every
 * start:
 * - every acknowledged write is there (each writer's counter is at least
 *   the last value answered 200, and at most the last one sent);
 * - the revision never goes back (not below any id a stream carried);
 * - the SSE client resumes with its last id, gets a catch-up (no reset),
 *   and its fold equals a GET of the path at the same revision.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { applyMergePatch } from '../../src/client/merge-patch.js'
import { SseClient } from '../support/sse-client.js'
import { type CliProcess, startCli } from './cli-process.js'

const PATH = '/signalk/v1/api/vessels/self/crash'

/** Options of {@link crashLoop}. */
export interface CrashLoopOptions {
  /** The compiled CLI (./cli-process.ts). */
  cli: string
  dir: string
  kills: number
  writers?: number
  /** Writes run this long before the kill, ms: a random time in [min, max). */
  runMs?: [number, number]
  /** Extra flags. */
  args?: string[]
  /** Called after each verified restart. */
  onRound?: (round: number, stats: CrashStats) => void
}

/** What the loop saw. */
export interface CrashStats {
  rounds: number
  acknowledged: number
  /** Writes sent whose answer the kill cut off (they may or may not be there). */
  cutOff: number
  lastRev: number
  resumes: number
  /** Start-up times, ms (process spawn to listening). */
  startMs: number[]
}

export async function crashLoop(options: CrashLoopOptions): Promise<CrashStats> {
  const writers = options.writers ?? 4
  const [minRun, maxRun] = options.runMs ?? [100, 400]
  const acked = new Array<number>(writers).fill(0)
  const sent = new Array<number>(writers).fill(0)
  const stats: CrashStats = {
    rounds: 0,
    acknowledged: 0,
    cutOff: 0,
    lastRev: 0,
    resumes: 0,
    startMs: [],
  }
  let fold: unknown = null
  let lastId: string | undefined
  let maxRev = 0
  const args = ['--no-demo', '--data-dir', options.dir, ...(options.args ?? [])]
  for (let round = 0; round <= options.kills; round++) {
    const started = Date.now()
    const server = await startCli(options.cli, args)
    stats.startMs.push(Date.now() - started)
    try {
      const epoch = (
        JSON.parse(readFileSync(join(options.dir, 'meta.json'), 'utf8')) as { epoch: string }
      ).epoch
      const health = (await (await fetch(`${server.url}/healthz`)).json()) as { revision: number }
      if (health.revision < maxRev) {
        throw new Error(
          `round ${round}: the revision went back from ${maxRev} to ${health.revision}`,
        )
      }
      const body = await get(server)
      for (let i = 0; i < writers; i++) {
        const value = (body as Record<string, number> | undefined)?.[`w${i}`] ?? 0
        if (value < acked[i]! || value > sent[i]!) {
          throw new Error(
            `round ${round}: writer ${i} reads ${value}; acknowledged ${acked[i]}, sent ${sent[i]}`,
          )
        }
        // The write the kill cut off is there or not; either way the writer goes on from what is there.
        if (value > acked[i]!) stats.cutOff++
        acked[i] = value
        sent[i] = value
      }
      // Resume with the last id: a catch-up patch, never a reset, then exact against GET.
      const current = `${epoch}.${health.revision}`
      const sse = await SseClient.open(
        `${server.url}${PATH}`,
        lastId ? { 'Last-Event-ID': lastId } : {},
      )
      try {
        await sse.until(() => sse.lastEventId === current, 10_000)
        const messages = sse.messages
        if (lastId && messages.some((m) => m.data === 'null') && fold !== null) {
          throw new Error(`round ${round}: a resume from ${lastId} got a reset`)
        }
        for (const m of messages) fold = applyMergePatch(fold, JSON.parse(m.data!))
        if (JSON.stringify(sortKeys(fold)) !== JSON.stringify(sortKeys(body ?? null))) {
          throw new Error(
            `round ${round}: the resumed fold ${JSON.stringify(fold)} differs from GET ${JSON.stringify(body)}`,
          )
        }
        if (lastId) stats.resumes++
        lastId = current
        stats.rounds = round
        stats.lastRev = health.revision
        options.onRound?.(round, stats)
        if (round === options.kills) break

        // Writers and the stream until the kill.
        let seen = sse.events.length
        const follow = (): void => {
          for (; seen < sse.events.length; seen++) {
            const event = sse.events[seen]!
            if (event.data !== undefined && event.event === 'message') {
              fold = applyMergePatch(fold, JSON.parse(event.data))
            }
            if (event.id !== undefined) {
              lastId = event.id
              maxRev = Math.max(maxRev, Number(event.id.slice(event.id.lastIndexOf('.') + 1)))
            }
          }
        }
        const stop = { now: false }
        const loops = Array.from({ length: writers }, (_, i) =>
          write(server, i, sent, acked, stop, stats),
        )
        const runFor = minRun + Math.random() * (maxRun - minRun)
        const until = Date.now() + runFor
        while (Date.now() < until) {
          follow()
          await new Promise((resolve) => setTimeout(resolve, 5))
        }
        server.child.kill('SIGKILL')
        stop.now = true
        await server.exited
        // Frames that arrived before the socket closed count: the client saw them.
        await sse.until(() => sse.closed, 5000).catch(() => undefined)
        follow()
        await Promise.all(loops)
      } finally {
        sse.close()
      }
    } finally {
      await server.kill()
    }
  }
  return stats
}

async function get(server: CliProcess): Promise<unknown> {
  const res = await fetch(`${server.url}${PATH}`)
  if (res.status === 404) return undefined
  if (res.status !== 200) throw new Error(`GET ${PATH}: ${res.status}`)
  return res.json()
}

/** One writer: PATCH {"w<i>": n} for n = 1, 2, … one at a time, until the server dies. */
async function write(
  server: CliProcess,
  i: number,
  sent: number[],
  acked: number[],
  stop: { now: boolean },
  stats: CrashStats,
): Promise<void> {
  while (!stop.now) {
    const n = sent[i]! + 1
    sent[i] = n
    try {
      const res = await fetch(`${server.url}${PATH}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ [`w${i}`]: n }),
      })
      await res.arrayBuffer()
      if (res.status !== 200) throw new Error(`PATCH answered ${res.status}`)
      acked[i] = n
      stats.acknowledged++
    } catch {
      return
    }
  }
}

function sortKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value).sort())
    out[key] = sortKeys((value as Record<string, unknown>)[key])
  return out
}
