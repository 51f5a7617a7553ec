/**
 * The resources API against random requests (SPEC §1: no input crashes the
 * server or leaves a write half-applied): mutations of valid resources and
 * random JSON, POSTed, PUT and DELETEd over real HTTP, are answered 2xx or
 * 4xx (507 when the store is full), never another 5xx; afterwards the
 * store, the files on disk and the tree's copy hold the same resources,
 * each valid by the API's own checks, and no prototype was touched.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { checkResource } from '../../src/resources/schema.js'
import { type Running, startServer } from '../support/server.js'

const API = '/signalk/v2/api/resources'
const TYPES = ['waypoints', 'routes', 'regions', 'notes', 'charts'] as const
const IDS = [
  'ac3a3b2d-07e8-4f25-92bc-98e7c92f7f1a',
  'afe46290-aa98-4d2f-9c04-d199ca64942e',
  'chart-0001',
  'not-a-uuid',
  '..',
]

let server: Running | undefined
let dir: string | undefined

afterEach(async () => {
  await server?.close()
  server = undefined
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

const coord = fc.oneof(
  fc.double({ min: -200, max: 200, noNaN: true }),
  fc.constantFrom(180, -180, 90, -90, 0, '1' as unknown as number, null as unknown as number),
)
const point = fc.array(coord, { minLength: 0, maxLength: 3 })
const geometry = fc.oneof(
  fc.record({ type: fc.constant('Point'), coordinates: point }),
  fc.record({ type: fc.constant('LineString'), coordinates: fc.array(point, { maxLength: 4 }) }),
  fc.record({
    type: fc.constantFrom('Polygon', 'MultiPolygon'),
    coordinates: fc.array(fc.array(point, { maxLength: 6 }), { maxLength: 2 }),
  }),
  fc.jsonValue({ maxDepth: 3 }),
)
const resource = fc.oneof(
  fc.record(
    {
      name: fc.oneof(fc.string({ maxLength: 8 }), fc.integer()),
      feature: fc.record({ type: fc.constant('Feature'), geometry }, { requiredKeys: [] }),
      position: fc.record({ latitude: coord, longitude: coord }),
      href: fc.constantFrom('/resources/waypoints/ac3a3b2d-07e8-4f25-92bc-98e7c92f7f1a', 'x'),
      type: fc.constantFrom('tilelayer', 'WMS', 'other'),
      __proto__: fc.constant({ polluted: true }),
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue({ maxDepth: 4 }),
)

interface Step {
  method: 'POST' | 'PUT' | 'DELETE'
  type: (typeof TYPES)[number]
  id: string
  body: string
}

const stepArb: fc.Arbitrary<Step> = fc.record({
  method: fc.constantFrom('POST', 'PUT', 'DELETE'),
  type: fc.constantFrom(...TYPES),
  id: fc.constantFrom(...IDS),
  // JSON.stringify keeps an own "__proto__" key made by fc.record: the hostile spelling is sent.
  body: resource.map((r) => JSON.stringify(r)),
})

describe('resources API under random requests', () => {
  it('answers 2xx, 4xx or 507 and keeps store, files and tree equal', async () => {
    dir = await mkdtemp(join(tmpdir(), 'keelson-res-prop-'))
    server = await startServer({ persistDir: dir, maxResourcesPerType: 5 })
    const { url, keelson } = server
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 8 }), async (steps) => {
        for (const step of steps) {
          const path =
            step.method === 'POST' ? `${API}/${step.type}` : `${API}/${step.type}/${step.id}`
          const res = await fetch(`${url}${path}`, {
            method: step.method,
            headers: { 'Content-Type': 'application/json' },
            body: step.method === 'DELETE' ? undefined : step.body,
          })
          await res.arrayBuffer()
          // 507: the store is full (maxResourcesPerType 5 here); any other 5xx is a failure.
          if (res.status !== 507) {
            expect(res.status, `${step.method} ${path} ${step.body}`).toBeLessThan(500)
          }
        }
      }),
      { numRuns: 60 },
    )
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    const self = keelson.tree.selfKey
    let saved = 0
    for (const type of TYPES) {
      const listed = (await (await fetch(`${url}${API}/${type}`)).json()) as Record<string, any>
      const files = await readdir(join(dir, 'resources', type)).catch(() => [] as string[])
      expect(Object.keys(listed).sort()).toEqual(files.sort())
      saved += files.length
      const copies = keelson.tree.get({
        segments: ['vessels', self, 'resources', type],
        starAt: -1,
      })
      expect(Object.keys((copies ?? {}) as object).sort()).toEqual(files.sort())
      for (const id of files) {
        const kept = JSON.parse(await readFile(join(dir, 'resources', type, id), 'utf8'))
        expect(() => checkResource(type, kept)).not.toThrow()
        const { timestamp: _t, $source: _s, ...value } = listed[id]
        expect(value).toEqual(kept)
        expect((copies as any)[id].value).toEqual(kept)
      }
    }
    // Not vacuous: valid bodies were among the random ones.
    expect(saved).toBeGreaterThan(0)
  }, 120_000)
})
