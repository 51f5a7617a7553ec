/**
 * The invariant of SPEC §4, tested end to end: for random writes over HTTP
 * and random subscribers (leaf, subtree, root, wildcard, missing path; with
 * and without minPeriod; one resuming mid-stream), folding every `data`
 * received with RFC 7396 equals, at every event id, the path's view of an
 * independent model of the tree at that revision.
 */
import fc from 'fast-check'
import jsonMergePatch from 'json-merge-patch'
import { afterEach, describe, expect, it } from 'vitest'
import type { Json, JsonObject } from '../../src/core/json.js'
import { applyPatch } from '../../src/core/merge-patch.js'
import { documentArb, KEYS, patchArb } from '../support/arbitraries.js'
import { type Running, startServer } from '../support/server.js'
import { SseClient } from '../support/sse-client.js'

const API = '/signalk/v1/api'
const isObj = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** The model's own reading of a path (independent of src/core/path.ts). */
function view(doc: Json | undefined, keys: readonly string[]): Json | undefined {
  const star = keys.indexOf('*')
  let node = doc
  for (const key of star < 0 ? keys : keys.slice(0, star)) {
    if (!isObj(node) || !(key in node)) return undefined
    node = node[key]
  }
  if (star < 0) return node
  if (node === undefined) return undefined
  return match(node, keys.slice(star)) ?? {}
}

function match(node: Json | undefined, rest: readonly string[]): Json | undefined {
  if (rest.length === 0) return node
  if (!isObj(node)) return undefined
  const [key, ...tail] = rest as [string, ...string[]]
  if (key === '*') {
    const out: JsonObject = {}
    for (const k of Object.keys(node)) {
      const sub = match(node[k], tail)
      if (sub !== undefined) out[k] = sub
    }
    return out
  }
  if (!(key in node)) return undefined
  const sub = match(node[key], tail)
  return sub === undefined ? undefined : { [key]: sub }
}

/** The model's own write at a path: RFC 7396 via json-merge-patch, parents created. */
function modelWrite(root: JsonObject, keys: readonly string[], op: Write): JsonObject {
  let patch: Json = op.kind === 'PATCH' ? op.body : op.kind === 'DELETE' ? null : null
  if (op.kind === 'PUT') {
    // Replace: delete then set, in two merge steps.
    const cleared = modelWrite(root, keys, { kind: 'DELETE', keys })
    patch = op.body
    for (let i = keys.length - 1; i >= 0; i--) patch = { [keys[i]!]: patch }
    return jsonMergePatch.apply(cleared, structuredClone(patch)) as JsonObject
  }
  for (let i = keys.length - 1; i >= 0; i--) patch = { [keys[i]!]: patch }
  return jsonMergePatch.apply(root, structuredClone(patch)) as JsonObject
}

type Write =
  | { kind: 'PATCH'; keys: readonly string[]; body: Json }
  | { kind: 'PUT'; keys: readonly string[]; body: Json }
  | { kind: 'DELETE'; keys: readonly string[] }

const keysArb = fc.array(fc.constantFrom('a', 'b'), { minLength: 1, maxLength: 2 })
const writeArb: fc.Arbitrary<Write> = fc.oneof(
  fc.record({ kind: fc.constant('PATCH' as const), keys: keysArb, body: patchArb }),
  fc.record({
    kind: fc.constant('PUT' as const),
    keys: keysArb,
    body: fc.oneof(documentArb, fc.integer()),
  }),
  fc.record({ kind: fc.constant('DELETE' as const), keys: keysArb }),
)
const subscriberArb = fc.record({
  keys: fc.oneof(
    fc.constant([] as string[]),
    fc.array(fc.constantFrom(...KEYS, '*'), { minLength: 1, maxLength: 3 }),
  ),
  minPeriod: fc.constantFrom(0, 0, 40, 150),
})

let running: Running | undefined
afterEach(async () => {
  await running?.close()
  running = undefined
})

describe('the stream invariant', () => {
  it('holds at every event id for random writes and subscribers, with throttling and a resume', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(writeArb, { minLength: 4, maxLength: 24 }),
        fc.array(subscriberArb, { minLength: 1, maxLength: 4 }),
        async (writes, subscribers) => {
          running = await startServer()
          const base = running.url + API
          let model = (await (await fetch(`${base}/`)).json()) as JsonObject
          const states = new Map<string, JsonObject>([
            [running.keelson.tree.eventId, structuredClone(model)],
          ])
          const url = (keys: string[], minPeriod: number) =>
            `${base}/${keys.map(encodeURIComponent).join('/')}${minPeriod ? `?minPeriod=${minPeriod}` : ''}`
          const streams = await Promise.all(
            subscribers.map((s) => SseClient.open(url(s.keys, s.minPeriod))),
          )
          const folds: { doc: Json | undefined; checked: number; client: SseClient }[] =
            streams.map((client) => ({
              doc: undefined,
              checked: 0,
              client,
            }))
          const check = (i: number): void => {
            const f = folds[i]!
            const { keys } = subscribers[i]!
            const events = f.client.events
            for (; f.checked < events.length; f.checked++) {
              const event = events[f.checked]!
              if (event.data !== undefined) f.doc = applyPatch(f.doc, JSON.parse(event.data)).doc
              if (event.id === undefined) continue
              const state = states.get(event.id)
              expect(state, `event id ${event.id} names a revision of this run`).toBeDefined()
              expect(f.doc ?? null).toEqual(view(state, keys) ?? null)
            }
          }
          const half = Math.floor(writes.length / 2)
          for (let w = 0; w < writes.length; w++) {
            if (w === half) {
              // The first subscriber drops here and resumes from its last id three writes later.
              check(0)
              const old = folds[0]!
              await old.client.until(() => old.client.lastEventId !== undefined)
              old.client.close()
            }
            if (w === Math.min(half + 3, writes.length - 1)) {
              const old = folds[0]!
              const resumed = await SseClient.open(
                url(subscribers[0]!.keys, subscribers[0]!.minPeriod),
                {
                  'Last-Event-ID': old.client.lastEventId!,
                },
              )
              folds[0] = { doc: old.doc, checked: 0, client: resumed }
            }
            const op = writes[w]!
            const target = `${base}/${op.keys.join('/')}`
            if (op.kind === 'DELETE' && view(model, op.keys) === undefined) continue
            const res = await fetch(target, {
              method: op.kind,
              headers: { 'Content-Type': 'application/json' },
              body: op.kind === 'DELETE' ? undefined : JSON.stringify(op.body),
            })
            expect(res.status).toBeLessThan(300)
            model = modelWrite(model, op.keys, op)
            states.set(res.headers.get('x-keelson-event-id')!, structuredClone(model))
            folds.forEach((f, i) => {
              if (!f.client.closed) check(i)
            })
          }
          for (let i = 0; i < folds.length; i++) {
            const f = folds[i]!
            const expected = view(model, subscribers[i]!.keys) ?? null
            await f.client.until(() => {
              check(i)
              return (
                JSON.stringify(f.doc ?? null) === JSON.stringify(expected) ||
                deepEq(f.doc ?? null, expected)
              )
            })
            check(i)
            f.client.close()
          }
          await running.close()
          running = undefined
        },
      ),
      { numRuns: 25 },
    )
  })
})

function deepEq(a: Json, b: Json): boolean {
  try {
    expect(a).toEqual(b)
    return true
  } catch {
    return false
  }
}
