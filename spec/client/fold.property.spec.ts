/**
 * The client's promise, as a property: whatever is written, deleted,
 * dropped or restarted, the state `subscribe()` folds equals a GET of the
 * path once the stream has caught up (SPEC §4's invariant, seen from the client).
 */
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { afterEach, describe, it } from 'vitest'
import { type Subscription, subscribe } from '../../src/client/index.js'
import type { Json } from '../../src/core/json.js'
import { documentArb, KEYS, patchArb } from '../support/arbitraries.js'
import { Restartable } from './restartable.js'
import { until } from './until.js'

const PATH = '/vessels/self/test'

type Step =
  | { kind: 'patch'; value: Json }
  | { kind: 'put'; key: string; value: Json }
  | { kind: 'delete'; key: string }
  | { kind: 'drop'; value: Json }
  | { kind: 'restart'; value: Json }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('patch' as const), value: patchArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('put' as const),
      key: fc.constantFrom(...KEYS),
      value: documentArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('delete' as const),
      key: fc.constantFrom('', ...KEYS),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), value: patchArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), value: patchArb }) },
)

let server: Restartable | undefined
const subscriptions: Subscription<unknown>[] = []

afterEach(async () => {
  for (const sub of subscriptions.splice(0)) sub.close()
  await server?.close()
  server = undefined
})

/** fetch, again while pooled keep-alive sockets turn out closed by the last restart. */
async function request(url: string, init?: RequestInit): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, init)
    } catch (err) {
      if (attempt === 5) throw err
    }
  }
}

async function send(method: string, path: string, value?: Json): Promise<void> {
  const res = await request(`${server!.url}/signalk/v1/api${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: value === undefined ? undefined : JSON.stringify(value),
  })
  await res.arrayBuffer()
  if (res.status >= 500) throw new Error(`${method} ${path} answered ${res.status}`)
}

async function read(): Promise<unknown> {
  const res = await request(`${server!.url}/signalk/v1/api${PATH}`)
  return res.status === 404 ? (await res.arrayBuffer(), null) : res.json()
}

async function apply(step: Step): Promise<void> {
  switch (step.kind) {
    case 'patch':
      return send('PATCH', PATH, step.value)
    case 'put':
      return send('PUT', `${PATH}/${step.key}`, step.value)
    case 'delete':
      return send('DELETE', step.key === '' ? PATH : `${PATH}/${step.key}`)
    case 'drop':
      // The same app comes back: a resumable id, one catch-up patch with what was written meanwhile.
      await server!.stop()
      server!.patch(PATH, step.value)
      return server!.resume()
    case 'restart':
      // A fresh app (new epoch) on the same port: the resume is answered with data: null and the snapshot.
      await server!.replace()
      return send('PATCH', PATH, step.value)
  }
}

describe('subscribe() against a server written, dropped and restarted at random', () => {
  it('folds a state equal to a GET of the path after every step, throttled or not', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 8 }), async (steps) => {
        server = await Restartable.start()
        const url = `${server.url}/signalk/v1/api${PATH}`
        const backoff = { initialMs: 5, maxMs: 40 }
        const subs = [subscribe(url, { backoff }), subscribe(url, { backoff, minPeriod: 25 })]
        subscriptions.push(...subs)
        try {
          for (const step of steps) {
            await apply(step)
            let expected: unknown
            await until(
              async () => {
                expected = await read()
                return subs.every(
                  (sub) => sub.status === 'live' && isDeepStrictEqual(sub.state, expected),
                )
              },
              3000,
              () =>
                `after ${JSON.stringify(step)}: GET ${JSON.stringify(expected)}, states ${JSON.stringify(subs.map((s) => [s.status, s.state]))}`,
            )
          }
        } finally {
          for (const sub of subscriptions.splice(0)) sub.close()
          await server.close()
          server = undefined
        }
      }),
      { numRuns: 25 },
    )
  })
})
