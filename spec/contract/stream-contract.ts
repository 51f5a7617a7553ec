/**
 * The stream contract of SPEC §4, written once against
 * {@link StreamTransportAdapter} and run against every stream transport
 * (SSE, the fleet telemetry stream over SSE and WebSocket, SSE playback in
 * spec/timetravel/sse-playback.contract.spec.ts), as hono
 * runs one router suite against every router. Every test drives a real
 * server on port 0 through a real client; the adapter hides the wire format.
 *
 * The invariant behind most tests: folding, with RFC 7396, every `data`
 * received so far onto `null` gives what a GET of the path returns at the
 * revision of the last id received.
 *
 * A transport that lacks a capability ({@link TransportCapabilities}: event
 * ids, resume, minPeriod, wildcard or root paths, path checks on open) has
 * the tests of it skipped, with the reason in the test's name. Without event
 * ids, a write's event is found by the fold: the data events up to the first
 * whose fold equals a GET made after the write ({@link dataUntilFold}).
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Json } from '../../src/core/json.js'
import type { KeelsonOptions } from '../../src/options.js'
import {
  type ContractServer,
  type ContractStream,
  capabilitiesOf,
  type OpenOptions,
  StreamRefused,
  type StreamTransportAdapter,
  type TransportCapabilities,
} from './adapter.js'
import { describeInvariantProperty } from './invariant-property.js'
import {
  type DataEvent,
  dataOf,
  dataUntilFold,
  dataUpTo,
  fold,
  keepAlivesOf,
  lastIdOf,
  nData,
  resumePointAt,
  waitFor,
} from './stream-reading.js'

/** A started server with the writes and reads the tests use. */
export interface Harness {
  server: ContractServer
  /** Opens a stream, closed after the test. */
  open(path: string, options?: OpenOptions): Promise<ContractStream>
  /** A write that must succeed; returns the event id of the revision it left. */
  write(method: 'PATCH' | 'PUT' | 'DELETE', path: string, value?: Json): Promise<string>
  /** The value at `path` now (null when missing) and the current event id. */
  get(path: string): Promise<{ value: Json; eventId: string }>
  /**
   * The data events of `stream` (on `path`) up to the one the write that left
   * revision `id` caused: by its id, or without ids by the fold
   * ({@link dataUntilFold}).
   */
  upTo(stream: ContractStream, id: string, path: string, ms?: number): Promise<DataEvent[]>
  /** Closes the server before the test ends (afterEach closes the rest). */
  close(): Promise<void>
}

/** Why a test needs each capability, shown in the name of a skipped test. */
const NEEDS: Record<keyof TransportCapabilities, string> = {
  eventIds: 'no event ids',
  resume: 'no resume (Last-Event-ID)',
  minPeriod: 'no minPeriod',
  wildcards: 'no wildcard paths',
  root: 'no stream on the root',
  pathChecks: 'no path checked on open',
}

/** Registers the contract tests for `transport` under `name`. */
export function describeStreamContract(name: string, transport: StreamTransportAdapter): void {
  const can = capabilitiesOf(transport)
  /** `it` when the transport has every capability in `needs`, else `it.skip` naming the first it lacks. */
  const needing = (...needs: (keyof TransportCapabilities)[]) => {
    const lacking = needs.find((n) => !can[n])
    if (lacking === undefined) return it
    return (title: string, fn: () => Promise<void>, timeout?: number) =>
      it.skip(`${title} [skipped: ${name} has ${NEEDS[lacking]}]`, fn, timeout)
  }

  describe(`${name} stream contract (SPEC §4)`, () => {
    const servers: ContractServer[] = []
    const streams: ContractStream[] = []

    afterEach(async () => {
      for (const stream of streams.splice(0)) stream.close()
      for (const server of servers.splice(0)) await server.close()
    })

    async function start(options: Partial<KeelsonOptions> = {}): Promise<Harness> {
      const server = await transport.start(options)
      servers.push(server)
      return harness(server, streams, servers, can)
    }

    describe('snapshot', () => {
      it('opens with the subtree at the path as the first event, carrying the current id', async () => {
        const t = await start()
        await t.write('PATCH', 'v/nav', { sog: { value: 1 }, cog: 2, list: [1, null] })
        const stream = await t.open('v/nav')
        const [snapshot] = await nData(stream, 1)
        const now = await t.get('v/nav')
        expect(snapshot!.data).toEqual(now.value)
        if (can.eventIds) expect(snapshot!.id).toBe(now.eventId)
      })

      it('opens with null for a path that does not exist yet, stays open and receives it when it appears', async () => {
        const t = await start()
        await t.write('PATCH', 'v/other', 1)
        const stream = await t.open('v/env/depth')
        const [snapshot] = await nData(stream, 1)
        expect(snapshot!.data).toBeNull()
        if (can.eventIds) expect(snapshot!.id).toBe((await t.get('')).eventId)
        const id = await t.write('PATCH', 'v/env', { depth: { belowKeel: 4 } })
        const events = await t.upTo(stream, id, 'v/env/depth')
        expect(events).toHaveLength(2)
        expect(events[1]!.data).toEqual({ belowKeel: 4 })
        expect(stream.closed).toBe(false)
        expect(fold(events)).toEqual((await t.get('v/env/depth')).value)
      })
    })

    describe('scoped patches', () => {
      it('sends nothing for writes elsewhere and a patch relative to the path for writes inside it', async () => {
        const t = await start()
        await t.write('PATCH', 'v/nav', { sog: { value: 1 } })
        const stream = await t.open('v/nav')
        await nData(stream, 1)
        await t.write('PATCH', 'v/env', { depth: 1 })
        await t.write('PATCH', 'v', { name: 'Keel' })
        await t.write('PUT', 'v2/nav', { sog: 9 })
        const inside = await t.write('PATCH', 'v/nav/sog', { value: 2 })
        const events = await t.upTo(stream, inside, 'v/nav')
        expect(events).toHaveLength(2)
        expect(events[1]!.data).toEqual({ sog: { value: 2 } })
        const deleted = await t.write('DELETE', 'v/nav/sog')
        expect((await t.upTo(stream, deleted, 'v/nav')).at(-1)!.data).toEqual({ sog: null })
        const replaced = await t.write('PUT', 'v', { nav: { cog: 3 }, name: 'Keel' })
        const all = await t.upTo(stream, replaced, 'v/nav')
        expect(all).toHaveLength(4)
        expect(fold(all)).toEqual((await t.get('v/nav')).value)
      })

      needing('wildcards')(
        'scopes wildcard paths likewise: only the matching branches, rooted before the first *',
        async () => {
          const t = await start()
          const stream = await t.open('vessels/*/navigation')
          const [snapshot] = await nData(stream, 1)
          expect(snapshot!.data).toEqual((await t.get('vessels/*/navigation')).value)
          await t.write('PATCH', 'vessels/urn:a/name', 'A')
          const a = await t.write('PATCH', 'vessels/urn:a/navigation', { sog: 1 })
          const events = await t.upTo(stream, a, 'vessels/*/navigation')
          expect(events).toHaveLength(2)
          expect(events[1]!.data).toEqual({ 'urn:a': { navigation: { sog: 1 } } })
          await t.write('PATCH', 'vessels/urn:b/navigation/position', { latitude: 1 })
          await t.write('PATCH', 'vessels/urn:b/environment', { depth: 3 })
          const gone = await t.write('DELETE', 'vessels/urn:a/navigation')
          const all = await t.upTo(stream, gone, 'vessels/*/navigation')
          expect(all).toHaveLength(4)
          expect(all[3]!.data).toEqual({ 'urn:a': null })
          expect(fold(all)).toEqual((await t.get('vessels/*/navigation')).value)
        },
      )
    })

    describe('invariant', () => {
      describeInvariantProperty(start, can)
    })

    describe('throttle', () => {
      needing('minPeriod', 'eventIds')(
        'sends at most about one event per minPeriod in a burst of writes, and the fold stays exact',
        async () => {
          const period = 200
          const t = await start()
          const stream = await t.open('p', { minPeriod: period })
          const [snapshot] = await nData(stream, 1)
          const bodies: Json[] = [
            { b: { c: 1 } },
            { b: 5 },
            { b: { d: 2 } },
            { e: [1, null] },
            { b: null },
          ]
          const writes = 30
          let last = ''
          for (let i = 0; i < writes; i++) {
            last = await t.write('PATCH', 'p', i % 6 === 5 ? { n: i } : bodies[i % 6]!)
            await new Promise((resolve) => setTimeout(resolve, 20))
          }
          const events = await dataUpTo(stream, last, 3000)
          const patches = events.slice(1)
          const elapsed = patches.at(-1)!.at - snapshot!.at
          expect(patches.length).toBeGreaterThanOrEqual(2)
          expect(patches.length).toBeLessThanOrEqual(Math.floor(elapsed / period) + 1)
          // Arrival times carry the test process's own jitter (server and client share one loop):
          // a period may look shorter than it was, never as short as the 20 ms between writes.
          for (let i = 1; i < events.length; i++) {
            expect(events[i]!.at - events[i - 1]!.at).toBeGreaterThan(period / 2)
          }
          expect(fold(events)).toEqual((await t.get('p')).value)
        },
      )
    })

    describe('slow clients', () => {
      it('coalesces for a client that stops reading during large writes and ends exact when it reads again', async () => {
        const t = await start({ highWaterBytes: 64 * 1024, stallTimeoutMs: 20_000 })
        const stream = await t.open('big')
        await nData(stream, 1)
        stream.pause()
        const blob = 'x'.repeat(64 * 1024)
        // 10 MiB in all: more than the kernel buffers of a loopback connection hold unread
        // (about 4 MiB on Linux with default settings), so the server's side must coalesce.
        const writes = 160
        let last = ''
        for (let i = 0; i < writes; i++) last = await t.write('PUT', `big/k${i % 8}`, `${i}${blob}`)
        stream.resume()
        if (can.eventIds) await resumePointAt(stream, last, 10_000)
        else await t.upTo(stream, last, 'big', 10_000)
        expect(stream.closed).toBe(false)
        const events = dataOf(stream)
        expect(events.length - 1).toBeLessThan(writes)
        expect(fold(events)).toEqual((await t.get('big')).value)
      }, 30_000)
    })

    describe('resume', () => {
      needing('resume', 'eventIds')(
        'sends exactly one catch-up event for missed writes, whose fold onto the earlier state is exact',
        async () => {
          const t = await start()
          await t.write('PATCH', 'r', { x: 1 })
          const first = await t.open('r')
          await nData(first, 1)
          const seen = await dataUpTo(first, await t.write('PATCH', 'r', { x: 2, y: { z: 1 } }))
          const resumeFrom = lastIdOf(first.events)!
          first.close()
          await t.write('PATCH', 'r', { x: 3, y: { z: null, w: [1] } })
          await t.write('PATCH', 'elsewhere', 1)
          await t.write('PUT', 'r/y', 5)
          await t.write('DELETE', 'r/x')
          await t.write('PATCH', 'elsewhere', 2)
          const missed = await t.get('r')
          const resumed = await t.open('r', { lastEventId: resumeFrom })
          const after = await t.write('PATCH', 'r', { after: true })
          const events = await dataUpTo(resumed, after)
          expect(events).toHaveLength(2)
          const [catchUp, next] = events as [DataEvent, DataEvent]
          expect(catchUp.data).not.toBeNull()
          expect(catchUp.id).toBeDefined()
          expect(fold([catchUp], fold(seen))).toEqual(missed.value)
          expect(next.data).toEqual({ after: true })
          expect(fold(events, fold(seen))).toEqual((await t.get('r')).value)
        },
      )

      needing('resume', 'eventIds')(
        'sends no data event on resume when nothing touched the path, at most keep-alives',
        async () => {
          const t = await start()
          await t.write('PATCH', 'r', { x: 1 })
          const first = await t.open('r')
          const seen = await nData(first, 1)
          const resumeFrom = lastIdOf(first.events)!
          first.close()
          const elsewhere = await t.write('PATCH', 'elsewhere', 1)
          const resumed = await t.open('r', { lastEventId: resumeFrom })
          const after = await t.write('PATCH', 'r', { x: 2 })
          const events = await dataUpTo(resumed, after)
          expect(events).toHaveLength(1)
          expect(events[0]!.data).toEqual({ x: 2 })
          const before = resumed.events.slice(0, resumed.events.indexOf(events[0]!))
          for (const e of before) {
            expect(e.kind).toBe('keep-alive')
            expect([undefined, resumeFrom, elsewhere]).toContain(e.id)
          }
          expect(fold(events, fold(seen))).toEqual((await t.get('r')).value)
        },
      )
    })

    describe('reset', () => {
      /** Eight writes on a server keeping five: revisions 1..8, resumable from 3 on. */
      async function withHistory(): Promise<{ t: Harness; ids: string[] }> {
        const t = await start({ historySize: 5 })
        const ids: string[] = []
        for (let i = 0; i < 8; i++) ids.push(await t.write('PATCH', 'r', { n: i, [`k${i}`]: i }))
        return { t, ids }
      }

      const cases: [string, (ids: string[]) => Promise<string>][] = [
        ['an unknown id', async () => 'not-an-event-id'],
        [
          'an id of another epoch',
          async () => {
            // A real id of another server, at a revision this one could still resume from.
            const other = await start({ historySize: 5 })
            let id = ''
            for (let i = 0; i < 6; i++) id = await other.write('PATCH', 'r', { n: i })
            return id
          },
        ],
        ['an id older than the retained history', async (ids) => ids[0]!],
      ]

      const each = can.resume && can.eventIds ? it.each(cases) : it.skip.each(cases)
      const title = 'resets with a null event and then the snapshot for %s'
      const skipped = can.resume ? NEEDS.eventIds : NEEDS.resume
      each(
        can.resume && can.eventIds ? title : `${title} [skipped: ${name} has ${skipped}]`,
        async (_, idFor) => {
          const { t, ids } = await withHistory()
          const resumeFrom = await idFor(ids)
          const stream = await t.open('r', { lastEventId: resumeFrom })
          const [reset, snapshot] = await nData(stream, 2)
          const now = await t.get('r')
          expect(reset!.data).toBeNull()
          expect(reset!.id).not.toBe(now.eventId)
          expect(snapshot!.data).toEqual(now.value)
          expect(snapshot!.id).toBe(now.eventId)
          const after = await t.write('PATCH', 'r', { n: 'after' })
          expect(fold(await dataUpTo(stream, after))).toEqual((await t.get('r')).value)
        },
      )
    })

    describe('keep-alive', () => {
      needing('minPeriod', 'eventIds')(
        'never moves the resume point to the id of a patch held back by minPeriod',
        async () => {
          const t = await start({ keepAliveMs: 100 })
          const stream = await t.open('h', { minPeriod: 10_000 })
          const [snapshot] = await nData(stream, 1)
          const held = await t.write('PATCH', 'h', { x: 1 })
          const from = stream.events.length
          await waitFor(stream, () => keepAlivesOf(stream, from).length >= 3, '3 keep-alives', 3000)
          for (const keepAlive of keepAlivesOf(stream, from)) {
            expect(keepAlive.id, `a keep-alive while ${held} is held`).not.toBe(held)
            expect([undefined, snapshot!.id]).toContain(keepAlive.id)
          }
          expect(dataOf(stream)).toHaveLength(1)
        },
      )

      needing('minPeriod', 'eventIds')('carries the current id when nothing is held', async () => {
        const t = await start({ keepAliveMs: 100 })
        const stream = await t.open('h', { minPeriod: 50 })
        await nData(stream, 1)
        const inside = await t.write('PATCH', 'h', { x: 1 })
        await dataUpTo(stream, inside, 3000)
        const elsewhere = await t.write('PATCH', 'elsewhere', 1)
        const from = stream.events.length
        await waitFor(
          stream,
          () => keepAlivesOf(stream, from).some((e) => e.id === elsewhere),
          `a keep-alive with id ${elsewhere}`,
          3000,
        )
        expect(dataOf(stream)).toHaveLength(2)
        expect(fold(stream.events)).toEqual((await t.get('h')).value)
      })
    })

    describe('limits', () => {
      needing('pathChecks')(
        'refuses a path deeper than the depth limit with 400 problem+json and opens no stream',
        async () => {
          const t = await start()
          const deepest = await t.open(Array(64).fill('d').join('/'))
          expect((await nData(deepest, 1))[0]!.data).toBeNull()
          const refused = await t.open(Array(65).fill('d').join('/')).then(
            (stream) => stream,
            (err: unknown) => err,
          )
          expect(refused).toBeInstanceOf(StreamRefused)
          const { status, contentType, body } = refused as StreamRefused
          expect(status).toBe(400)
          expect(contentType).toMatch(/^application\/problem\+json/)
          expect(JSON.parse(body)).toMatchObject({ status: 400, code: expect.any(String) })
          expect(await t.server.openStreams()).toBe(1)
        },
      )

      it('keeps a stream usable after another client sends refused writes', async () => {
        const t = await start()
        const stream = await t.open('u')
        await nData(stream, 1)
        const deep = JSON.stringify(Array.from({ length: 70 }).reduce<Json>((v) => ({ d: v }), 1))
        const refusals: [string, string, string, number][] = [
          ['PATCH', '{"a":', 'application/json', 400],
          ['PUT', '{"a":{"__proto__":{"polluted":1}}}', 'application/json', 400],
          ['PUT', 'null', 'application/json', 400],
          ['PATCH', '{"a":1}', 'text/plain', 415],
          ['PATCH', deep, 'application/merge-patch+json', 400],
        ]
        for (const [method, body, type, status] of refusals) {
          const answer = await t.server.send(method, 'u', body, type)
          expect(answer.status, `${method} ${body.slice(0, 30)} as ${type}`).toBe(status)
          expect(answer.contentType).toMatch(/^application\/problem\+json/)
        }
        const ok = await t.write('PATCH', 'u', { ok: 1 })
        const events = await t.upTo(stream, ok, 'u')
        expect(events).toHaveLength(2)
        expect(events[1]!.data).toEqual({ ok: 1 })
        expect(fold(events)).toEqual((await t.get('u')).value)
      })
    })
  })
}

function harness(
  server: ContractServer,
  streams: ContractStream[],
  servers: ContractServer[],
  can: TransportCapabilities,
): Harness {
  return {
    server,
    async close() {
      const at = servers.indexOf(server)
      if (at < 0) return
      servers.splice(at, 1)
      await server.close()
    },
    async open(path, options) {
      const stream = await server.open(path, options)
      streams.push(stream)
      return stream
    },
    async write(method, path, value) {
      const body = value === undefined ? undefined : JSON.stringify(value)
      const type = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json'
      const answer = await server.send(method, path, body, type)
      if (answer.status >= 300 || answer.eventId === undefined) {
        expect.fail(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`)
      }
      return answer.eventId
    },
    async get(path) {
      const answer = await server.get(path)
      expect([200, 404]).toContain(answer.status)
      const root = answer.eventId === undefined ? await server.get('') : answer
      return { value: answer.status === 404 ? null : answer.body, eventId: root.eventId! }
    },
    async upTo(stream, id, path, ms) {
      if (can.eventIds) return dataUpTo(stream, id, ms)
      return dataUntilFold(stream, (await this.get(path)).value, ms)
    },
  }
}
