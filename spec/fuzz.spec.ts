/**
 * Fuzzing (SPEC §1, §8): a few hundred fast-check cases of REST requests,
 * WebSocket messages and login and access-request bodies against a real
 * secured keelson: never a 5xx, never a crash (GET /healthz still answers),
 * never a half-applied write, never a changed Object.prototype. The same
 * property runs 10,000 cases with `npm run fuzz` (scripts/fuzz.ts).
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, it } from 'vitest'
import {
  checkPrototype,
  FuzzTarget,
  loginCaseArb,
  restCaseArb,
  runLoginCase,
  runRestCase,
  runWsCase,
  wsCaseArb,
} from './support/fuzz.js'

let target: FuzzTarget

beforeAll(async () => {
  target = await FuzzTarget.start()
})

afterAll(async () => {
  await target.close()
})

describe('fuzzed input', () => {
  it('REST requests of odd paths and bodies: never a 5xx, never half a write, the prototype untouched', async () => {
    await fc.assert(
      fc.asyncProperty(restCaseArb, (c) => runRestCase(target, c).then(() => undefined)),
      { numRuns: 200 },
    )
    await target.healthy()
    checkPrototype()
  }, 60_000)

  it('WebSocket messages: never an internal error, never half a write, the connection stays', async () => {
    await fc.assert(
      fc.asyncProperty(wsCaseArb, (c) => runWsCase(target, c).then(() => undefined)),
      { numRuns: 120 },
    )
    await target.healthy()
    checkPrototype()
  }, 60_000)

  it('login and access-request bodies: never a 5xx, never a login, the prototype untouched', async () => {
    await fc.assert(
      fc.asyncProperty(loginCaseArb, (c) => runLoginCase(target, c).then(() => undefined)),
      { numRuns: 60 },
    )
    await target.healthy()
    checkPrototype()
  }, 60_000)
})
