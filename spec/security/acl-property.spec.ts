/**
 * The §4 invariant under ACLs (SPEC §8), as a property on real servers:
 * random ACLs over a small path space, users with those rights, random
 * writes by an admin over REST; then every subscriber's SSE fold equals the
 * GET it may see (with its own token), and no value it received — in the
 * snapshot, in any patch, or in the GET — sits at a path it may not read,
 * judged by an oracle written here from the rules of SPEC §8 (first ACL
 * whose context matches, first resource whose paths match the path or an
 * ancestor's, `write` implies `read`, `any` is everyone).
 */
import fc from 'fast-check'
import mergePatch from 'json-merge-patch'
import { afterEach, describe, expect, it } from 'vitest'
import { signToken } from '../../src/security/tokens.js'
import type { Acl, AclResource } from '../../src/security/types.js'
import { type Secured, startSecured } from '../support/secured.js'
import { SseClient } from '../support/sse-client.js'

const READERS = ['u1', 'u2'] as const
const SUBJECTS = ['u1', 'u2', 'any'] as const
const PATTERNS = ['a', 'a.*', 'a.x', 'a.x.*', 'b.*', 'b.y', '*', '*.x', 'a.y.z'] as const

type Json = null | number | string | Json[] | { [key: string]: Json }

const resourceArb: fc.Arbitrary<AclResource> = fc.record({
  paths: fc.uniqueArray(fc.constantFrom(...PATTERNS), { minLength: 1, maxLength: 2 }),
  permissions: fc.uniqueArray(
    fc.record({
      subject: fc.constantFrom(...SUBJECTS),
      permission: fc.constantFrom('read' as const, 'write' as const),
    }),
    { maxLength: 3, selector: (p) => p.subject },
  ),
})

/** Random resources in a context matching the self vessel, framed by the sentinel and the admin's rights. */
const aclArb: fc.Arbitrary<Acl[]> = fc
  .record({
    context: fc.constantFrom('vessels.self', 'vessels.*', '*'),
    resources: fc.array(resourceArb, { maxLength: 4 }),
  })
  .map(({ context, resources }) => [
    {
      context,
      resources: [
        {
          paths: ['sentinel'],
          permissions: [
            { subject: 'any', permission: 'read' },
            { subject: 'admin', permission: 'write' },
          ],
        },
        ...resources.map((r) => ({
          ...r,
          permissions: [...r.permissions, { subject: 'admin', permission: 'write' as const }],
        })),
        { paths: ['*'], permissions: [{ subject: 'admin', permission: 'write' }] },
      ],
    },
  ])

const leafArb: fc.Arbitrary<Json> = fc.oneof(
  fc.integer({ min: -9, max: 9 }),
  fc.constantFrom('p', 'q'),
  fc.constant<Json>([1, 2]),
)
const deepArb: fc.Arbitrary<Json> = fc.oneof(
  leafArb,
  fc.constant(null),
  fc.dictionary(fc.constantFrom('z', 'w'), fc.oneof(leafArb, fc.constant(null)), { maxKeys: 2 }),
)
const midArb: fc.Arbitrary<Json> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: leafArb },
  {
    weight: 4,
    arbitrary: fc.dictionary(fc.constantFrom('x', 'y'), deepArb, { minKeys: 1, maxKeys: 2 }),
  },
)

/** A write: a PATCH at vessels/self, or a DELETE of a path. */
type Write = { kind: 'patch'; body: Json } | { kind: 'delete'; path: string }
const writeArb: fc.Arbitrary<Write> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .dictionary(fc.constantFrom('a', 'b'), midArb, { minKeys: 1, maxKeys: 2 })
      .map((body) => ({ kind: 'patch' as const, body })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('a', 'b', 'a/x', 'b/y', 'a/x/z')
      .map((path) => ({ kind: 'delete' as const, path })),
  },
)

const typesArb = fc.record({
  u1: fc.constantFrom('readonly' as const, 'readwrite' as const),
  u2: fc.constantFrom('readonly' as const, 'readwrite' as const),
})

function globMatches(pattern: string, text: string): boolean {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.]/g, '\\.'))
    .join('.*')
  return new RegExp(`^${body}$`, 's').test(text)
}

/** The oracle: may `subject` (undefined: anonymous) read a value at dot path `path` of the self vessel? */
function mayRead(acls: Acl[], subject: string | undefined, path: string[]): boolean {
  const acl = acls.find((a) => globMatches(a.context, 'vessels.self'))
  if (acl === undefined) return false
  const candidates = ['', ...path.map((_, i) => path.slice(0, i + 1).join('.'))]
  for (const resource of acl.resources) {
    if (!(resource.paths ?? []).some((p) => candidates.some((c) => globMatches(p, c)))) continue
    return resource.permissions.some(
      (p) =>
        (p.subject === 'any' || p.subject === subject) &&
        (p.permission === 'read' || p.permission === 'write'),
    )
  }
  return false
}

/** The dot paths of the values (non-objects; `null` deletions left out) in `doc`. */
function values(doc: unknown, path: string[] = []): string[][] {
  if (doc === null) return []
  if (typeof doc !== 'object' || Array.isArray(doc)) return [path]
  return Object.entries(doc as object).flatMap(([k, v]) => values(v, [...path, k]))
}

let running: Secured | undefined
let streams: SseClient[] = []

afterEach(async () => {
  for (const s of streams) s.close()
  streams = []
  await running?.close()
  running = undefined
})

describe('subscribers under random ACLs', () => {
  it('fold to the GET they may see, and receive no value they may not read', async () => {
    await fc.assert(
      fc.asyncProperty(
        aclArb,
        typesArb,
        fc.array(writeArb, { minLength: 1, maxLength: 8 }),
        async (acls, types, writes) => {
          try {
            running = await startSecured({
              users: [
                { name: 'admin', type: 'admin' },
                { name: 'u1', type: types.u1 },
                { name: 'u2', type: types.u2 },
              ],
              file: { acls },
            })
            const server = running
            const tokens: Record<string, string | undefined> = { anonymous: undefined }
            for (const name of ['admin', ...READERS]) {
              tokens[name] = (await signToken(server.secretKey, { id: name }, '1h')).token
            }
            const auth = (name: string): Record<string, string> =>
              tokens[name] === undefined ? {} : { Authorization: `Bearer ${tokens[name]}` }
            const readers = ['anonymous', ...READERS]
            const clients = new Map<string, SseClient>()
            for (const name of readers) {
              const client = await SseClient.open(
                `${server.url}/signalk/v1/api/vessels/self`,
                auth(name),
              )
              streams.push(client)
              expect(client.response.statusCode).toBe(200)
              clients.set(name, client)
            }
            const api = `${server.url}/signalk/v1/api/vessels/self`
            const send = async (method: string, url: string, body?: unknown) => {
              const res = await fetch(url, {
                method,
                headers: { ...auth('admin'), 'Content-Type': 'application/json' },
                ...(body !== undefined && { body: JSON.stringify(body) }),
              })
              await res.arrayBuffer()
              return res.status
            }
            for (const write of writes) {
              const status =
                write.kind === 'patch'
                  ? await send('PATCH', api, write.body)
                  : await send('DELETE', `${api}/${write.path}`)
              // The admin writes everywhere; deleting what is not there is a 404.
              expect([200, 204, 404]).toContain(status)
            }
            expect(await send('PATCH', api, { sentinel: writes.length })).toBe(200)
            for (const name of readers) {
              const client = clients.get(name)!
              await client.until(() => {
                const doc = fold(client) as { sentinel?: number } | null
                return doc?.sentinel === writes.length
              })
              const res = await fetch(api, { headers: auth(name) })
              const expected = res.status === 200 ? await res.json() : null
              if (res.status !== 200) await res.arrayBuffer()
              expect([200, 403, 404]).toContain(res.status)
              const subject = name === 'anonymous' ? undefined : name
              for (const path of values(expected)) {
                expect(mayRead(acls, subject, path), `GET of ${name} holds ${path}`).toBe(true)
              }
              for (const message of client.messages) {
                for (const path of values(JSON.parse(message.data!))) {
                  expect(mayRead(acls, subject, path), `${name} was sent ${path}`).toBe(true)
                }
              }
              expect(fold(client), `the fold of ${name}`).toEqual(expected)
            }
          } finally {
            for (const s of streams) s.close()
            streams = []
            await running?.close()
            running = undefined
          }
        },
      ),
      { numRuns: Number(process.env.KEELSON_ACL_RUNS ?? 40) },
    )
  }, 600_000)
})

function fold(client: SseClient): unknown {
  let doc: unknown = null
  for (const message of client.messages) doc = mergePatch.apply(doc, JSON.parse(message.data!))
  return doc
}
