/**
 * Application data (SPEC §11) against a real server: signalk-server's
 * routes and shapes, JSON Patch all or nothing, persistence across a restart
 * on the same persist dir, and hostile input refused with nothing written.
 */
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { coerceVersion } from '../../src/signalk/app-data.js'
import { RawClient } from '../support/raw.js'
import { type Running, startServer } from '../support/server.js'

const BASE = '/signalk/v1/applicationData'

let running: Running | undefined
const dirs: string[] = []

afterEach(async () => {
  await running?.close()
  running = undefined
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'keelson-appdata-'))
  dirs.push(dir)
  return dir
}

function call(
  method: string,
  path: string,
  body?: unknown,
  type = 'application/json',
  headers = {},
) {
  return fetch(`${running!.url}${BASE}${path}`, {
    method,
    headers: body === undefined ? headers : { 'Content-Type': type, ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
}

async function json(path: string): Promise<{ status: number; body: any }> {
  const res = await call('GET', path)
  return { status: res.status, body: await res.json() }
}

describe('application data', () => {
  it('serves a document as signalk-server: {} when none, saved by POST, versions listed', async () => {
    running = await startServer()
    expect(await json('/global/kip/9.0.0')).toEqual({ status: 200, body: {} })
    expect((await json('/global/kip')).status).toBe(404)
    const saved = await call('POST', '/global/kip/9.0.0', { dashboards: [{ id: 'a' }] })
    expect(saved.status).toBe(200)
    expect(await saved.json()).toBe('ApplicationData saved')
    expect(await json('/global/kip/9.0.0')).toEqual({
      status: 200,
      body: { dashboards: [{ id: 'a' }] },
    })
    // A version is read as semver.coerce reads it.
    expect((await json('/global/kip/9')).body).toEqual({ dashboards: [{ id: 'a' }] })
    expect(await json('/global/kip')).toEqual({ status: 200, body: ['9.0.0'] })
  })

  it('reads and writes at a path below the document, with ?keys=true', async () => {
    running = await startServer()
    await call('POST', '/global/fb/1.0.0', { map: { zoom: 12, center: [1, 2] } })
    await call('POST', '/global/fb/1.0.0/map/layers', ['osm'])
    await call('POST', '/global/fb/1.0.0/map.zoom', 14)
    expect((await json('/global/fb/1.0.0')).body).toEqual({
      map: { zoom: 14, center: [1, 2], layers: ['osm'] },
    })
    expect((await json('/global/fb/1.0.0/map/center/1')).body).toBe(2)
    expect((await json('/global/fb/1.0.0/map?keys=true')).body).toEqual([
      'zoom',
      'center',
      'layers',
    ])
    expect((await json('/global/fb/1.0.0/map/nothing')).status).toBe(404)
    // Own members only: an inherited name is not data.
    expect((await json('/global/fb/1.0.0/map/toString')).status).toBe(404)
  })

  it('needs a login for user data', async () => {
    running = await startServer()
    expect((await json('/user/kip/9.0.0')).status).toBe(401)
    const res = await call('POST', '/user/kip/9.0.0', { a: 1 })
    expect(res.status).toBe(401)
    expect(((await res.json()) as any).code).toBe('KEELSON_ERR_UNAUTHORIZED')
  })

  it('applies a JSON Patch posted as an array, and PATCH with application/json-patch+json', async () => {
    running = await startServer()
    await call('POST', '/global/kip/1.0.0', { a: 1, list: [1, 2], nest: { x: 'y' } })
    const patch = [
      { op: 'add', path: '/b', value: { c: 3 } },
      { op: 'remove', path: '/a' },
      { op: 'replace', path: '/list/0', value: 9 },
      { op: 'add', path: '/list/-', value: 3 },
      { op: 'move', from: '/nest/x', path: '/moved' },
      { op: 'copy', from: '/b', path: '/copied' },
      { op: 'test', path: '/moved', value: 'y' },
      { op: 'add', path: '/we~1ird~0key', value: true },
    ]
    expect((await call('POST', '/global/kip/1.0.0', patch)).status).toBe(200)
    const expected = {
      list: [9, 2, 3],
      nest: {},
      b: { c: 3 },
      moved: 'y',
      copied: { c: 3 },
      'we/ird~key': true,
    }
    expect((await json('/global/kip/1.0.0')).body).toEqual(expected)
    const res = await call(
      'PATCH',
      '/global/kip/1.0.0/b',
      [{ op: 'replace', path: '/c', value: 4 }],
      'application/json-patch+json',
    )
    expect(res.status).toBe(200)
    expect((await json('/global/kip/1.0.0/b')).body).toEqual({ c: 4 })
  })

  it('applies a JSON Patch all or nothing: a failing operation or test leaves the document', async () => {
    running = await startServer()
    const doc = { a: 1, list: [1] }
    await call('POST', '/global/kip/1.0.0', doc)
    const failing: [unknown[], number, string][] = [
      [
        [
          { op: 'add', path: '/b', value: 2 },
          { op: 'remove', path: '/nothing' },
        ],
        400,
        'BAD_JSON_PATCH',
      ],
      [
        [
          { op: 'add', path: '/b', value: 2 },
          { op: 'test', path: '/a', value: 2 },
        ],
        409,
        'PATCH_TEST_FAILED',
      ],
      [[{ op: 'add', path: '/list/5', value: 2 }], 400, 'BAD_JSON_PATCH'],
      [[{ op: 'move', from: '/list', path: '/list/0' }], 400, 'BAD_JSON_PATCH'],
      [[{ op: 'jump', path: '/a' }], 400, 'BAD_JSON_PATCH'],
      [[{ op: 'add', path: 'a', value: 1 }], 400, 'BAD_JSON_PATCH'],
      [[{ op: 'add', path: '/x~2', value: 1 }], 400, 'BAD_JSON_PATCH'],
      [[{ op: 'add', path: '/b' }], 400, 'BAD_JSON_PATCH'],
      [[{ op: 'add', path: '/__proto__/polluted', value: 1 }], 400, 'FORBIDDEN_KEY'],
      [[{ op: 'copy', from: '/constructor', path: '/c' }], 400, 'FORBIDDEN_KEY'],
    ]
    for (const [patch, status, code] of failing) {
      const res = await call('POST', '/global/kip/1.0.0', patch)
      expect(res.status).toBe(status)
      expect(((await res.json()) as any).code).toBe(`KEELSON_ERR_${code}`)
    }
    const notArray = await call(
      'PATCH',
      '/global/kip/1.0.0',
      { op: 'add' },
      'application/json-patch+json',
    )
    expect(notArray.status).toBe(400)
    expect((await json('/global/kip/1.0.0')).body).toEqual(doc)
    expect(({} as any).polluted).toBeUndefined()
  })

  it('keeps the documents across a restart on the same persist dir, in signalk-server layout', async () => {
    const persistDir = await tempDir()
    running = await startServer({ persistDir })
    await call('POST', '/global/kip/9.0.0', { shared: true })
    await running.close()
    const file = join(persistDir, 'applicationData', 'global', 'kip', '9.0.0.json')
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ shared: true })
    running = await startServer({ persistDir })
    expect((await json('/global/kip/9.0.0')).body).toEqual({ shared: true })
    expect((await json('/global/kip')).body).toEqual(['9.0.0'])
  })

  it('refuses hostile names, keys and bodies with nothing written', async () => {
    const persistDir = await tempDir()
    running = await startServer({ persistDir, maxBodyBytes: 4096 })
    const hostile: [string, string, unknown, number][] = [
      ['POST', '/global/..%2F..%2Fetc/1.0.0', { a: 1 }, 400],
      ['POST', '/global/a%2Fb/1.0.0', { a: 1 }, 400],
      ['POST', '/global/.../1.0.0', { a: 1 }, 400],
      ['POST', '/global/.hidden/1.0.0', { a: 1 }, 400],
      ['POST', '/global/kip/..%2F..%2Fx', { a: 1 }, 400],
      ['POST', '/global/kip/1.0.0/__proto__/x', { a: 1 }, 400],
      ['POST', '/global/kip/1.0.0/a..b', 1, 400],
      ['POST', '/global/kip/1.0.0', '{"__proto__":{"polluted":1}}', 400],
      ['POST', '/global/kip/1.0.0', '{"a":1e999}', 400],
      ['POST', '/global/kip/1.0.0', 'not json', 400],
      ['POST', '/global/kip/1.0.0', JSON.stringify({ big: 'x'.repeat(5000) }), 413],
      ['POST', '/global/kip/1.0.0', '['.repeat(70) + ']'.repeat(70), 400],
      ['POST', `/global/kip/1.0.0/${Array(40).fill('k').join('/')}`, deep(30), 400],
      ['POST', '/global/kip/1.0.0/list/1000000', 1, 400],
      ['POST', '/other/kip/1.0.0', { a: 1 }, 404],
      ['PUT', '/global/kip/1.0.0', { a: 1 }, 405],
      ['POST', `/global/${'a'.repeat(30)}/1.0.0`, { a: 1 }, 400],
      ['GET', '/global/kip/%E0%A4%A', undefined, 400],
    ]
    await call('POST', '/global/kip/1.0.0', { list: [] })
    for (const [method, path, body, status] of hostile) {
      const res = await call(method, path, body)
      expect([method, path, res.status]).toEqual([method, path, status])
      expect(res.headers.get('content-type')).toContain('application/problem+json')
    }
    expect((await json('/global/kip/1.0.0')).body).toEqual({ list: [] })
    expect((await json('/global/kip')).body).toEqual(['1.0.0'])
    expect(existsSync(join(persistDir, 'etc'))).toBe(false)
    expect(({} as any).polluted).toBeUndefined()
  })

  it('refuses a patch that would copy without bound, or holds too many operations', async () => {
    running = await startServer()
    await call('POST', '/global/kip/1.0.0', { a: 'x'.repeat(1000) })
    // Each copy of the root doubles the document: 40 of them would need a terabyte.
    const doubling = Array.from({ length: 40 }, (_, i) => ({
      op: 'copy',
      from: '',
      path: `/c${i}`,
    }))
    const res = await call('POST', '/global/kip/1.0.0', doubling)
    expect(res.status).toBe(413)
    expect(((await res.json()) as any).detail).toContain('copy')
    const many = Array.from({ length: 10_001 }, () => ({ op: 'test', path: '/a', value: 'y' }))
    expect((await call('POST', '/global/kip/1.0.0', many)).status).toBe(413)
    expect((await json('/global/kip/1.0.0')).body).toEqual({ a: 'x'.repeat(1000) })
  })

  it('refuses raw ".." segments that a browser would have resolved away', async () => {
    const persistDir = await tempDir()
    running = await startServer({ persistDir })
    for (const path of [
      '/global/../../../x/1.0.0',
      '/global/kip/../../../../x/1.0.0',
      '/user/..',
    ]) {
      const raw = RawClient.open(Number(new URL(running.url).port))
      const body = '{"a":1}'
      raw.send(
        `POST ${BASE}${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      )
      const res = await raw.response()
      raw.close()
      expect([path, res.status]).toEqual([path, 400])
    }
    expect(existsSync(join(persistDir, 'x'))).toBe(false)
    expect(existsSync(join(persistDir, 'applicationData', 'x'))).toBe(false)
  })

  it('bounds the documents kept and their total size', async () => {
    running = await startServer({ maxAppDataDocuments: 2, maxAppDataBytes: 3000 })
    expect((await call('POST', '/global/a/1.0.0', { x: 1 })).status).toBe(200)
    expect((await call('POST', '/global/b/1.0.0', { x: 'y'.repeat(2000) })).status).toBe(200)
    const third = await call('POST', '/global/c/1.0.0', { x: 1 })
    expect(third.status).toBe(413)
    expect(((await third.json()) as any).code).toBe('KEELSON_ERR_APP_DATA_FULL')
    expect((await call('POST', '/global/a/1.0.0', { x: 'z'.repeat(1500) })).status).toBe(413)
    expect((await json('/global/a/1.0.0')).body).toEqual({ x: 1 })
    // Shrinking a document frees its share.
    expect((await call('POST', '/global/b/1.0.0', { x: 1 })).status).toBe(200)
    expect((await call('POST', '/global/a/1.0.0', { x: 'z'.repeat(1500) })).status).toBe(200)
  })

  it('refuses writes from a foreign page (SPEC §8) and reads for anyone', async () => {
    running = await startServer()
    const res = await call('POST', '/global/kip/1.0.0', { a: 1 }, 'application/json', {
      Origin: 'http://evil.example',
    })
    expect(res.status).toBe(403)
    expect((await json('/global/kip/1.0.0')).body).toEqual({})
  })
})

describe('coerceVersion', () => {
  it('reads versions as semver.coerce does', () => {
    expect(coerceVersion('9.0.0')).toBe('9.0.0')
    expect(coerceVersion('9')).toBe('9.0.0')
    expect(coerceVersion('v1.2')).toBe('1.2.0')
    expect(coerceVersion('007.01.2-beta')).toBe('7.1.2')
    expect(coerceVersion('latest')).toBeUndefined()
    expect(coerceVersion('1'.repeat(17))).toBeUndefined()
  })
})

/** An object nested `levels` deep. */
function deep(levels: number): unknown {
  let out: unknown = 1
  for (let i = 0; i < levels; i++) out = { a: out }
  return out
}
