import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.js'

const API = '/signalk/v1/api'

function app(options = {}) {
  const keelson = createApp({ uuid: '00000000-0000-4000-8000-000000000001', ...options })
  return { keelson, http: request(keelson.app) }
}

const patch = (http: ReturnType<typeof request>, path: string, body: unknown) =>
  http
    .patch(`${API}${path}`)
    .set('Content-Type', 'application/merge-patch+json')
    .send(JSON.stringify(body))

describe('discovery', () => {
  it('lists the v1 endpoints with the request host', async () => {
    const { http } = app()
    const res = await http.get('/signalk').set('Host', 'boat.local:3000').expect(200)
    expect(res.body).toEqual({
      endpoints: {
        v1: {
          version: '1.7.0',
          'signalk-http': 'http://boat.local:3000/signalk/v1/api/',
          'signalk-ws': 'ws://boat.local:3000/signalk/v1/stream',
        },
      },
      server: { id: 'keelson', version: expect.any(String) },
    })
  })
})

describe('GET', () => {
  it('returns the whole tree, a subtree, a primitive and the self string', async () => {
    const { http, keelson } = app()
    await patch(http, '/vessels/self/navigation', { speedOverGround: { value: 3.2 } }).expect(200)
    expect((await http.get(`${API}/`).expect(200)).body.self).toBe(
      `vessels.${keelson.tree.selfKey}`,
    )
    expect((await http.get(`${API}/vessels/self/navigation`).expect(200)).body).toEqual({
      speedOverGround: { value: 3.2 },
    })
    const leaf = await http.get(`${API}/vessels/self/navigation/speedOverGround/value/`).expect(200)
    expect(leaf.text).toBe('3.2')
    expect(leaf.headers['content-type']).toMatch(/^application\/json/)
    expect((await http.get(`${API}/self`).expect(200)).body).toBe(`vessels.${keelson.tree.selfKey}`)
  })

  it('answers a missing path with 404 problem+json', async () => {
    const { http } = app()
    const res = await http.get(`${API}/vessels/self/nothing`).expect(404)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(JSON.parse(res.text)).toEqual({
      type: expect.any(String),
      title: expect.any(String),
      status: 404,
      detail: expect.any(String),
      code: 'KEELSON_ERR_PATH_NOT_FOUND',
      message: expect.any(String),
    })
  })

  it('reads wildcards rooted before the first star', async () => {
    const { http } = app()
    await patch(http, '/vessels/urn:a', { navigation: { sog: 1 }, name: 'A' })
    await patch(http, '/vessels/urn:b', { name: 'B' })
    expect((await http.get(`${API}/vessels/*/navigation`).expect(200)).body).toEqual({
      'urn:a': { navigation: { sog: 1 } },
    })
    expect((await http.get(`${API}/vessels/*/nothing`).expect(200)).body).toEqual({})
    await http.get(`${API}/nowhere/*`).expect(404)
  })

  it('answers 304 when the subtree has not changed, and a new ETag when it has', async () => {
    const { http } = app()
    await patch(http, '/a', { b: { c: 1 }, d: { e: 1 } })
    const first = await http.get(`${API}/a/b`).expect(200)
    const etag = first.headers.etag as string
    expect(etag).toBeTruthy()
    await http.get(`${API}/a/b`).set('If-None-Match', etag).expect(304)
    await patch(http, '/a/d', { e: 2 })
    await http.get(`${API}/a/b`).set('If-None-Match', etag).expect(304)
    await patch(http, '/a/b', { c: 2 })
    const changed = await http.get(`${API}/a/b`).set('If-None-Match', etag).expect(200)
    expect(changed.headers.etag).not.toBe(etag)
  })

  it('gives leaves and wildcard reads ETags that follow their content', async () => {
    const { http } = app()
    await patch(http, '/a', { b: 1, c: 1 })
    const leaf = (await http.get(`${API}/a/b`)).headers.etag as string
    await patch(http, '/a', { c: 2 })
    await http.get(`${API}/a/b`).set('If-None-Match', leaf).expect(304)
    await patch(http, '/a', { b: 2 })
    await http.get(`${API}/a/b`).set('If-None-Match', leaf).expect(200)
    const star = (await http.get(`${API}/*/b`)).headers.etag as string
    await http.get(`${API}/*/b`).set('If-None-Match', `W/${star}, "other"`).expect(304)
  })

  it('allows reads from any origin', async () => {
    const { http } = app()
    const res = await http.get(`${API}/`).set('Origin', 'http://elsewhere.example').expect(200)
    expect(res.headers['access-control-allow-origin']).toBe('*')
    const pre = await http
      .options(`${API}/`)
      .set('Origin', 'http://elsewhere.example')
      .set('Access-Control-Request-Method', 'GET')
      .expect(204)
    expect(pre.headers['access-control-allow-methods']).toMatch(/GET/)
  })
})

describe('reads on the fast path and through express alike', () => {
  it('sends the event id, no-cache and the ETag with every read, and the same on a 304', async () => {
    const { http, keelson } = app()
    await patch(http, '/a', { b: 1 })
    const res = await http.get(`${API}/a`).expect(200)
    expect(res.headers['x-keelson-event-id']).toBe(keelson.tree.eventId)
    expect(res.headers['cache-control']).toBe('no-cache')
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.text)))
    const etag = res.headers.etag as string
    const cached = await http.get(`${API}/a`).set('If-None-Match', etag).expect(304)
    expect(cached.headers.etag).toBe(etag)
    expect(cached.headers['x-keelson-event-id']).toBe(keelson.tree.eventId)
    expect(cached.text).toBe('')
  })

  it('answers HEAD with the headers of GET and no body, errors included', async () => {
    const { http } = app()
    await patch(http, '/a', { b: 1 })
    const get = await http.get(`${API}/a`).expect(200)
    const head = await http.head(`${API}/a`).expect(200)
    expect(head.headers.etag).toBe(get.headers.etag)
    expect(head.headers['content-length']).toBe(get.headers['content-length'])
    expect(head.text).toBeUndefined()
    const missing = await http.head(`${API}/nothing`).expect(404)
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/)
    const sse = await http.head(`${API}/a`).set('Accept', 'text/event-stream').expect(200)
    expect(sse.headers['content-type']).toMatch(/^application\/json/)
  })

  it('sends the CORS read headers to any origin and echoes a listed one', async () => {
    const { http } = app({ corsOrigins: ['http://writer.example'] })
    const any = await http.get(`${API}/`).set('Origin', 'http://elsewhere.example').expect(200)
    expect(any.headers.vary).toBe('Origin')
    expect(any.headers['access-control-allow-origin']).toBe('*')
    expect(any.headers['access-control-expose-headers']).toBe('ETag, X-Keelson-Event-Id')
    const listed = await http.get(`${API}/`).set('Origin', 'http://writer.example').expect(200)
    expect(listed.headers['access-control-allow-origin']).toBe('http://writer.example')
    const missing = await http.get(`${API}/nothing`).set('Origin', 'http://e.example').expect(404)
    expect(missing.headers['access-control-allow-origin']).toBe('*')
    const plain = await http.get(`${API}/`).expect(200)
    expect(plain.headers.vary).toBeUndefined()
  })

  it('answers a malformed percent-encoding with 400 BAD_PATH, for reads and writes', async () => {
    const { http } = app()
    const read = await http.get(`${API}/a/%E0%A4%A`).expect(400)
    expect(JSON.parse(read.text).code).toBe('KEELSON_ERR_BAD_PATH')
    const write = await patch(http, '/a/%E0%A4%A', { b: 1 }).expect(400)
    expect(JSON.parse(write.text).code).toBe('KEELSON_ERR_BAD_PATH')
  })

  it('serves the API root with or without a slash or a query, and nothing next to it', async () => {
    const { http } = app()
    const root = (await http.get(`${API}/`).expect(200)).text
    expect((await http.get(API).expect(200)).text).toBe(root)
    expect((await http.get(`${API}?x=1`).expect(200)).text).toBe(root)
    const next = await http.get('/signalk/v1/apix').expect(404)
    expect(JSON.parse(next.text).code).toBe('KEELSON_ERR_NOT_FOUND')
  })

  it('answers a read that express routes (mount path in other case) the same as the fast path', async () => {
    const { http } = app()
    await patch(http, '/a', { b: 1 })
    const fast = await http.get(`${API}/a`).expect(200)
    const routed = await http.get('/SIGNALK/v1/API/a').expect(200)
    expect(routed.text).toBe(fast.text)
    for (const name of ['etag', 'x-keelson-event-id', 'cache-control', 'content-type'])
      expect(routed.headers[name]).toBe(fast.headers[name])
    await http.get('/SIGNALK/v1/API/nothing').expect(404)
  })
})

describe('writes on the fast path and through express alike', () => {
  it('answers PATCH, PUT, DELETE and refusals that express routes (mount path in other case) the same', async () => {
    const routedKeelson = app()
    const fastKeelson = app()
    const answers = async (http: ReturnType<typeof request>, api: string) => {
      const all = [
        await http
          .patch(`${api}/a`)
          .set('Content-Type', 'application/merge-patch+json')
          .send('{"b":{"c":1}}'),
        await http.put(`${api}/a/b`).set('Content-Type', 'application/json').send('{"d":2}'),
        await http.put(`${api}/a/b`).set('Content-Type', 'text/plain').send('{"d":3}'),
        await http.patch(`${api}/a`).set('Content-Type', 'application/json').send('{"b":'),
        await http.delete(`${api}/a/b`),
        await http.delete(`${api}/a/b`),
        await http.post(`${api}/a`).send('{}'),
      ]
      return all.map((res) => ({
        status: res.status,
        text: res.text,
        type: res.headers['content-type'],
        etag: res.headers.etag,
        id: res.headers['x-keelson-event-id']?.split('.')[1],
        allow: res.headers.allow,
      }))
    }
    const fast = await answers(fastKeelson.http, API)
    expect(fast.map((a) => a.status)).toEqual([200, 200, 415, 400, 204, 404, 405])
    expect(await answers(routedKeelson.http, '/SIGNALK/v1/API')).toEqual(
      fast.map((a) => ({ ...a, etag: a.etag && expect.any(String) })),
    )
    expect(routedKeelson.keelson.tree.get({ segments: [], starAt: -1 })).toEqual(
      fastKeelson.keelson.tree.get({ segments: [], starAt: -1 }),
    )
  })
})

describe('writes', () => {
  it('merges with PATCH, creating parents, and returns the new ETag', async () => {
    const { http } = app()
    const res = await patch(http, '/a/b', { c: 1 }).expect(200)
    expect(res.headers.etag).toBeTruthy()
    expect(res.headers['x-keelson-event-id']).toMatch(/\.1$/)
    await patch(http, '/a/b', { c: null, d: 2 }).expect(200)
    expect((await http.get(`${API}/a`)).body).toEqual({ b: { d: 2 } })
  })

  it('accepts application/json for PATCH', async () => {
    const { http } = app()
    await http
      .patch(`${API}/a`)
      .set('Content-Type', 'application/json; charset=utf-8')
      .send('{"b":1}')
      .expect(200)
  })

  it('replaces with PUT and removes with DELETE', async () => {
    const { http } = app()
    await patch(http, '/a', { b: 1, c: 2 })
    await http.put(`${API}/a`).set('Content-Type', 'application/json').send('{"d":3}').expect(200)
    expect((await http.get(`${API}/a`)).body).toEqual({ d: 3 })
    const del = await http.delete(`${API}/a/d`).expect(204)
    expect(del.headers.etag).toBeUndefined()
    await http.delete(`${API}/a/d`).expect(404)
    await http.put(`${API}/x/y`).set('Content-Type', 'application/json').send('7').expect(200)
    expect((await http.get(`${API}/x/y`)).text).toBe('7')
  })

  it('refuses writes from origins not listed, and allows listed ones', async () => {
    const { http } = app({ corsOrigins: ['http://chart.local'] })
    const bad = await patch(http, '/a', { b: 1 }).set('Origin', 'http://evil.example').expect(403)
    expect(JSON.parse(bad.text).code).toBe('KEELSON_ERR_CORS_ORIGIN')
    const ok = await patch(http, '/a', { b: 1 }).set('Origin', 'http://chart.local').expect(200)
    expect(ok.headers['access-control-allow-origin']).toBe('http://chart.local')
    const pre = await http
      .options(`${API}/a`)
      .set('Origin', 'http://evil.example')
      .set('Access-Control-Request-Method', 'PATCH')
      .expect(204)
    expect(pre.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('answers other methods with 405', async () => {
    const { http } = app()
    const res = await http.post(`${API}/a`).expect(405)
    expect(res.headers.allow).toMatch(/PATCH/)
  })

  const deep = (n: number): string => `${'{"a":'.repeat(n - 1)}{}${'}'.repeat(n - 1)}`
  const bad = (
    name: string,
    status: number,
    code: string,
    send: (http: ReturnType<typeof request>) => request.Test,
  ) => ({
    name,
    status,
    code,
    send,
  })
  const refusals = [
    bad('malformed JSON', 400, 'KEELSON_ERR_BAD_JSON', (h) =>
      h.patch(`${API}/a`).set('Content-Type', 'application/json').send('{"a":'),
    ),
    bad('a wrong content type', 415, 'KEELSON_ERR_UNSUPPORTED_MEDIA_TYPE', (h) =>
      h.patch(`${API}/a`).set('Content-Type', 'text/plain').send('{"a":1}'),
    ),
    bad('merge-patch+json on PUT', 415, 'KEELSON_ERR_UNSUPPORTED_MEDIA_TYPE', (h) =>
      h.put(`${API}/a`).set('Content-Type', 'application/merge-patch+json').send('{"a":1}'),
    ),
    bad('a body over the limit', 413, 'KEELSON_ERR_TOO_LARGE', (h) =>
      h
        .patch(`${API}/a`)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ s: 'x'.repeat(2000) })),
    ),
    bad(
      'a write reaching 65 levels: one path segment and 64 levels of body',
      400,
      'KEELSON_ERR_TOO_DEEP',
      (h) => h.patch(`${API}/a`).set('Content-Type', 'application/json').send(deep(64)),
    ),
    bad(
      'a PUT reaching 65 levels: 60 path segments and 5 levels of body',
      400,
      'KEELSON_ERR_TOO_DEEP',
      (h) =>
        h
          .put(`${API}${'/k'.repeat(60)}`)
          .set('Content-Type', 'application/json')
          .send(deep(5)),
    ),
    bad('a path of 65 segments', 400, 'KEELSON_ERR_TOO_DEEP', (h) =>
      h.get(`${API}${'/k'.repeat(65)}`),
    ),
    bad('a __proto__ key in the body', 400, 'KEELSON_ERR_FORBIDDEN_KEY', (h) =>
      h
        .patch(`${API}/a`)
        .set('Content-Type', 'application/json')
        .send('{"b":1,"c":{"__proto__":{"x":1}}}'),
    ),
    bad('a constructor key in the path', 400, 'KEELSON_ERR_FORBIDDEN_KEY', (h) =>
      h.patch(`${API}/a/constructor`).set('Content-Type', 'application/json').send('{"b":1}'),
    ),
    bad('an empty path segment', 400, 'KEELSON_ERR_BAD_PATH', (h) =>
      h.patch(`${API}/a//b`).set('Content-Type', 'application/json').send('{"b":1}'),
    ),
    bad('a null member in a PUT', 400, 'KEELSON_ERR_NULL_NOT_ALLOWED', (h) =>
      h.put(`${API}/a`).set('Content-Type', 'application/json').send('{"b":1,"c":null}'),
    ),
    bad('a C1 control character (U+0085 NEL) in a path segment', 400, 'KEELSON_ERR_BAD_PATH', (h) =>
      h.put(`${API}/a%C2%85b`).set('Content-Type', 'application/json').send('{"b":1}'),
    ),
    bad('a C1 control character in a read', 400, 'KEELSON_ERR_BAD_PATH', (h) =>
      h.get(`${API}/a%C2%9Fb`),
    ),
    bad('a write at a wildcard', 400, 'KEELSON_ERR_WILDCARD_WRITE', (h) =>
      h.patch(`${API}/*/b`).set('Content-Type', 'application/json').send('{"b":1}'),
    ),
    bad('a primitive PATCH of the root', 400, 'KEELSON_ERR_ROOT_NOT_OBJECT', (h) =>
      h.patch(`${API}/`).set('Content-Type', 'application/json').send('5'),
    ),
  ]

  it.each(refusals)(
    'refuses $name with $status $code and leaves the tree unchanged',
    async ({ status, code, send }) => {
      const { http, keelson } = app({ maxBodyBytes: 1000 })
      const before = JSON.stringify(keelson.tree.get({ segments: [], starAt: -1 }))
      const res = await send(http).expect(status)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(JSON.parse(res.text).code).toBe(code)
      expect(JSON.stringify(keelson.tree.get({ segments: [], starAt: -1 }))).toBe(before)
      expect(keelson.tree.rev).toBe(0)
    },
  )

  it('accepts a write reaching exactly 64 levels from the root of the tree', async () => {
    const { http } = app()
    await http.patch(`${API}/a`).set('Content-Type', 'application/json').send(deep(63)).expect(200)
    await http
      .put(`${API}${'/k'.repeat(60)}`)
      .set('Content-Type', 'application/json')
      .send(deep(4))
      .expect(200)
    await http.get(`${API}${'/k'.repeat(60)}/a/a/a`).expect(200)
  })

  it('accepts nulls inside arrays, which are values', async () => {
    const { http } = app()
    await http
      .put(`${API}/a`)
      .set('Content-Type', 'application/json')
      .send('{"list":[1,null,2]}')
      .expect(200)
    expect((await http.get(`${API}/a/list`)).body).toEqual([1, null, 2])
  })

  it('takes an array holding an object with a null member as a value, on PUT as on PATCH', async () => {
    const { http } = app()
    for (const method of ['put', 'patch'] as const) {
      await http[method](`${API}/${method}`)
        .set('Content-Type', 'application/json')
        .send('[{"a":null}]')
        .expect(200)
      expect((await http.get(`${API}/${method}`)).body).toEqual([{ a: null }])
    }
  })
})

describe('isLoopback', () => {
  it('tells loopback peers from others, so writes without users stay local', async () => {
    const { isLoopback } = await import('../../src/http/guard.js')
    expect(['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true)
    expect(
      ['10.0.0.1', '192.168.1.2', '::ffff:10.0.0.1', 'fe80::1', undefined].some(isLoopback),
    ).toBe(false)
  })
})

describe('the live page', () => {
  it('serves the instrument display at /, a page whose module folds one stream with /client.js', async () => {
    const { http } = app()
    const res = await http.get('/').expect(200)
    expect(res.headers['content-type']).toMatch(/^text\/html/)
    expect(res.text).toContain('/display/')
    const main = await http.get('/display/main.js').expect(200)
    expect(main.text).toContain("import { subscribe } from '/client.js'")
  })
})
