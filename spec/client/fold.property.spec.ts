/**
 * The client's promise, as a property: whatever is written, deleted,
 * dropped or restarted, the state `subscribe()` folds equals a GET of the
 * path once the stream has caught up (SPEC §4's invariant, seen from the client).
 */
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { afterEach, describe, it } from 'vitest'
import { type Subscription, subscribe } from '../../src/client/index.js'
import { Restartable } from './restartable.js'
import { applyStep, PATH, readPath, stepArb } from './steps.js'
import { until } from './until.js'

let server: Restartable | undefined
const subscriptions: Subscription<unknown>[] = []

afterEach(async () => {
  for (const sub of subscriptions.splice(0)) sub.close()
  await server?.close()
  server = undefined
})

describe('subscribe() against a server written, dropped and restarted at random', () => {
  it('folds a state equal to a GET of the path after every step, throttled or not', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 8 }), async (steps) => {
        const running = await Restartable.start()
        server = running
        const url = `${running.url}/signalk/v1/api${PATH}`
        const backoff = { initialMs: 5, maxMs: 40 }
        const subs = [subscribe(url, { backoff }), subscribe(url, { backoff, minPeriod: 25 })]
        subscriptions.push(...subs)
        try {
          for (const step of steps) {
            await applyStep(running, step)
            let expected: unknown
            await until(
              async () => {
                expected = await readPath(running)
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
          await running.close()
          server = undefined
        }
      }),
      { numRuns: 25 },
    )
  })
})
