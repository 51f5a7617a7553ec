/**
 * The invariant of SPEC §4 as a property (fast-check): random PATCH, PUT and
 * DELETE sequences on a small key space under and around several streams'
 * paths (leaf, subtree, root, wildcard, missing; some throttled). The oracle
 * is the server's own GET: after every write, each stream's path is read at
 * that write's revision; at every id a stream delivers (data or keep-alive),
 * its fold must equal the read recorded for that id.
 *
 * Without event ids (the telemetry stream) a fold cannot name its revision:
 * there every stream must end with the fold of its last read, and the fold
 * after each event must be one of the reads, in order (coalescing may skip
 * some, never go back or invent one). Paths a transport cannot stream on
 * (wildcards, the root) and minPeriod are left out when it lacks them.
 */

import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { expect, it } from 'vitest'
import type { Json } from '../../src/core/json.js'
import type { KeelsonOptions } from '../../src/options.js'
import { documentArb, patchArb } from '../support/arbitraries.js'
import type { ContractStream, TransportCapabilities } from './adapter.js'
import type { Harness } from './stream-contract.js'
import { dataOf, dataUntilFold, describeEvents, fold, resumePointAt } from './stream-reading.js'

type Write = { method: 'PATCH' | 'PUT' | 'DELETE'; path: string; body?: Json }

const STREAM_PATHS = ['', 'p', 'p/a', 'p/a/b', 'p/*', 'p/*/b', 'q/b', 'p/b/a/a'] as const

const writePathArb = fc
  .tuple(fc.constantFrom('p', 'p', 'q'), fc.array(fc.constantFrom('a', 'b'), { maxLength: 2 }))
  .map(([top, rest]) => [top, ...rest].join('/'))

const leafArb = fc.oneof(fc.integer({ min: -2, max: 2 }), fc.constantFrom('x', true, [1, null]))

const writeArb: fc.Arbitrary<Write> = fc.oneof(
  fc.record({
    method: fc.constant('PATCH' as const),
    path: writePathArb,
    body: fc.oneof({ weight: 4, arbitrary: patchArb }, leafArb, fc.constant(null)),
  }),
  fc.record({
    method: fc.constant('PUT' as const),
    path: writePathArb,
    body: fc.oneof({ weight: 3, arbitrary: documentArb }, leafArb),
  }),
  fc.record({ method: fc.constant('DELETE' as const), path: writePathArb }),
)

function streamsArb(can: TransportCapabilities) {
  const paths = STREAM_PATHS.filter(
    (p) => (can.wildcards || !p.includes('*')) && (can.root || p !== ''),
  )
  return fc.uniqueArray(
    fc.record({
      path: fc.constantFrom(...paths),
      minPeriod: can.minPeriod ? fc.constantFrom(undefined, 60) : fc.constant(undefined),
    }),
    { minLength: 2, maxLength: 4, selector: (s) => s.path },
  )
}

/** Registers the property test; `start` gives a fresh server each run. */
export function describeInvariantProperty(
  start: (options: Partial<KeelsonOptions>) => Promise<Harness>,
  can: TransportCapabilities,
): void {
  if (!can.eventIds) {
    describeWithoutIds(start, can)
    return
  }
  it('keeps every fold equal to a GET of its path at the revision of its last id, for random writes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(writeArb, { maxLength: 4 }),
        streamsArb(can),
        fc.array(writeArb, { minLength: 5, maxLength: 16 }),
        async (before, subscribers, writes) => {
          // Keep-alives every 40 ms move each idle stream's resume point to the last revision.
          const t = await start({ keepAliveMs: 40 })
          const paths = subscribers.map((s) => s.path)
          /** What a GET of each stream path returned, by the event id it was read at. */
          const reads = new Map<string, Json[]>()
          const record = async (id: string) => {
            reads.set(id, await Promise.all(paths.map(async (p) => (await t.get(p)).value)))
          }
          const apply = async (w: Write): Promise<string | undefined> => {
            const body = w.body === undefined ? undefined : JSON.stringify(w.body)
            const answer = await t.server.send(w.method, w.path, body, 'application/json')
            if (w.method === 'DELETE' && answer.status === 404) return undefined
            expect(answer.status, `${w.method} ${w.path} ${body}`).toBeLessThan(300)
            return answer.eventId
          }
          try {
            await check()
          } finally {
            await t.close()
          }
          async function check(): Promise<void> {
            for (const w of before) await apply(w)
            let current = (await t.get('')).eventId
            await record(current)
            const streams = await Promise.all(
              subscribers.map((s) => t.open(s.path, { minPeriod: s.minPeriod })),
            )
            for (const w of writes) {
              const id = await apply(w)
              if (id === undefined || id === current) continue
              current = id
              await record(id)
            }
            for (const [i, stream] of streams.entries()) {
              await resumePointAt(stream, current, 3000)
              const events = stream.events
              for (let n = 0; n < events.length; n++) {
                const id = events[n]!.id
                if (id === undefined) continue
                const read = reads.get(id)
                const where = `stream ${paths[i]} at ${id}: ${describeEvents(events.slice(0, n + 1))}`
                expect(read, `${where} names a revision of this run`).toBeDefined()
                expect(fold(events.slice(0, n + 1)), where).toEqual(read![i])
              }
            }
          }
        },
      ),
      { numRuns: 20 },
    )
  }, 30_000)
}

/** The property for a transport without event ids: each stream's folds are its path's reads, in order. */
function describeWithoutIds(
  start: (options: Partial<KeelsonOptions>) => Promise<Harness>,
  can: TransportCapabilities,
): void {
  it('keeps every fold equal to a GET of its path made between writes, in order, ending at the last, for random writes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(writeArb, { maxLength: 4 }),
        streamsArb(can),
        fc.array(writeArb, { minLength: 5, maxLength: 16 }),
        async (before, subscribers, writes) => {
          const t = await start({})
          const paths = subscribers.map((s) => s.path)
          /** What a GET of each stream path returned after each write (and before the first). */
          const reads: Json[][] = []
          const record = async () => {
            reads.push(await Promise.all(paths.map(async (p) => (await t.get(p)).value)))
          }
          const apply = async (w: Write): Promise<void> => {
            const body = w.body === undefined ? undefined : JSON.stringify(w.body)
            const answer = await t.server.send(w.method, w.path, body, 'application/json')
            if (w.method === 'DELETE' && answer.status === 404) return
            expect(answer.status, `${w.method} ${w.path} ${body}`).toBeLessThan(300)
          }
          try {
            for (const w of before) await apply(w)
            await record()
            const streams = await Promise.all(subscribers.map((s) => t.open(s.path)))
            for (const w of writes) {
              await apply(w)
              await record()
            }
            for (const [i, stream] of streams.entries()) {
              await dataUntilFold(stream, reads.at(-1)![i]!, 3000)
              checkInOrder(
                stream,
                reads.map((r) => r[i]!),
                `stream ${paths[i]}`,
              )
            }
          } finally {
            await t.close()
          }
        },
      ),
      { numRuns: 20 },
    )
  }, 60_000)
}

/** The fold after each data event of `stream` is one of `reads`, each at or after the one before. */
function checkInOrder(stream: ContractStream, reads: Json[], name: string): void {
  const events = dataOf(stream)
  let at = 0
  for (let n = 0; n < events.length; n++) {
    const folded = fold(events.slice(0, n + 1))
    while (at < reads.length && !isDeepStrictEqual(reads[at], folded)) at++
    const where = `${name} after ${n + 1} events: ${describeEvents(events.slice(0, n + 1))}`
    expect(at, `${where} is a read of this run, not before the previous event's`).toBeLessThan(
      reads.length,
    )
  }
}
