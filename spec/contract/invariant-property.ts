/**
 * The invariant of SPEC §4 as a property (fast-check): random PATCH, PUT and
 * DELETE sequences on a small key space under and around several streams'
 * paths (leaf, subtree, root, wildcard, missing; some throttled). The oracle
 * is the server's own GET: after every write, each stream's path is read at
 * that write's revision; at every id a stream delivers (data or keep-alive),
 * its fold must equal the read recorded for that id.
 */
import fc from 'fast-check'
import { expect, it } from 'vitest'
import type { Json } from '../../src/core/json.js'
import type { KeelsonOptions } from '../../src/options.js'
import { documentArb, patchArb } from '../support/arbitraries.js'
import type { Harness } from './stream-contract.js'
import { describeEvents, fold, resumePointAt } from './stream-reading.js'

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

const streamsArb = fc.uniqueArray(
  fc.record({
    path: fc.constantFrom(...STREAM_PATHS),
    minPeriod: fc.constantFrom(undefined, 60),
  }),
  { minLength: 2, maxLength: 4, selector: (s) => s.path },
)

/** Registers the property test; `start` gives a fresh server each run. */
export function describeInvariantProperty(
  start: (options: Partial<KeelsonOptions>) => Promise<Harness>,
): void {
  it('keeps every fold equal to a GET of its path at the revision of its last id, for random writes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(writeArb, { maxLength: 4 }),
        streamsArb,
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
