/**
 * Random steps against a {@link Restartable} server for the client property
 * specs (Node and Chromium): REST writes and deletes, a dropped connection
 * (the same app comes back: resume) and a restart with a fresh app (reset).
 */
import fc from 'fast-check'
import type { Json } from '../../src/core/json.js'
import { documentArb, KEYS, patchArb } from '../support/arbitraries.js'
import type { Restartable } from './restartable.js'

/** The path the steps write under and the clients subscribe to. */
export const PATH = '/vessels/self/test'

export type Step =
  | { kind: 'patch'; value: Json }
  | { kind: 'put'; key: string; value: Json }
  | { kind: 'delete'; key: string }
  | { kind: 'drop'; value: Json }
  | { kind: 'restart'; value: Json }

export const stepArb: fc.Arbitrary<Step> = fc.oneof(
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

async function send(
  server: Restartable,
  method: string,
  path: string,
  value?: Json,
): Promise<void> {
  const res = await request(`${server.url}/signalk/v1/api${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: value === undefined ? undefined : JSON.stringify(value),
  })
  await res.arrayBuffer()
  if (res.status >= 500) throw new Error(`${method} ${path} answered ${res.status}`)
}

/** A GET of {@link PATH}; null when it does not exist (as a stream's snapshot of it is). */
export async function readPath(server: Restartable): Promise<unknown> {
  const res = await request(`${server.url}/signalk/v1/api${PATH}`)
  const body: unknown = await res.json()
  return res.status === 404 ? null : body
}

/** Takes one step. */
export async function applyStep(server: Restartable, step: Step): Promise<void> {
  switch (step.kind) {
    case 'patch':
      return send(server, 'PATCH', PATH, step.value)
    case 'put':
      return send(server, 'PUT', `${PATH}/${step.key}`, step.value)
    case 'delete':
      return send(server, 'DELETE', step.key === '' ? PATH : `${PATH}/${step.key}`)
    case 'drop':
      // The same app comes back: a resumable id, one catch-up patch with what was written meanwhile.
      await server.stop()
      server.patch(PATH, step.value)
      return server.resume()
    case 'restart':
      // A fresh app (new epoch) on the same port: the resume is answered with data: null and the snapshot.
      await server.replace()
      return send(server, 'PATCH', PATH, step.value)
  }
}
