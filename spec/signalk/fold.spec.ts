import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Client, type Running, start } from './support.js'

const PATHS = [
  'navigation.speedOverGround',
  'navigation.headingTrue',
  'environment.depth.belowKeel',
]
const SOURCES = ['gps.GP', 'log.VW']
const CONTEXTS = ['vessels.self', 'vessels.urn:mrn:imo:mmsi:230000001']

const write = fc.record({
  path: fc.constantFrom(...PATHS),
  source: fc.constantFrom(...SOURCES),
  context: fc.constantFrom(...CONTEXTS),
  value: fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.constant(null)),
})

let running: Running

beforeAll(async () => {
  running = await start()
})

afterAll(async () => {
  await running.close()
})

/** Latest value per context and path, as a Signal K client folds deltas. */
function fold(messages: any[]): Map<string, unknown> {
  const state = new Map<string, unknown>()
  for (const { context, path, value } of Client.values(messages))
    state.set(`${context} ${path}`, value)
  return state
}

describe('the delta stream', () => {
  it('folds, after cached values and any writes, to the tree values of every path', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(write, { maxLength: 30 }),
        fc.array(write, { maxLength: 30 }),
        async (before, after) => {
          for (const w of before) running.write(w.path, w.value, w.source, w.context)
          const client = await Client.open(running.port, 'subscribe=all')
          await client.next()
          for (const w of after) running.write(w.path, w.value, w.source, w.context)
          const folded = fold(await client.drain())
          client.close()
          const tree = running.keelson.tree
          const expected = new Map<string, unknown>()
          const vessels = tree.get({ segments: ['vessels'], starAt: -1 }) as Record<string, any>
          for (const id in vessels) {
            for (const path of PATHS) {
              const leaf = path.split('.').reduce((node, key) => node?.[key], vessels[id])
              if (leaf) expected.set(`vessels.${id} ${path}`, leaf.value ?? null)
            }
          }
          for (const key of folded.keys())
            if (!PATHS.some((p) => key.endsWith(` ${p}`))) folded.delete(key)
          expect(folded).toEqual(expected)
        },
      ),
      { numRuns: 40 },
    )
  })
})
