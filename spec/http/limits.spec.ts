import { once } from 'node:events'
import { createServer as createTlsServer, request as httpsRequest } from 'node:https'
import { type AddressInfo, connect, createServer as createNetServer, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { afterEach, describe, expect, it, vi } from 'vitest'
import WebSocket from 'ws'
import { createApp } from '../../src/app.js'
import { ConnectionLimits } from '../../src/http/limits.js'
import { RawClient } from '../support/raw.js'
import { type Running, startServer } from '../support/server.js'
import { SseClient } from '../support/sse-client.js'
import { hasOpenssl, selfSigned } from '../support/tls.js'

let running: Running | undefined
const clients: { close(): void }[] = []

afterEach(async () => {
  vi.useRealTimers()
  for (const client of clients.splice(0)) client.close()
  await running?.close()
  running = undefined
})

function portOf(run: Running): number {
  return Number(new URL(run.url).port)
}

/** `n` connections the server has accepted and answered once, kept open. */
async function hold(port: number, n: number): Promise<RawClient[]> {
  const held: RawClient[] = []
  for (let i = 0; i < n; i++) {
    const client = await RawClient.connect(port)
    clients.push(client)
    client.send('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n')
    expect((await client.response()).status).toBe(200)
    held.push(client)
  }
  return held
}

/** A figure of the app's `/metrics` registry, read in-process (a scrape would take a connection). */
async function figure(run: Running, name: string, labels: Record<string, string> = {}) {
  const metric = run.keelson.metrics.registry.getSingleMetric(name)
  const { values } = await metric!.get()
  const found = values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
  return found?.value ?? 0
}

/** Waits on the event loop's check phase, which fake timers leave alone. */
async function until(predicate: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    if (await predicate()) return
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error('never held')
}

const PATCH =
  'PATCH /signalk/v1/api/vessels/self/limits HTTP/1.1\r\nHost: localhost\r\n' +
  'Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}'

describe('connection limits', () => {
  it('answers the connection past the per-IP limit 429 with Retry-After and Connection: close, and runs none of its request', async () => {
    running = await startServer({ maxConnectionsPerIp: 5 })
    const port = portOf(running)
    await hold(port, 5)
    const rev = running.keelson.tree.rev

    const sixth = await RawClient.connect(port)
    clients.push(sixth)
    sixth.send(PATCH)
    const res = await sixth.response()
    expect(res.status).toBe(429)
    expect(res.headers.connection).toBe('close')
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8')
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(5)
    expect(JSON.parse(res.body)).toMatchObject({
      status: 429,
      code: 'KEELSON_ERR_TOO_MANY_CONNECTIONS',
      detail: expect.stringMatching(/from your address/),
    })
    await sixth.untilClosed()
    expect(running.keelson.tree.rev).toBe(rev)
    expect(await figure(running, 'keelson_connections_refused_total', { reason: 'per_ip' })).toBe(1)
  })

  it('lets a new connection in once one closes, and shows the open connections in /metrics', async () => {
    running = await startServer({ maxConnectionsPerIp: 3 })
    const port = portOf(running)
    const [first] = await hold(port, 3)
    expect(await figure(running, 'keelson_connections_open')).toBe(3)
    const refused = await RawClient.connect(port)
    refused.send('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n')
    expect((await refused.response()).status).toBe(429)
    refused.close()

    first!.close()
    const run = running
    await until(async () => (await figure(run, 'keelson_connections_open')) === 2)
    const metrics = await fetch(`${running.url}/metrics`)
    expect(metrics.status).toBe(200)
    const text = await metrics.text()
    expect(text).toMatch(/^keelson_connections_open 3$/m)
    expect(text).toMatch(/^keelson_connections_refused_total\{reason="per_ip"\} 1$/m)
    expect(text).toMatch(/^keelson_connections_refused_total\{reason="total"\} 0$/m)
    expect(text).toMatch(/^keelson_connections_limit\{scope="per_ip"\} 3$/m)
  })

  it('refuses past the total limit too, whatever the address, and fetch reads the 429', async () => {
    running = await startServer({ maxConnections: 2, maxConnectionsPerIp: 100 })
    await hold(portOf(running), 2)
    const res = await fetch(`${running.url}/healthz`)
    expect(res.status).toBe(429)
    expect(res.headers.get('retry-after')).toMatch(/^[1-5]$/)
    expect(await res.json()).toMatchObject({
      code: 'KEELSON_ERR_TOO_MANY_CONNECTIONS',
      detail: expect.stringMatching(/as many connections as it allows/),
    })
    expect(await figure(running, 'keelson_connections_refused_total', { reason: 'total' })).toBe(1)
  })

  it('counts each client IP apart: another address is not held back by a full one', async () => {
    running = await startServer({ maxConnectionsPerIp: 1 })
    const port = portOf(running)
    await hold(port, 1)
    // Linux routes all of 127/8 to loopback: 127.0.0.2 is another client.
    const other = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' })
    clients.push({ close: () => other.destroy() })
    other.on('error', () => {})
    let received = ''
    other.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1')
    })
    other.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n')
    await until(() => received.includes('\r\n\r\n'))
    expect(received).toMatch(/^HTTP\/1\.1 200 /)
  })

  it('answers a WebSocket upgrade past the limit 429 on its socket and never opens it', async () => {
    running = await startServer({ maxConnectionsPerIp: 1 })
    const port = portOf(running)
    await hold(port, 1)
    const ws = new WebSocket(`ws://127.0.0.1:${port}/signalk/v1/stream?subscribe=none`)
    const [, res] = (await once(ws, 'unexpected-response')) as [
      unknown,
      { statusCode: number; headers: Record<string, string>; destroy(): void },
    ]
    expect(res.statusCode).toBe(429)
    expect(res.headers['retry-after']).toMatch(/^[1-5]$/)
    res.destroy()
    expect(running.keelson.signalk.size).toBe(0)
  })

  it('frees the count of every connection when it closes, however it ends', async () => {
    running = await startServer({ maxConnectionsPerIp: 3 })
    const port = portOf(running)
    const sse = await SseClient.open(`${running.url}/signalk/v1/api/vessels/self`)
    const ws = new WebSocket(`ws://127.0.0.1:${port}/signalk/v1/stream?subscribe=none`)
    await once(ws, 'message')
    const [plain] = await hold(port, 1)
    expect(await figure(running, 'keelson_connections_open')).toBe(3)

    sse.close()
    ws.terminate()
    plain!.close()
    const run = running
    await until(async () => (await figure(run, 'keelson_connections_open')) === 0)
    await hold(port, 3)
    expect(await figure(running, 'keelson_connections_refused_total', { reason: 'per_ip' })).toBe(0)
  })

  it('destroys a refused connection that sends nothing within 5 seconds', async () => {
    running = await startServer({ maxConnectionsPerIp: 1 })
    const port = portOf(running)
    await hold(port, 1)
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const silent = connect(port, '127.0.0.1')
    clients.push({ close: () => silent.destroy() })
    let closed = false
    silent.on('close', () => {
      closed = true
    })
    const run = running
    await until(
      async () =>
        (await figure(run, 'keelson_connections_refused_total', { reason: 'per_ip' })) === 1,
    )
    vi.advanceTimersByTime(4999)
    await new Promise((resolve) => setImmediate(resolve))
    expect(closed).toBe(false)
    vi.advanceTimersByTime(1)
    await until(() => closed)
  })

  it.skipIf(!hasOpenssl())(
    'answers a connection past the limit over TLS with a 429 the client reads after the handshake',
    async () => {
      const tls = selfSigned()
      clients.push({ close: () => tls.remove() })
      const keelson = createApp({ maxConnectionsPerIp: 1 })
      const server = createTlsServer({ cert: tls.cert, key: tls.key }, keelson.app)
      keelson.attach(server)
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      const { port } = server.address() as AddressInfo
      running = {
        keelson,
        server,
        url: `https://127.0.0.1:${port}`,
        close: async () => {
          keelson.close()
          server.closeAllConnections()
          await new Promise<void>((resolve) => server.close(() => resolve()))
        },
      }
      const first = tlsConnect({ port, host: '127.0.0.1', ca: tls.cert, servername: 'localhost' })
      clients.push({ close: () => first.destroy() })
      await once(first, 'secureConnect')

      const status = await new Promise<{ status: number; retryAfter: string | undefined }>(
        (resolve, reject) => {
          const req = httpsRequest(
            {
              port,
              host: '127.0.0.1',
              path: '/healthz',
              ca: tls.cert,
              servername: 'localhost',
              agent: false,
            },
            (res) => {
              res.resume()
              resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] })
            },
          )
          req.on('error', reject)
          req.end()
        },
      )
      expect(status.status).toBe(429)
      expect(status.retryAfter).toMatch(/^[1-5]$/)
    },
  )
})

describe('ConnectionLimits', () => {
  /** Real connections from `addresses` (local addresses on 127/8), each tracked by `limits`. */
  async function tracked(limits: ConnectionLimits, addresses: string[]) {
    const accepted: Socket[] = []
    const server = createNetServer((socket) => {
      limits.track(socket)
      accepted.push(socket)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    const sockets = addresses.map((localAddress) =>
      connect({ port, host: '127.0.0.1', localAddress }),
    )
    await until(() => accepted.length === addresses.length)
    return {
      async close() {
        for (const socket of sockets) socket.destroy()
        await until(() => limits.open === 0)
        await new Promise<void>((resolve) => server.close(() => resolve()))
      },
    }
  }

  it('keeps a count per IP only while that IP has a connection open', async () => {
    const limits = new ConnectionLimits({ maxConnections: 10, maxConnectionsPerIp: 10 })
    const open = await tracked(limits, ['127.0.0.1', '127.0.0.2', '127.0.0.2'])
    expect(limits.open).toBe(3)
    expect(limits.ips).toBe(2)
    expect(limits.openFrom('127.0.0.2')).toBe(2)
    expect(limits.openFrom('::ffff:127.0.0.2')).toBe(2)
    await open.close()
    expect(limits.ips).toBe(0)
  })

  it('names the per-IP limit first and counts each refusal by its limit', async () => {
    const limits = new ConnectionLimits({ maxConnections: 2, maxConnectionsPerIp: 1 })
    const open = await tracked(limits, ['127.0.0.1', '127.0.0.1', '127.0.0.2'])
    expect(limits.refusal('127.0.0.1')).toBe('per_ip')
    expect(limits.refusal('127.0.0.2')).toBe('total')
    expect(limits.refusal('127.0.0.3')).toBe('total')
    expect(limits.refused).toEqual({ total: 2, per_ip: 1 })
    await open.close()
    expect(limits.refusal('127.0.0.1')).toBeUndefined()
  })
})
