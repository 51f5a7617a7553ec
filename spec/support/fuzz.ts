/**
 * The fuzzing property shared by spec/fuzz.spec.ts (a few hundred cases)
 * and scripts/fuzz.ts (`npm run fuzz`, 10,000): fast-check cases of REST
 * requests (odd paths, bodies deep, large, with forbidden keys, non-finite
 * numbers written as text, odd unicode, control characters, invalid UTF-8),
 * WebSocket messages and login and access-request bodies, sent by real
 * clients to a real secured keelson. Each case checks:
 *
 * - never a 5xx (nor an `INTERNAL` error message on the WebSocket), and an answer at all;
 * - never a half-applied write: refused, the tree is byte for byte as before;
 *   accepted, a GET reflects it;
 * - never a changed `Object.prototype`.
 *
 * Whether the server is still up is {@link FuzzTarget.healthy}.
 */
import { Agent, request as httpRequest } from 'node:http'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { signToken } from '../../src/security/tokens.js'
import type { Acl } from '../../src/security/types.js'
import { type Secured, startSecured } from './secured.js'
import { WsPeer } from './ws-peer.js'

/** Who a case acts as. */
export const ROLES = ['admin', 'navi', 'anonymous', 'forged'] as const
export type FuzzRole = (typeof ROLES)[number]

/** `navi` writes navigation only: a patch over navigation and anything else is refused whole. */
const ACLS: Acl[] = [
  {
    context: 'vessels.self',
    resources: [
      {
        paths: ['navigation.*'],
        permissions: [
          { subject: 'navi', permission: 'write' },
          { subject: 'admin', permission: 'write' },
        ],
      },
      {
        paths: ['*'],
        permissions: [
          { subject: 'admin', permission: 'write' },
          { subject: 'any', permission: 'read' },
        ],
      },
    ],
  },
  {
    context: '*',
    resources: [{ paths: ['*'], permissions: [{ subject: 'admin', permission: 'write' }] }],
  },
]

const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort().join(',')

/** Throws when anything was added to, or changed in, `Object.prototype`. */
export function checkPrototype(): void {
  const probe = {} as Record<string, unknown>
  if (probe.polluted !== undefined || probe.isAdmin !== undefined || probe.value !== undefined) {
    throw new Error('Object.prototype was polluted')
  }
  if (Object.getOwnPropertyNames(Object.prototype).sort().join(',') !== PROTOTYPE_KEYS) {
    throw new Error('the keys of Object.prototype changed')
  }
  if (Object.keys(Object.prototype).length !== 0)
    throw new Error('Object.prototype has enumerable keys')
}

/** A running secured keelson to fuzz, its tokens and one WebSocket per role. */
export class FuzzTarget {
  readonly agent = new Agent({ keepAlive: true, maxSockets: 4 })
  private readonly peers = new Map<FuzzRole, WsPeer>()

  private constructor(
    readonly server: Secured,
    readonly tokens: Record<FuzzRole, string | undefined>,
  ) {}

  static async start(): Promise<FuzzTarget> {
    const server = await startSecured({
      users: [
        { name: 'admin', type: 'admin' },
        { name: 'navi', type: 'readwrite' },
      ],
      file: { acls: ACLS },
      options: { maxLoginAttempts: 1_000_000_000, maxBodyBytes: 256 * 1024, maxDepth: 32 },
    })
    server.seed('navigation.speedOverGround', 3.5)
    server.seed('environment.depth.belowKeel', 12)
    const token = async (id: string) => (await signToken(server.secretKey, { id }, '1h')).token
    const tokens = {
      admin: await token('admin'),
      navi: await token('navi'),
      anonymous: undefined,
      forged: `${(await token('admin')).slice(0, -4)}AAAA`,
    }
    return new FuzzTarget(server, tokens)
  }

  /** The tree as text and its revision. */
  snapshot(): { rev: number; text: string } {
    const tree = this.server.keelson.tree
    return { rev: tree.rev, text: JSON.stringify(tree.get({ segments: [], starAt: -1 })) }
  }

  /** Throws unless GET /healthz answers 200. */
  async healthy(): Promise<void> {
    const res = await this.http('GET', '/healthz', {}, undefined)
    if (res.status !== 200) throw new Error(`/healthz answered ${res.status}`)
  }

  /** One HTTP request by node:http; never rejects for an HTTP status. */
  http(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
  ): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: this.server.port,
          method,
          path,
          agent: this.agent,
          headers: { ...headers, ...(body !== undefined && { 'Content-Length': body.length }) },
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
          )
          res.on('error', reject)
        },
      )
      req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${method} ${path}`)))
      req.on('error', reject)
      req.end(body)
    })
  }

  /** The open WebSocket of `role` (reopened after a close). */
  async peer(role: FuzzRole): Promise<WsPeer> {
    let peer = this.peers.get(role)
    if (peer === undefined || peer.closed) {
      const token = this.tokens[role]
      const headers: Record<string, string> =
        token === undefined ? {} : { Authorization: `Bearer ${token}` }
      const url = `ws://127.0.0.1:${this.server.port}/signalk/v1/stream?subscribe=none`
      const opened = await WsPeer.connect(url, headers)
      if (opened.refused) throw new Error(`upgrade refused ${opened.status}`)
      peer = opened
      await peer.next() // hello
      this.peers.set(role, peer)
    }
    return peer
  }

  auth(role: FuzzRole): Record<string, string> {
    const token = this.tokens[role]
    return token === undefined ? {} : { Authorization: `Bearer ${token}` }
  }

  async close(): Promise<void> {
    for (const peer of this.peers.values()) peer.close()
    this.agent.destroy()
    await this.server.close()
  }
}

// ---------------------------------------------------------------- generators

/** Segments that hurt: prototype keys, dot segments, encodings, unicode, control characters. */
const nastySegment = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  '__defineGetter__',
  '.',
  '..',
  '*',
  '',
  '%2e%2e',
  '%2F',
  '%00',
  '%C0%AF',
  '%',
  '%zz',
  '%E2%80%AE',
  '%F0%9F%98%80',
  '%ED%A0%80',
  'self',
  'vessels',
  'meta',
  'sources',
  'value',
  'navigation',
  'speedOverGround',
  'ﬀ',
  '😀',
  'a;b',
  'a?b',
  'x'.repeat(300),
)

const segment = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom('navigation', 'speedOverGround', 'environment', 'a', 'b'),
  },
  { weight: 3, arbitrary: nastySegment },
  { weight: 2, arbitrary: fc.string({ maxLength: 6, unit: 'binary' }) },
)

/** Percent-encodes what node's client refuses in a path (controls, space, > U+00FF); the rest sometimes raw. */
function pathText(segments: string[], raw: boolean): string {
  return segments
    .map((s) =>
      raw
        ? s.replace(/[^\u0021-\u00ff]|[?#]/gu, (c) => encodeURIComponent(c))
        : encodeURIComponent(s).replace(/%25(?=[0-9A-Fa-f]{2})/g, '%'),
    )
    .join('/')
}

const pathArb = fc
  .record({
    base: fc.constantFrom(
      '/signalk/v1/api/vessels/self/',
      '/signalk/v1/api/',
      '/signalk/v1/api/vessels/',
    ),
    segments: fc.array(segment, { maxLength: 5 }),
    raw: fc.boolean(),
    query: fc.constantFrom('', '?minPeriod=5', '?token=x.y.z', '?a=%zz', '?minPeriod=1e999'),
  })
  .map(({ base, segments, raw, query }) => `${base}${pathText(segments, raw)}${query}`)

const key = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom('navigation', 'speedOverGround', 'value', 'a', 'b', 'environment'),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '__proto__',
      'constructor',
      'prototype',
      'polluted',
      '$source',
      'meta',
      'values',
      '',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 5, unit: 'binary' }) },
)

const leaf = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 8, unit: 'binary' }),
  fc.constant('\u0000\u001f\u2028\ud800'),
)

/** JSON values with keys that collide with the tree's and the prototype's. */
const valueArb: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.dictionary(key, tie('v'), { maxKeys: 4 }),
    fc.array(tie('v'), { maxLength: 3 }),
  ),
})).v

/** Patches a client would send: Signal K keys, values, deletions, nested a few levels. */
const sensibleArb: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom('on', 'off', null, true)),
    fc.dictionary(
      fc.constantFrom(
        'navigation',
        'environment',
        'speedOverGround',
        'courseOverGroundTrue',
        'value',
        'a',
      ),
      tie('v'),
      { minKeys: 1, maxKeys: 3 },
    ),
  ),
})).v

function nest(depth: number, inner: string): string {
  return `${'{"a":'.repeat(depth)}${inner}${'}'.repeat(depth)}`
}

/** Body texts: JSON, JSON with text-level tricks, and what is not JSON at all. */
const bodyText: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: sensibleArb.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')) },
  { weight: 4, arbitrary: valueArb.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(
        '{"__proto__":{"polluted":1}}',
        '{"a":{"constructor":{"prototype":{"polluted":1}}}}',
        '{"__pro\\u0074o__":{"polluted":1}}',
        '{"navigation":{"__proto__":{"polluted":true}}}',
        '{"value":1e999}',
        '{"value":-1e999}',
        '[1e400]',
        '1e999',
        '{"value":NaN}',
        '{"value":Infinity}',
        '{"a":1,"a":{"__proto__":2}}',
        '\ufeff{"a":1}',
        '{"a":"\u0001\u0002"}',
        '{"a":"\\ud800"}',
        '{"speedOverGround":{"value":4.5}}',
        '{"navigation":{"speedOverGround":{"value":1},"courseOverGroundTrue":{"value":2}}}',
        '{"navigation":{"speedOverGround":{"value":1}},"environment":{"depth":{"belowKeel":{"value":2}}}}',
        '{"navigation":null}',
        'null',
        '{}',
        '',
        '{',
        '}}}}',
        '"just a string"',
      )
      .map((text) => Buffer.from(text)),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 20, max: 3000 }).map((d) => Buffer.from(nest(d, '1'))),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 1000, max: 300_000 })
      .map((n) => Buffer.from(JSON.stringify({ a: 'x'.repeat(n) }))),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(valueArb, fc.nat(), fc.string({ minLength: 1, maxLength: 3, unit: 'binary' }))
      .map(([v, at, junk]) => {
        const text = JSON.stringify(v) ?? 'null'
        const i = at % (text.length + 1)
        return Buffer.from(text.slice(0, i) + junk + text.slice(i))
      }),
  },
)

/** One REST case. */
export interface RestCase {
  role: FuzzRole
  method: string
  path: string
  contentType: string | undefined
  body: Buffer | undefined
}

export const restCaseArb: fc.Arbitrary<RestCase> = fc.record({
  role: fc.constantFrom(...ROLES),
  method: fc.constantFrom(
    'GET',
    'HEAD',
    'PATCH',
    'PATCH',
    'PUT',
    'PUT',
    'DELETE',
    'POST',
    'OPTIONS',
  ),
  path: pathArb,
  contentType: fc.constantFrom(
    'application/json',
    'application/json',
    'application/merge-patch+json',
    'application/merge-patch+json',
    'application/json; charset=utf-8',
    'application/json; charset=utf-16',
    'text/plain',
    undefined,
  ),
  body: fc.option(bodyText, { nil: undefined, freq: 8 }),
})

/** One WebSocket case: who sends what text. */
export interface WsCase {
  role: FuzzRole
  text: string
}

const pathString = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'navigation.speedOverGround',
      'environment.depth.belowKeel',
      'navigation.headingTrue',
    ),
  },
  fc.constantFrom(
    'navigation.speedOverGround',
    'navigation.courseOverGroundTrue',
    'environment.depth.belowKeel',
    '__proto__.polluted',
    'navigation.__proto__',
    'constructor.prototype.polluted',
    '',
    '.',
    'a..b',
    '*',
    'navigation.*',
  ),
  fc.array(key, { minLength: 1, maxLength: 4 }).map((keys) => keys.join('.')),
)

const deltaArb = fc.record({
  context: fc.option(
    fc.constantFrom(
      'vessels.self',
      'vessels.self',
      'vessels.urn:mrn:imo:mmsi:230099999',
      'vessels.__proto__',
      '*',
      'aircraft.x',
      '',
    ),
    { nil: undefined },
  ),
  requestId: fc.constant('fz'),
  updates: fc.array(
    fc.record(
      {
        $source: fc.constantFrom('fuzz.1', '__proto__', ''),
        timestamp: fc.constantFrom('2026-01-01T00:00:00Z', 'yesterday', ''),
        values: fc.array(fc.record({ path: pathString, value: fc.oneof(sensibleArb, valueArb) }), {
          maxLength: 3,
        }),
        meta: fc.array(fc.record({ path: pathString, value: valueArb }), { maxLength: 1 }),
      },
      { requiredKeys: ['values'] },
    ),
    { maxLength: 3 },
  ),
})

const messageArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: deltaArb.map((d) => JSON.stringify(d)) },
  {
    weight: 2,
    arbitrary: fc
      .record({
        context: fc.constantFrom('vessels.self', '*', '__proto__', 'vessels.*'),
        requestId: fc.constant('fz'),
        subscribe: fc.array(
          fc.record(
            {
              path: pathString,
              period: fc.integer(),
              minPeriod: fc.integer(),
              policy: fc.constantFrom('instant', 'fixed', 'ideal', 'x'),
            },
            { requiredKeys: ['path'] },
          ),
          { maxLength: 3 },
        ),
      })
      .map((m) => JSON.stringify(m)),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        requestId: fc.constant('fz'),
        unsubscribe: fc.array(fc.record({ path: pathString }), { maxLength: 2 }),
      })
      .map((m) => JSON.stringify(m)),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ requestId: fc.constant('fz'), login: valueArb })
      .filter(({ login }) => {
        // Well-formed logins cost a password hash each: few of them, never the right password.
        const l = login as Record<string, unknown> | null
        return !(
          typeof l === 'object' &&
          l !== null &&
          typeof l.username === 'string' &&
          typeof l.password === 'string'
        )
      })
      .map((m) => JSON.stringify(m)),
  },
  { weight: 2, arbitrary: bodyText.filter((b) => b.length < 200_000).map((b) => b.toString()) },
  { weight: 1, arbitrary: valueArb.map((v) => JSON.stringify(v) ?? 'null') },
)

export const wsCaseArb: fc.Arbitrary<WsCase> = fc.record({
  role: fc.constantFrom('admin', 'navi', 'navi', 'anonymous'),
  text: messageArb,
})

/** One login or access-request case. */
export interface LoginCase {
  endpoint: '/signalk/v1/auth/login' | '/signalk/v1/access/requests'
  contentType: string | undefined
  body: Buffer
}

const loginBody = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .record(
        {
          username: fc.oneof(
            fc.constantFrom('admin', 'navi', 'nobody', '__proto__', 'constructor', ''),
            fc.string({ maxLength: 10, unit: 'binary' }),
            valueArb,
          ),
          password: fc.oneof(
            fc.string({ maxLength: 10, unit: 'binary' }),
            fc.constant('x'.repeat(5000)),
            valueArb,
          ),
          rememberMe: valueArb,
        },
        { requiredKeys: [] },
      )
      .map((b) => Buffer.from(JSON.stringify(b))),
  },
  {
    weight: 2,
    arbitrary: fc
      .record(
        {
          clientId: fc.oneof(
            fc.string({ maxLength: 10, unit: 'binary' }),
            fc.constantFrom('__proto__', 'admin', 'x'.repeat(200)),
            valueArb,
          ),
          description: fc.oneof(fc.string({ maxLength: 10, unit: 'binary' }), valueArb),
          permissions: fc.oneof(
            fc.constantFrom('readonly', 'readwrite', 'admin', 'root'),
            valueArb,
          ),
        },
        { requiredKeys: [] },
      )
      .map((b) => Buffer.from(JSON.stringify(b))),
  },
  { weight: 2, arbitrary: bodyText.filter((b) => b.length < 100_000) },
)

export const loginCaseArb: fc.Arbitrary<LoginCase> = fc.record({
  endpoint: fc.constantFrom(
    '/signalk/v1/auth/login' as const,
    '/signalk/v1/access/requests' as const,
  ),
  contentType: fc.constantFrom(
    'application/json',
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    undefined,
  ),
  body: loginBody,
})

// ---------------------------------------------------------------- the checks

/** True when `actual` holds everything `patch` set (RFC 7396 applied): its non-null leaves where it put them, its nulls gone. */
function reflects(actual: unknown, patch: unknown): boolean {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    return isDeepStrictEqual(actual, patch)
  }
  const entries = Object.entries(patch)
  if (entries.length === 0) return true
  if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) {
    return entries.every(([, v]) => v === null || reflects(undefined, v))
  }
  const target = actual as Record<string, unknown>
  return entries.every(([k, v]) =>
    v === null ? !Object.hasOwn(target, k) : reflects(target[k], v),
  )
}

function fail(what: string, detail: unknown): never {
  throw new Error(`${what}: ${JSON.stringify(detail).slice(0, 600)}`)
}

/** Sends one REST case and checks it; returns its status. */
export async function runRestCase(target: FuzzTarget, c: RestCase): Promise<number> {
  const before = target.snapshot()
  const headers: Record<string, string> = { ...target.auth(c.role) }
  if (c.role === 'forged') headers.Authorization = `Bearer ${target.tokens.forged}`
  if (c.contentType !== undefined && c.body !== undefined) headers['Content-Type'] = c.contentType
  const res = await target.http(c.method, c.path, headers, c.body)
  if (res.status >= 500 || res.status < 100)
    fail(`${c.method} ${c.path} answered ${res.status}`, res.text)
  checkPrototype()
  const after = target.snapshot()
  const write = c.method === 'PATCH' || c.method === 'PUT' || c.method === 'DELETE'
  const accepted = write && res.status >= 200 && res.status < 300
  if (!accepted) {
    if (after.rev !== before.rev || after.text !== before.text) {
      fail(`${c.method} ${c.path} answered ${res.status} but changed the tree`, res.text)
    }
    return res.status
  }
  // Accepted: a GET of the same path (as the admin, who reads everything) reflects the write.
  const readPath = c.path.replace(/\?.*$/, '')
  const got = await target.http('GET', readPath, target.auth('admin'), undefined)
  const body =
    c.method === 'DELETE'
      ? null
      : (JSON.parse(c.body!.toString().replace(/^\ufeff/, '')) as unknown)
  // A DELETE, or a PATCH of null (RFC 7396: remove the target), leaves nothing there.
  if (body === null) {
    if (got.status !== 404)
      fail(`${c.method} ${c.path} removed it but GET answers ${got.status}`, got.text)
    return res.status
  }
  const request = putRequestOf(c, body)
  if (request !== undefined) {
    // A Signal K PUT request (SPEC §11) sets the leaf's value (or, at meta, metadata) by delta.
    const put = (body as { value: unknown }).value
    const read = got.status === 200 ? (JSON.parse(got.text) as any) : undefined
    const actual = request === 'value' ? read?.value : read
    const ok = put === null ? actual === undefined : reflects(actual, put)
    if (!ok)
      fail(`PUT request ${c.path} accepted but GET does not reflect it`, { body, got: got.text })
    return res.status
  }
  // A 204 to a write that left something means the writer may not read the result: the admin can.
  if (got.status === 404 && c.method === 'PATCH' && reflects(undefined, body)) return res.status
  if (got.status !== 200)
    fail(`${c.method} ${c.path} accepted but GET answers ${got.status}`, got.text)
  const value = JSON.parse(got.text) as unknown
  const ok = c.method === 'PUT' ? isDeepStrictEqual(value, body) : reflects(value, body)
  if (!ok) fail(`${c.method} ${c.path} accepted but GET does not reflect it`, { body, value })
  return res.status
}

/**
 * How a REST case reads back when it is a Signal K PUT request (SPEC §11: a
 * PUT of exactly `{"value"}`, optionally `"source"`, below `vessels/<id>/`):
 * `value` when it set the leaf's value, `meta` when it set metadata at
 * `<path>.meta[.<name>]`; undefined for any other write.
 */
function putRequestOf(c: RestCase, body: any): 'value' | 'meta' | undefined {
  if (c.method !== 'PUT' || typeof body !== 'object' || body === null || Array.isArray(body)) {
    return undefined
  }
  const keys = Object.keys(body)
  if (!keys.includes('value') || keys.some((k) => k !== 'value' && k !== 'source')) return undefined
  const segments = c.path
    .replace(/\?.*$/, '')
    .replace(/^\/signalk\/v1\/api\/?/, '')
    .replace(/\/$/, '')
    .split('/')
    .map((part) => decodeURIComponent(part))
  if (segments.length < 3 || segments[0] !== 'vessels') return undefined
  const last = segments.length - 1
  // As src/signalk/put-request.ts: `meta` below the context's first key, or `meta.<name>` below its second.
  if ((segments[last] === 'meta' && last > 2) || (segments[last - 1] === 'meta' && last > 3)) {
    return 'meta'
  }
  return 'value'
}

/** Sends one WebSocket message and checks it; returns an outcome label. */
export async function runWsCase(target: FuzzTarget, c: WsCase): Promise<string> {
  const peer = await target.peer(c.role)
  const before = target.snapshot()
  peer.send(c.text)
  let replies: any[]
  try {
    replies = await peer.drain()
  } catch (err) {
    if (peer.closed && peer.closeCode === 1009) return 'closed 1009'
    fail(`the connection ended after ${c.text.slice(0, 200)}`, String(err))
  }
  checkPrototype()
  for (const reply of replies) {
    if (reply.statusCode >= 500 || reply.code === 'KEELSON_ERR_INTERNAL') {
      fail(`${c.text.slice(0, 200)} was answered`, reply)
    }
  }
  const errors = replies.filter((r) => r.errorMessage !== undefined)
  const after = target.snapshot()
  if (errors.length > 0 && (after.rev !== before.rev || after.text !== before.text)) {
    fail(`${c.text.slice(0, 300)} was refused but changed the tree`, errors)
  }
  return errors.length > 0 ? `refused ${errors[0].statusCode}` : 'accepted'
}

/** Sends one login or access request body and checks it; returns its status. */
export async function runLoginCase(target: FuzzTarget, c: LoginCase): Promise<number> {
  const before = target.snapshot()
  const headers: Record<string, string> = {}
  if (c.contentType !== undefined) headers['Content-Type'] = c.contentType
  const res = await target.http('POST', c.endpoint, headers, c.body)
  if (res.status >= 500 || res.status < 100)
    fail(`POST ${c.endpoint} answered ${res.status}`, res.text)
  if (c.endpoint === '/signalk/v1/auth/login' && res.status === 200) {
    fail('a fuzzed login succeeded', c.body.toString().slice(0, 200))
  }
  checkPrototype()
  const after = target.snapshot()
  if (after.text !== before.text) fail(`POST ${c.endpoint} changed the tree`, res.text)
  return res.status
}
