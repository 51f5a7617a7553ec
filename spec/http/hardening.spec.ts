/**
 * The HTTP server's edges, against a real server on port 0: malformed
 * requests on the wire, `Expect: 100-continue`, bodies over the limit,
 * body encoding, hidden forbidden keys, OPTIONS and who may write.
 */
import { request as httpRequest } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import type { KeelsonOptions } from '../../src/options.js'
import { parseResponse, RawClient } from '../support/raw.js'
import { type Running, startServer } from '../support/server.js'

const API = '/signalk/v1/api'
const MiB = 1024 * 1024

let running: Running | undefined
const clients: RawClient[] = []

afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  await running?.close()
  running = undefined
})

/** A running server (its `attach()` installs the server hooks); returns its port. */
async function start(options: Partial<KeelsonOptions> = {}): Promise<number> {
  running = await startServer(options)
  return Number(new URL(running.url).port)
}

/** A raw client of the running server, closed after the test. */
function rawClient(port: number): RawClient {
  const client = RawClient.open(port)
  clients.push(client)
  return client
}

/** Checks `res` is RFC 9457 problem+json with `status` and `code`. */
function expectProblem(res: { status: number; headers: Record<string, unknown>; body: string }) {
  expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8')
  const problem = JSON.parse(res.body)
  expect(problem).toEqual({
    type: `https://keelson.dev/errors/${problem.code}`,
    title: expect.any(String),
    status: res.status,
    detail: expect.any(String),
    code: expect.stringMatching(/^KEELSON_ERR_/),
    message: problem.detail,
  })
  return problem as { code: string; detail: string }
}

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** One request with node's own HTTP client, any headers allowed (`Host` too). */
function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Uint8Array,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method, path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        )
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

const JSON_HEADERS = { 'Content-Type': 'application/json' }

/** A PATCH of `body` (JSON text or bytes) at `path`. */
const patch = (port: number, path: string, body: string | Uint8Array, headers = {}) =>
  send(port, 'PATCH', `${API}${path}`, { ...JSON_HEADERS, ...headers }, body)

const stored = async (port: number, path: string) => {
  const res = await send(port, 'GET', `${API}${path}`)
  return res.status === 404 ? undefined : JSON.parse(res.body)
}

describe('malformed requests on the wire', () => {
  const cases: [string, string, number, string][] = [
    ['an unknown method', 'FOO / HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'KEELSON_ERR_BAD_REQUEST'],
    [
      'Content-Length together with Transfer-Encoding',
      `PATCH ${API}/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        'Content-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{"b":1}\r\n0\r\n\r\n',
      400,
      'KEELSON_ERR_BAD_REQUEST',
    ],
    [
      'a duplicate Content-Length',
      `PATCH ${API}/a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        'Content-Length: 7\r\nContent-Length: 7\r\n\r\n{"b":1}',
      400,
      'KEELSON_ERR_BAD_REQUEST',
    ],
    [
      'oversized headers',
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'KEELSON_ERR_HEADERS_TOO_LARGE',
    ],
  ]
  for (const [what, bytes, status, code] of cases) {
    it(`answers ${what} with ${status} problem+json and closes the connection`, async () => {
      const client = rawClient(await start())
      client.send(bytes)
      const res = await client.response()
      expect(res.status).toBe(status)
      expect(res.headers.connection).toBe('close')
      expect(expectProblem(res).code).toBe(code)
      await client.untilClosed()
      expect(res.rest).toBe('')
    })
  }

  it('answers a malformed request once, whatever follows it on the connection', async () => {
    const port = await start()
    const client = rawClient(port)
    client.send('FOO / HTTP/1.1\r\nHost: x\r\n\r\n')
    client.send('BAR / HTTP/1.1\r\nHost: x\r\n\r\nmore garbage\r\n\r\n')
    await client.untilClosed()
    const res = parseResponse(client.received)!
    expect(res.status).toBe(400)
    expect(res.rest).toBe('')
    expect(await stored(port, '/a')).toBeUndefined()
  })

  it('answers a malformed chunked body of a request being handled with 400 problem+json', async () => {
    const port = await start()
    const client = rawClient(port)
    client.send(
      `PATCH ${API}/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        'Transfer-Encoding: chunked\r\n\r\n7\r\n{"b":1}\r\nzz\r\n',
    )
    const res = await client.response()
    expect(res.status).toBe(400)
    expect(expectProblem(res).code).toBe('KEELSON_ERR_BAD_REQUEST')
    await client.untilClosed()
    expect(res.rest).toBe('')
    expect(await stored(port, '/a')).toBeUndefined()
  })

  it('closes, never answering out of order, when a malformed request is pipelined behind a good one', async () => {
    const client = rawClient(await start())
    client.send(`GET ${API}/self HTTP/1.1\r\nHost: x\r\n\r\nFOO / HTTP/1.1\r\nHost: x\r\n\r\n`)
    await client.untilClosed()
    const first = parseResponse(client.received)!
    expect(first.status).toBe(200)
    expect(first.rest).toBe('')
  })
})

describe('Expect: 100-continue', () => {
  it('answers 413 problem+json without 100 Continue when the declared body is over the limit', async () => {
    const port = await start()
    const client = rawClient(port)
    client.send(
      `PATCH ${API}/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        'Content-Length: 99999999\r\nExpect: 100-continue\r\n\r\n',
    )
    const res = await client.response()
    expect(client.received).not.toMatch(/100 Continue/)
    expect(res.status).toBe(413)
    expect(res.headers.connection).toBe('close')
    expect(expectProblem(res).code).toBe('KEELSON_ERR_TOO_LARGE')
    await client.untilClosed()
  })

  it('sends 100 Continue for a body within the limit, then handles the request', async () => {
    const port = await start()
    const client = rawClient(port)
    const body = '{"b":1}'
    client.send(
      `PATCH ${API}/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`,
    )
    await client.until(() => client.received.includes('\r\n\r\n'))
    expect(client.received).toBe('HTTP/1.1 100 Continue\r\n\r\n')
    client.send(body)
    await client.until(() => parseResponse(client.received.slice(25)) !== undefined)
    const res = parseResponse(client.received.slice(25))!
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toEqual({ b: 1 })
  })
})

describe('bodies over the limit', () => {
  it('closes the connection after a 413 on a chunked body, and says so', async () => {
    const port = await start()
    const client = rawClient(port)
    client.send(
      `PATCH ${API}/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        'Transfer-Encoding: chunked\r\n\r\n',
    )
    const chunk = `{"b":"${'x'.repeat(64 * 1024)}"}`
    for (let sent = 0; sent <= MiB; sent += chunk.length) {
      client.send(`${chunk.length.toString(16)}\r\n${chunk}\r\n`)
    }
    client.send('0\r\n\r\n')
    client.send(`GET ${API}/self HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
    const res = await client.response()
    expect(res.status).toBe(413)
    expect(res.headers.connection).toBe('close')
    expect(expectProblem(res).code).toBe('KEELSON_ERR_TOO_LARGE')
    await client.untilClosed()
    expect(res.rest).toBe('')
    expect(await stored(port, '/a')).toBeUndefined()
  })

  it('answers 413 problem+json with Connection: close when Content-Length is over the limit', async () => {
    const port = await start({ maxBodyBytes: 100 })
    const res = await patch(port, '/a', JSON.stringify({ b: 'x'.repeat(200) }))
    expect(res.status).toBe(413)
    expect(res.headers.connection).toBe('close')
    expect(expectProblem(res).code).toBe('KEELSON_ERR_TOO_LARGE')
    expect(await stored(port, '/a')).toBeUndefined()
  })
})

describe('body encoding and syntax', () => {
  it('refuses a body that is not valid UTF-8 with 400 BAD_JSON, nothing stored', async () => {
    const port = await start()
    const bytes = Buffer.concat([
      Buffer.from('{"b":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ])
    const res = await patch(port, '/a', bytes)
    expect(res.status).toBe(400)
    const problem = expectProblem(res)
    expect(problem.code).toBe('KEELSON_ERR_BAD_JSON')
    expect(problem.detail).toMatch(/UTF-8/)
    expect(await stored(port, '/a')).toBeUndefined()
  })

  it('refuses an overlong UTF-8 encoding and a lone surrogate', async () => {
    const port = await start()
    for (const bad of [
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
    ]) {
      const bytes = Buffer.concat([Buffer.from('{"b":"'), Buffer.from(bad), Buffer.from('"}')])
      expect((await patch(port, '/a', bytes)).status).toBe(400)
    }
    expect(await stored(port, '/a')).toBeUndefined()
  })

  it('ignores a byte order mark before the JSON text (RFC 8259 §8.1)', async () => {
    const port = await start()
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"b":"é"}')])
    expect((await patch(port, '/a', bytes)).status).toBe(200)
    expect(await stored(port, '/a')).toEqual({ b: 'é' })
  })

  it('answers 400 problem+json for bad JSON', async () => {
    const port = await start()
    const res = await patch(port, '/a', '{"b":')
    expect(res.status).toBe(400)
    expect(expectProblem(res).code).toBe('KEELSON_ERR_BAD_JSON')
  })

  it('answers 415 problem+json for a wrong Content-Type', async () => {
    const port = await start()
    const res = await patch(port, '/a', '{"b":1}', { 'Content-Type': 'text/plain' })
    expect(res.status).toBe(415)
    expect(expectProblem(res).code).toBe('KEELSON_ERR_UNSUPPORTED_MEDIA_TYPE')
  })
})

describe('forbidden keys in the JSON text', () => {
  const hidden: [string, string][] = [
    ['a later duplicate hides from JSON.parse', '{"d":{"__proto__":{"x":1}},"d":1}'],
    ['is spelled with escapes', '{"d":{"\\u005f_proto__":{"x":1}},"d":1}'],
    ['is "constructor" hidden by a duplicate', '{"d":{"constructor":{"x":1}},"d":1}'],
    ['is "prototype" spelled with escapes', '{"\\u0070rototype":1}'],
  ]
  for (const [what, body] of hidden) {
    it(`refuses a forbidden key that ${what}`, async () => {
      const port = await start()
      const res = await patch(port, '/a', body)
      expect(res.status).toBe(400)
      expect(expectProblem(res).code).toBe('KEELSON_ERR_FORBIDDEN_KEY')
      expect(await stored(port, '/a')).toBeUndefined()
    })
  }

  it('accepts the forbidden words as string values and inside longer keys', async () => {
    const port = await start()
    const body = '{"note":"__proto__","say":"\\"constructor\\": 1","prototypes":{"x":"\\u0041"}}'
    expect((await patch(port, '/a', body)).status).toBe(200)
    expect(await stored(port, '/a')).toEqual({
      note: '__proto__',
      say: '"constructor": 1',
      prototypes: { x: 'A' },
    })
  })
})

describe('OPTIONS', () => {
  it('answers OPTIONS without Origin under the API with 204 and the methods it allows', async () => {
    const port = await start()
    const res = await send(port, 'OPTIONS', `${API}/vessels/self`)
    expect(res.status).toBe(204)
    expect(res.headers.allow).toBe('GET, HEAD, PATCH, PUT, DELETE, OPTIONS')
  })

  it('lists the same methods in Allow on a CORS preflight under the API', async () => {
    const port = await start({ corsOrigins: ['http://chart.local'] })
    const res = await send(port, 'OPTIONS', `${API}/a`, {
      Origin: 'http://chart.local',
      'Access-Control-Request-Method': 'PATCH',
    })
    expect(res.status).toBe(204)
    expect(res.headers.allow).toBe('GET, HEAD, PATCH, PUT, DELETE, OPTIONS')
    expect(res.headers['access-control-allow-methods']).toBe('GET, HEAD, PATCH, PUT, DELETE')
  })
})

describe('who may write with no users (SPEC §8, no DNS rebinding)', () => {
  it('refuses a write whose Host is not a loopback name', async () => {
    const port = await start()
    const res = await patch(port, '/a', '{"b":1}', { Host: 'evil.example' })
    expect(res.status).toBe(403)
    expect(expectProblem(res).code).toBe('KEELSON_ERR_HOST_NOT_ALLOWED')
    expect(await stored(port, '/a')).toBeUndefined()
  })

  it('refuses a write from a foreign Origin', async () => {
    const port = await start()
    const res = await patch(port, '/a', '{"b":1}', { Origin: 'http://evil.example' })
    expect(res.status).toBe(403)
    expect(expectProblem(res).code).toBe('KEELSON_ERR_CORS_ORIGIN')
  })

  it('refuses a write whose Origin is its own non-loopback Host (a rebound name)', async () => {
    const port = await start()
    const res = await patch(port, '/a', '{"b":1}', {
      Host: `attacker.example:${port}`,
      Origin: `http://attacker.example:${port}`,
    })
    expect(res.status).toBe(403)
    expect(expectProblem(res).code).toBe('KEELSON_ERR_CORS_ORIGIN')
    expect(await stored(port, '/a')).toBeUndefined()
  })

  it('accepts a write from a page of this server on localhost', async () => {
    const port = await start()
    const res = await patch(port, '/a', '{"b":1}', {
      Host: `localhost:${port}`,
      Origin: `http://localhost:${port}`,
    })
    expect(res.status).toBe(200)
    expect(await stored(port, '/a')).toEqual({ b: 1 })
  })

  it('accepts a write from a local client that sends no Origin', async () => {
    const port = await start()
    const res = await patch(port, '/a', '{"b":1}', { Host: `127.0.0.1:${port}` })
    expect(res.status).toBe(200)
  })

  it('refuses PUT and DELETE from a foreign Host as it refuses PATCH', async () => {
    const port = await start()
    await patch(port, '/a', '{"b":1}')
    const put = await send(port, 'PUT', `${API}/a`, { ...JSON_HEADERS, Host: 'evil.example' }, '1')
    expect(put.status).toBe(403)
    const del = await send(port, 'DELETE', `${API}/a`, { Host: 'evil.example' })
    expect(del.status).toBe(403)
    expect(await stored(port, '/a')).toEqual({ b: 1 })
  })
})
