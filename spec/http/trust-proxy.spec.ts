/**
 * `--trust-proxy` (src/http/proxy.ts): behind a trusted proxy keelson sees
 * the client as the proxy saw it (address, scheme, host); from any other
 * peer the forwarded headers are ignored. Real servers on port 0, requests
 * with raw `node:http` (fetch may not set `Host`).
 */
import { once } from 'node:events'
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { networkInterfaces } from 'node:os'
import express from 'express'
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { WebSocket } from 'ws'
import { createApp, type Keelson } from '../../src/app.js'
import { clientAddress, compileProxyTrust } from '../../src/http/proxy.js'
import type { KeelsonOptions } from '../../src/options.js'
import { CLI_TIMEOUT_MS, runKeelson } from '../support/keelson-cli.js'
import { PASSWORD, type Secured, startSecured } from '../support/secured.js'

const API = '/signalk/v1/api'
const OUTSIDE = '203.0.113.7'

let running: { keelson: Keelson; close(): Promise<void> } | Secured | undefined
let plain: Server | undefined

afterEach(async () => {
  await running?.close()
  running = undefined
  if (plain) {
    plain.closeAllConnections()
    plain.close()
    await once(plain, 'close')
    plain = undefined
  }
})

/** A keelson on `host` (127.0.0.1 unless told), port 0; its port. */
async function start(options: Partial<KeelsonOptions>, host = '127.0.0.1'): Promise<number> {
  const keelson = createApp(options)
  const server = createServer(keelson.app)
  keelson.attach(server)
  running = {
    keelson,
    async close() {
      keelson.close()
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
  server.listen(0, host)
  await once(server, 'listening')
  return (server.address() as AddressInfo).port
}

interface Answer {
  status: number
  headers: IncomingMessage['headers']
  body: string
}

/** One request to `port` from `from` (127.0.0.1 unless told), with exactly these headers. */
function ask(
  port: number,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string },
  from = '127.0.0.1',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: from,
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: { Host: `localhost:${port}`, ...options.headers },
        agent: false,
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk) => {
          body += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
      },
    )
    req.on('error', reject)
    req.end(options.body)
  })
}

let written = 0

/** A merge-patch write of `/a` (a new value each time) with these headers; `ok` or its error code. */
async function write(port: number, headers: Record<string, string>, from?: string) {
  const res = await ask(
    port,
    {
      method: 'PATCH',
      path: `${API}/a`,
      headers: { 'Content-Type': 'application/merge-patch+json', ...headers },
      body: JSON.stringify({ b: ++written }),
    },
    from,
  )
  return res.status === 200 ? 'ok' : (JSON.parse(res.body) as { code: string }).code
}

/** Discovery's two URLs as answered to a request with these headers. */
async function discovery(port: number, headers: Record<string, string>, from?: string) {
  const res = await ask(port, { path: '/signalk', headers }, from)
  const v1 = JSON.parse(res.body).endpoints.v1
  return [v1['signalk-http'], v1['signalk-ws']]
}

/** A non-loopback IPv4 address of this machine, if it has one. */
function lanAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address
}

describe('--trust-proxy off (the default)', () => {
  it('ignores X-Forwarded-For, -Proto and -Host: the socket is the client', async () => {
    const port = await start({})
    const forwarded = {
      'X-Forwarded-For': OUTSIDE,
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Host': 'boat.example',
    }
    expect(await discovery(port, forwarded)).toEqual([
      `http://localhost:${port}${API}/`,
      `ws://localhost:${port}/signalk/v1/stream`,
    ])
    // A local client stays local whatever it forwards.
    expect(await write(port, forwarded)).toBe('ok')
  })
})

describe('--trust-proxy loopback, a request through the proxy', () => {
  it('names the scheme and host the client asked the proxy for in discovery', async () => {
    const port = await start({ trustProxy: ['loopback'] })
    expect(await discovery(port, { Host: 'boat.example', 'X-Forwarded-Proto': 'https' })).toEqual([
      `https://boat.example${API}/`,
      'wss://boat.example/signalk/v1/stream',
    ])
    expect(
      await discovery(port, {
        'X-Forwarded-Proto': 'https, http',
        'X-Forwarded-Host': 'boat.example:8443',
      }),
    ).toEqual([`https://boat.example:8443${API}/`, 'wss://boat.example:8443/signalk/v1/stream'])
    // No X-Forwarded-Proto, or one that is no scheme: the proxy's own connection's.
    for (const proto of [undefined, 'gopher', 'x'.repeat(8000)]) {
      const headers: Record<string, string> =
        proto === undefined ? {} : { 'X-Forwarded-Proto': proto }
      expect((await discovery(port, headers))[1]).toBe(`ws://localhost:${port}/signalk/v1/stream`)
    }
  })

  it('takes writes while no users exist only when the forwarded client is local', async () => {
    const port = await start({ trustProxy: ['loopback'] })
    expect(await write(port, { 'X-Forwarded-For': OUTSIDE })).toBe('KEELSON_ERR_WRITE_NOT_LOCAL')
    // The client's own X-Forwarded-For entries come first; the proxy appends the address it saw.
    expect(await write(port, { 'X-Forwarded-For': `127.0.0.1, ${OUTSIDE}` })).toBe(
      'KEELSON_ERR_WRITE_NOT_LOCAL',
    )
    expect(await write(port, { 'X-Forwarded-For': `${OUTSIDE}, ::1` })).toBe(
      'KEELSON_ERR_WRITE_NOT_LOCAL',
    )
    expect(await write(port, { 'X-Forwarded-For': '127.0.0.1' })).toBe('ok')
    // A proxy that forwards nothing is itself the client.
    expect(await write(port, {})).toBe('ok')
    expect(running!.keelson.tree.rev).toBe(2)
  })

  it('survives hostile X-Forwarded-For values: huge, many hops, junk', async () => {
    const port = await start({ trustProxy: ['loopback'] })
    for (const header of [
      `${'127.0.0.1,'.repeat(1500)}${OUTSIDE}`,
      `${OUTSIDE},${'127.0.0.1, '.repeat(1400)}`,
      ` , ,,${'x'.repeat(12_000)}`,
      'not an address',
      '::ffff:203.0.113.7',
    ]) {
      expect(await write(port, { 'X-Forwarded-For': header })).toBe('KEELSON_ERR_WRITE_NOT_LOCAL')
    }
    // Every hop a loopback proxy: the left-most is the client.
    expect(await write(port, { 'X-Forwarded-For': `${'127.0.0.1, '.repeat(1400)}::1` })).toBe('ok')
  })

  it('checks a write Origin against the scheme and host the client used', async () => {
    const port = await start({ trustProxy: ['loopback'] })
    const through = { 'X-Forwarded-For': '127.0.0.1', 'X-Forwarded-Proto': 'https' }
    expect(await write(port, { ...through, Host: 'localhost', Origin: 'https://localhost' })).toBe(
      'ok',
    )
    expect(
      await write(port, { ...through, Host: 'localhost:8443', Origin: 'https://localhost:8443' }),
    ).toBe('ok')
    // The server's own port and scheme are no longer what the browser used.
    expect(
      await write(port, { ...through, Host: 'localhost', Origin: `http://localhost:${port}` }),
    ).toBe('KEELSON_ERR_CORS_ORIGIN')
    // X-Forwarded-Host is the Host that the rebinding check reads.
    expect(
      await write(port, { ...through, Host: 'localhost', 'X-Forwarded-Host': 'attacker.example' }),
    ).toBe('KEELSON_ERR_HOST_NOT_ALLOWED')
  })

  it('refuses deltas on a WebSocket upgraded for a forwarded client that is not local', async () => {
    const port = await start({ trustProxy: ['loopback'] })
    const upgrade = async (forwardedFor: string) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/signalk/v1/stream?subscribe=none`, {
        headers: { Host: `localhost:${port}`, 'X-Forwarded-For': forwardedFor },
      })
      const replies: { requestId?: string; code?: string }[] = []
      ws.on('message', (data) => replies.push(JSON.parse(String(data))))
      await once(ws, 'open')
      ws.send(
        JSON.stringify({ requestId: 'w', updates: [{ values: [{ path: 'a.b', value: 1 }] }] }),
      )
      return { ws, replies }
    }
    const outside = await upgrade(OUTSIDE)
    await vi.waitFor(() => expect(outside.replies.some((m) => m.requestId === 'w')).toBe(true))
    expect(outside.replies.find((m) => m.requestId === 'w')!.code).toBe(
      'KEELSON_ERR_WRITE_NOT_LOCAL',
    )
    expect(running!.keelson.tree.rev).toBe(0)
    // A local client of the proxy writes (a delta accepted is not answered).
    const local = await upgrade('127.0.0.1')
    await vi.waitFor(() => expect(running!.keelson.tree.rev).toBe(1))
    expect(local.replies.some((m) => m.requestId === 'w')).toBe(false)
    outside.ws.terminate()
    local.ws.terminate()
  })
})

describe('a peer that is not a trusted proxy', () => {
  it('cannot pass the local-write rule by sending X-Forwarded-For: 127.0.0.1', async () => {
    const lan = lanAddress()
    if (!lan) return
    const port = await start({ trustProxy: ['loopback'] }, '0.0.0.0')
    const spoofed = {
      Host: 'localhost',
      'X-Forwarded-For': '127.0.0.1',
      'X-Forwarded-Proto': 'https',
    }
    expect(await write(port, spoofed, lan)).toBe('KEELSON_ERR_WRITE_NOT_LOCAL')
    expect((await discovery(port, spoofed, lan))[1]).toBe('ws://localhost/signalk/v1/stream')
    expect(running!.keelson.tree.rev).toBe(0)
  })

  it('has its forwarded headers ignored when another address is the trusted proxy', async () => {
    // 127.0.0.1 is not 127.0.0.2: were its X-Forwarded-For read, the write would be refused.
    const port = await start({ trustProxy: ['127.0.0.2'] })
    expect(await write(port, { 'X-Forwarded-For': OUTSIDE })).toBe('ok')
  })
})

describe('login limits per forwarded client', () => {
  const login = (port: number, forwardedFor: string) =>
    ask(port, {
      method: 'POST',
      path: '/signalk/v1/auth/login',
      headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': forwardedFor },
      body: JSON.stringify({ username: 'skipper', password: 'a guess' }),
    }).then((res) => res.status)

  it('counts login attempts per client behind a trusted proxy, not per proxy', async () => {
    running = await startSecured({
      users: [{ name: 'skipper', type: 'readwrite' }],
      options: { maxLoginAttempts: 2, trustProxy: ['loopback'] },
    })
    const { port } = running as Secured
    expect([await login(port, OUTSIDE), await login(port, OUTSIDE)]).toEqual([401, 401])
    expect(await login(port, OUTSIDE)).toBe(429)
    // Another client of the same proxy has its own window.
    expect(await login(port, '198.51.100.9')).toBe(401)
    // And so on the WebSocket: its login message counts for the client of the upgrade.
    const wsLogin = async (forwardedFor: string) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/signalk/v1/stream?subscribe=none`, {
        headers: { 'X-Forwarded-For': forwardedFor },
      })
      const replies: { requestId?: string; statusCode?: number }[] = []
      ws.on('message', (data) => replies.push(JSON.parse(String(data))))
      await once(ws, 'open')
      ws.send(JSON.stringify({ requestId: 'l', login: { username: 'skipper', password: 'no' } }))
      await vi.waitFor(() => expect(replies.some((m) => m.requestId === 'l')).toBe(true))
      ws.terminate()
      return replies.find((m) => m.requestId === 'l')!.statusCode
    }
    expect(await wsLogin(OUTSIDE)).toBe(429)
    expect(await wsLogin('198.51.100.10')).toBe(401)
  })

  it('marks the token cookie Secure when the client reached the trusted proxy over TLS', async () => {
    running = await startSecured({
      users: [{ name: 'skipper', type: 'readwrite' }],
      options: { trustProxy: ['loopback'] },
    })
    const cookieOf = async (headers: Record<string, string>) => {
      const res = await ask((running as Secured).port, {
        method: 'POST',
        path: '/signalk/v1/auth/login',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify({ username: 'skipper', password: PASSWORD }),
      })
      expect(res.status).toBe(200)
      return String(res.headers['set-cookie'])
    }
    expect(await cookieOf({ 'X-Forwarded-Proto': 'https' })).toMatch(/; Secure/)
    expect(await cookieOf({})).not.toMatch(/Secure/)
  })

  it("takes keelson's own page behind a TLS proxy for same-site: a cookie write from it passes, a foreign one does not", async () => {
    for (const trusted of [true, false]) {
      running = await startSecured({
        users: [{ name: 'skipper', type: 'readwrite' }],
        options: trusted ? { trustProxy: ['loopback'] } : {},
      })
      const { port } = running as Secured
      const login = await ask(port, {
        method: 'POST',
        path: '/signalk/v1/auth/login',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: 'skipper', password: PASSWORD }),
      })
      const cookie = String(login.headers['set-cookie']).split(';')[0]!
      // The browser is on https://boat.example (nginx with TLS); nginx forwards scheme and host.
      const write = (origin: string) =>
        ask(port, {
          method: 'PATCH',
          path: '/signalk/v1/api/vessels/self/n',
          headers: {
            'Content-Type': 'application/merge-patch+json',
            Cookie: cookie,
            Origin: origin,
            'X-Forwarded-Proto': 'https',
            'X-Forwarded-Host': 'boat.example',
          },
          body: '{"x":1}',
        })
      expect((await write('https://boat.example')).status).toBe(trusted ? 200 : 403)
      expect((await write('https://attacker.example')).status).toBe(403)
      await running.close()
      running = undefined
    }
  })

  it('counts every client of an untrusted peer as that peer', async () => {
    running = await startSecured({
      users: [{ name: 'skipper', type: 'readwrite' }],
      options: { maxLoginAttempts: 2 },
    })
    const { port } = running as Secured
    expect([await login(port, OUTSIDE), await login(port, '198.51.100.9')]).toEqual([401, 401])
    expect(await login(port, '198.51.100.10')).toBe(429)
  })
})

describe('a bad --trust-proxy', () => {
  it(
    'stops keelson at start with exit status 2, naming the flag and the entry',
    async () => {
      const { code, stderr } = await runKeelson(['--trust-proxy', 'loopback,192.168.1.300'], {
        env: { KEELSON_NO_DEMO: '1' },
      })
      expect(code).toBe(2)
      expect(stderr).toMatch(/^keelson: --trust-proxy must be loopback, .*192\.168\.1\.300/)
      const variable = await runKeelson([], { env: { KEELSON_TRUST_PROXY: '*' } })
      expect(variable.code).toBe(2)
      expect(variable.stderr).toMatch(/^keelson: KEELSON_TRUST_PROXY \(--trust-proxy\) must be/)
    },
    CLI_TIMEOUT_MS,
  )
})

describe('clientAddress', () => {
  it('answers as express req.ip (proxy-addr) for any X-Forwarded-For and trust list', async () => {
    // The oracle: express's own req.ip under the same trust function, on the same request.
    const app = express()
    let trust = compileProxyTrust([])
    const seen: [string | undefined, string | undefined][] = []
    app.use((req, res) => {
      app.set('trust proxy', trust)
      seen.push([clientAddress(req, trust), req.ip])
      res.end()
    })
    plain = createServer(app)
    plain.listen(0, '127.0.0.1')
    await once(plain, 'listening')
    const port = (plain.address() as AddressInfo).port
    const hop = fc.constantFrom(
      '127.0.0.1',
      '::1',
      '10.0.0.1',
      '10.1.2.3',
      OUTSIDE,
      '::ffff:10.0.0.1',
      'fd00::5',
      'junk',
      '',
      ' ',
    )
    const lists = fc.constantFrom(
      [],
      ['loopback'],
      ['loopback', '10.0.0.0/8'],
      ['10.0.0.1'],
      ['uniquelocal'],
      ['127.0.0.1', 'fd00::/8'],
    )
    await fc.assert(
      fc.asyncProperty(
        fc.array(hop, { maxLength: 6 }),
        lists,
        fc.boolean(),
        async (hops, list, spaces) => {
          trust = compileProxyTrust(list)
          seen.length = 0
          await ask(port, {
            path: '/',
            headers: { 'X-Forwarded-For': hops.join(spaces ? ' , ' : ',') },
          })
          expect(seen).toHaveLength(1)
          expect(seen[0]![0]).toBe(seen[0]![1])
        },
      ),
      { numRuns: 150 },
    )
  })

  it('refuses a trust list express would not take, and hop counts', () => {
    expect(() => compileProxyTrust(['loopback', 'nonsense'])).toThrow(/nonsense/)
    expect(() => compileProxyTrust(['2'])).toThrow(/hop count/)
    expect(() => compileProxyTrust(['10.0.0.0/40'])).toThrow(TypeError)
  })
})
