/**
 * docs/nginx.conf (README "Behind nginx") in front of a cluster of real
 * `keelson --redis` processes, through a real nginx: the doc's own upstream,
 * map and location blocks, with only the node addresses, the listen port and
 * the certificate paths put in, plus what a run as a child process in a temp
 * dir needs. SSE over HTTPS and HTTP/2 unbuffered, the Signal K WebSocket
 * upgraded, fleet telemetry kept on its node, REST and discovery through the
 * proxy, a body too large and a foreign Host refused, a client of nginx that
 * is not on the nodes' machine refused writes while no users exist (the
 * nodes trust nginx, `--trust-proxy loopback`, and take the client's address
 * from X-Forwarded-For), and a stream resumed on the other node after its
 * own is killed.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { connect as h2connect } from 'node:http2'
import { request } from 'node:https'
import { connect as tcpConnect } from 'node:net'
import { networkInterfaces, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { applyMergePatch } from '../../src/client/merge-patch.js'
import { CLI_TIMEOUT_MS, startKeelson } from '../support/keelson-cli.js'
import { sseEvents } from '../support/raw.js'
import { freePort, type RedisServer, startRedis } from '../support/redis.js'
import { hasOpenssl, type SelfSigned, selfSigned } from '../support/tls.js'
import { until } from './support.js'

const DOC = fileURLToPath(new URL('../../docs/nginx.conf', import.meta.url))

/** The nginx binary (Debian's `nginx` package; /usr/sbin is not on every user's PATH), if any. */
const NGINX = ['nginx', '/usr/sbin/nginx'].find((bin) => {
  try {
    execFileSync(bin, ['-v'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})
const skip = NGINX === undefined || !hasOpenssl()

/**
 * A non-loopback IPv4 address of this machine, if any: nginx listens there
 * too, and a client connecting to it comes from it, not from loopback.
 */
const LAN = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address
if (skip) {
  console.warn(
    'spec/cluster/nginx.spec.ts: no nginx (or openssl) here; docs/nginx.conf is not tried (.ci/run installs both)',
  )
}

/**
 * How soon an event written through nginx must reach a stream through it.
 * It takes milliseconds; a buffered stream gets nothing at all until some
 * KiB pile up (the control with X-Accel-Buffering ignored shows it), so the
 * margin for a busy machine costs the check no power.
 */
const PROMPT_MS = 1500

/** Where the doc's config is put into effect: node addresses, listen port, certificate, temp dir. */
interface Placement {
  nodes: readonly string[]
  /** The addresses nginx listens on, at `port` (127.0.0.1, and a LAN address when there is one). */
  addresses: readonly string[]
  port: number
  certFile: string
  keyFile: string
  dir: string
}

/**
 * The nginx.conf of a test run made from docs/nginx.conf, an http-level
 * snippet: every upstream's `server` lines become one per node (with the
 * doc's parameters), `listen 443` one per address at port and the certificate
 * paths the test's; the rest is the doc's text unchanged. Each substitution
 * must find its target, so a doc whose shape changed fails here rather than
 * letting a different config be tried. Around it: what a non-root run in the
 * foreground needs (pid, logs and temp files in `dir`, `events {}`), with one
 * process, so that a kill leaves no worker behind.
 */
function nginxConfig(doc: string, at: Placement): string {
  const out: string[] = []
  let upstream = false
  let serversPut = false
  const counts = { upstreams: 0, listen: 0, cert: 0, key: 0 }
  for (const line of doc.split('\n')) {
    if (/^\s*upstream\s+\S+\s*\{/.test(line)) {
      upstream = true
      serversPut = false
      counts.upstreams++
    } else if (upstream && /^\s*\}/.test(line)) {
      upstream = false
    }
    const server = upstream ? /^(\s*)server\s+[^\s;]+(.*)$/.exec(line) : null
    if (server) {
      if (!serversPut)
        for (const node of at.nodes) out.push(`${server[1]}server ${node}${server[2]}`)
      serversPut = true
      continue
    }
    let put = line
    if (/^\s*listen\s+443\b/.test(line)) {
      for (const address of at.addresses.slice(1)) {
        out.push(line.replace(/listen\s+443\b/, `listen ${address}:${at.port}`))
      }
      put = line.replace(/listen\s+443\b/, `listen ${at.addresses[0]}:${at.port}`)
      counts.listen++
    } else if (/^\s*ssl_certificate\s/.test(line)) {
      put = line.replace(/ssl_certificate\s+\S+;/, `ssl_certificate ${at.certFile};`)
      counts.cert++
    } else if (/^\s*ssl_certificate_key\s/.test(line)) {
      put = line.replace(/ssl_certificate_key\s+\S+;/, `ssl_certificate_key ${at.keyFile};`)
      counts.key++
    }
    out.push(put)
  }
  if (counts.upstreams < 1 || counts.listen !== 1 || counts.cert !== 1 || counts.key !== 1) {
    throw new Error(`docs/nginx.conf is not shaped as this spec expects: ${JSON.stringify(counts)}`)
  }
  const d = at.dir
  return [
    'daemon off;',
    'master_process off;',
    `pid ${d}/nginx.pid;`,
    `error_log ${d}/error.log notice;`,
    'events {}',
    'http {',
    `    access_log ${d}/access.log;`,
    `    client_body_temp_path ${d}/body;`,
    `    proxy_temp_path ${d}/proxy;`,
    `    fastcgi_temp_path ${d}/fastcgi;`,
    `    uwsgi_temp_path ${d}/uwsgi;`,
    `    scgi_temp_path ${d}/scgi;`,
    ...out.map((l) => (l === '' ? l : `    ${l}`)),
    '}',
    '',
  ].join('\n')
}

/** An nginx child process serving `conf`; resolves once it accepts connections on `port`. */
async function startNginx(conf: string, dir: string, port: number): Promise<ChildProcess> {
  const file = join(dir, 'nginx.conf')
  writeFileSync(file, conf)
  const child = spawn(NGINX!, ['-p', dir, '-c', file, '-e', join(dir, 'error.log')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const log = () => (existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log')) : '')
  const up = await until(async () => child.exitCode !== null || (await accepts(port)), 10_000)
    .then(() => child.exitCode === null)
    .catch(() => false)
  if (!up) {
    child.kill('SIGKILL')
    throw new Error(`nginx did not start: ${output}\n${log()}`)
  }
  return child
}

/** Stops nginx (SIGTERM: its fast shutdown) and waits for its exit. */
async function stopNginx(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
  await exited
  clearTimeout(timer)
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

describe.skipIf(skip)('docs/nginx.conf in front of two keelson --redis nodes', () => {
  let redis: RedisServer
  let tls: SelfSigned
  let dir: string
  let port: number
  let nginx: ChildProcess | undefined
  const nodes: { url: string; child: ChildProcess }[] = []

  /** Starts `keelson --redis` on a free port; resolves once it listens (caught up). */
  async function cliNode(): Promise<{ url: string; child: ChildProcess }> {
    // nginx runs on this machine: the nodes trust it as their proxy (docs/nginx.conf).
    const node = await startKeelson(['--redis', redis.url, '--trust-proxy', 'loopback'], {
      KEELSON_STATE_DIR: dir,
    })
    return { url: node.url.replace('http://', ''), child: node.child }
  }

  beforeAll(async () => {
    redis = await startRedis()
    tls = selfSigned()
    dir = mkdtempSync(join(tmpdir(), 'keelson-nginx-'))
    // The first node makes the cluster's epoch and identity; the second joins it.
    nodes.push(await cliNode())
    nodes.push(await cliNode())
    port = await freePort()
    const conf = nginxConfig(readFileSync(DOC, 'utf8'), {
      nodes: nodes.map((n) => n.url),
      addresses: LAN === undefined ? ['127.0.0.1'] : ['127.0.0.1', LAN],
      port,
      ...certs(),
      dir,
    })
    nginx = await startNginx(conf, dir, port)
  }, 2 * CLI_TIMEOUT_MS)

  afterAll(async () => {
    await stopNginx(nginx)
    for (const node of nodes) node.child.kill('SIGKILL')
    await redis?.close()
    tls?.remove()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  /**
   * A request through nginx over HTTPS (HTTP/1.1), trusting only the test
   * certificate; to nginx's address `via` (127.0.0.1 unless told), which is
   * then the client's own.
   */
  function https(
    path: string,
    options: {
      method?: string
      headers?: Record<string, string>
      body?: string
      via?: string
    } = {},
  ): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: options.via ?? '127.0.0.1',
          port,
          path,
          method: options.method ?? 'GET',
          ca: tls.cert,
          // The name the certificate is checked against, whatever Host a request sends.
          servername: 'localhost',
          headers: options.headers,
          agent: false,
        },
        (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => (body += chunk))
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
        },
      )
      req.on('error', reject)
      req.end(options.body)
    })
  }

  /** PATCH `value` at `path` below /signalk/v1/api/ through nginx. */
  async function patch(path: string, value: unknown): Promise<number> {
    const res = await https(`/signalk/v1/api/${path}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify(value),
    })
    return res.status
  }

  /** The test certificate's files, as {@link Placement} takes them. */
  function certs() {
    return { certFile: tls.certFile, keyFile: tls.keyFile }
  }

  /** The one node counting an open SSE stream (asked directly, not through nginx). */
  async function nodeWithSse(): Promise<{ url: string; child: ChildProcess }> {
    let holders: typeof nodes = []
    await until(async () => {
      const open = await Promise.all(
        nodes.map(async (node) => {
          const text = await (await fetch(`http://${node.url}/metrics`)).text()
          return Number(/^keelson_streams_open\{transport="sse"\} (\d+)/m.exec(text)?.[1] ?? 0)
        }),
      )
      holders = nodes.filter((_, i) => open[i] === 1)
      return holders.length === 1 && open.reduce((a, b) => a + b) === 1
    })
    return holders[0]!
  }

  /**
   * An SSE stream through nginx (at `at`, the doc's by default) over HTTPS
   * (HTTP/1.1): its response once its head arrives, and its text as it does.
   */
  function sse(path: string, headers: Record<string, string> = {}, at = port) {
    const req = request({
      host: '127.0.0.1',
      port: at,
      path,
      ca: tls.cert,
      headers: { accept: 'text/event-stream', ...headers },
      agent: false,
    })
    req.end()
    const stream = {
      res: undefined as IncomingMessage | undefined,
      text: '',
      closed: false,
      /** The data of its unnamed events, in order. */
      data: () => sseEvents(stream.text).flatMap((e) => (e.data === undefined ? [] : [e.data])),
      lastId: () =>
        sseEvents(stream.text)
          .filter((e) => e.id !== undefined)
          .pop()?.id,
      close: () => req.destroy(),
    }
    req.on('response', (res: IncomingMessage) => {
      stream.res = res
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (stream.text += chunk))
      res.on('close', () => (stream.closed = true))
    })
    req.on('error', () => (stream.closed = true))
    return stream
  }

  it('serves discovery, REST writes and reads through nginx, naming nginx host:port', async () => {
    const discovery = await https('/signalk')
    expect(discovery.status).toBe(200)
    expect(JSON.parse(discovery.body).endpoints.v1).toMatchObject({
      'signalk-http': `https://127.0.0.1:${port}/signalk/v1/api/`,
      'signalk-ws': `wss://127.0.0.1:${port}/signalk/v1/stream`,
    })
    const put = await https('/signalk/v1/api/vessels/self/rest', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    })
    expect(put.status).toBe(200)
    expect(await patch('vessels/self/rest', { b: 2 })).toBe(200)
    // Reads go to either node (least_conn): each has the writes once it has applied them
    // (read-your-writes holds on the node that took a write, the other follows within ms).
    for (let i = 0; i < 4; i++) {
      await expect
        .poll(async () => {
          const read = await https('/signalk/v1/api/vessels/self/rest')
          return [read.status, JSON.parse(read.body)]
        })
        .toEqual([200, { a: 1, b: 2 }])
    }
  })

  it.skipIf(LAN === undefined)(
    'refuses writes while no users exist to a client of nginx that is not on this machine, whatever X-Forwarded-For it sends',
    async () => {
      // Everything as a local client's write but the address the client connects from: nginx
      // forwards that address, and the node (trusting nginx) takes it, not nginx's own.
      const write = (via: string, headers: Record<string, string> = {}) =>
        https('/signalk/v1/api/vessels/self/fromLan', {
          method: 'PATCH',
          via,
          headers: {
            host: `localhost:${port}`,
            'content-type': 'application/merge-patch+json',
            ...headers,
          },
          body: JSON.stringify({ at: Date.now() }),
        })
      const remote = await write(LAN!)
      expect([remote.status, JSON.parse(remote.body).code]).toEqual([
        403,
        'KEELSON_ERR_WRITE_NOT_LOCAL',
      ])
      // A forged X-Forwarded-For is kept left of the address nginx appends, and not read.
      for (const forged of ['127.0.0.1', '127.0.0.1, ::1', `${LAN}, 127.0.0.1`]) {
        const spoofed = await write(LAN!, { 'x-forwarded-for': forged })
        expect([forged, spoofed.status, JSON.parse(spoofed.body).code]).toEqual([
          forged,
          403,
          'KEELSON_ERR_WRITE_NOT_LOCAL',
        ])
      }
      // The same request from this machine writes: nginx forwards 127.0.0.1.
      expect((await write('127.0.0.1')).status).toBe(200)
      // Reads stay open to every client.
      expect((await https('/signalk/v1/api/vessels/self/fromLan', { via: LAN! })).status).toBe(200)
      // Discovery names the scheme the client used, whoever it is.
      const discovery = await https('/signalk', {
        via: LAN!,
        headers: { host: `boat.lan:${port}` },
      })
      expect(JSON.parse(discovery.body).endpoints.v1['signalk-ws']).toBe(
        `wss://boat.lan:${port}/signalk/v1/stream`,
      )
    },
  )

  it('refuses a body over 1 MiB at nginx, and a write naming a foreign Host at the node', async () => {
    const huge = await https('/signalk/v1/api/vessels/self/huge', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ x: 'a'.repeat(1024 * 1024) }),
    })
    expect(huge.status).toBe(413)
    expect(huge.body).toMatch(/nginx/)
    // The client's Host reaches the node as sent, so the no-users rule against DNS rebinding
    // still refuses a page of another name; the write never happens.
    const rebound = await https('/signalk/v1/api/vessels/self/rebound', {
      method: 'PUT',
      headers: { 'content-type': 'application/json', host: `attacker.example:${port}` },
      body: '{"x":1}',
    })
    expect(rebound.status).toBe(403)
    expect(JSON.parse(rebound.body).code).toBe('KEELSON_ERR_HOST_NOT_ALLOWED')
    expect((await https('/signalk/v1/api/vessels/self/rebound')).status).toBe(404)
  })

  it('streams SSE over HTTPS: the snapshot, then a write at once', async () => {
    const stream = sse('/signalk/v1/api/vessels/self/sse1')
    try {
      await expect.poll(stream.data, { timeout: 5000 }).toEqual(['null'])
      expect(stream.res!.statusCode).toBe(200)
      expect(stream.res!.headers['content-type']).toMatch(/^text\/event-stream/)
      expect(await patch('vessels/self/sse1', { speed: 3.2 })).toBe(200)
      await expect
        .poll(stream.data, { timeout: PROMPT_MS, interval: 10 })
        .toEqual(['null', '{"speed":3.2}'])
    } finally {
      stream.close()
    }
  })

  it('streams SSE over HTTP/2: many streams on one connection, each write at once', async () => {
    const session = h2connect(`https://127.0.0.1:${port}`, { ca: tls.cert })
    try {
      await once(session, 'connect')
      expect(session.alpnProtocol).toBe('h2')
      /** One request on the session; its status and text as it arrives. */
      const open = (headers: Record<string, string>, body?: string) => {
        const req = session.request(headers)
        const got = { status: 0, text: '' }
        req.on('response', (head) => (got.status = Number(head[':status'])))
        req.setEncoding('utf8')
        req.on('data', (chunk: string) => (got.text += chunk))
        req.end(body)
        return { req, got, ended: once(req, 'end') }
      }
      // More streams than HTTP/1.1's six connections per origin.
      const streams = Array.from({ length: 10 }, (_, i) =>
        open({ ':path': `/signalk/v1/api/vessels/self/h2/p${i}`, accept: 'text/event-stream' }),
      )
      const data = () =>
        streams.map((s) => sseEvents(s.got.text).flatMap((e) => (e.data ? [e.data] : [])))
      await expect.poll(data, { timeout: 5000 }).toEqual(streams.map(() => ['null']))
      expect(streams.map((s) => s.got.status)).toEqual(streams.map(() => 200))
      // A write on the same connection, touching every stream's path.
      const write = open(
        {
          ':method': 'PATCH',
          ':path': '/signalk/v1/api/vessels/self/h2',
          'content-type': 'application/merge-patch+json',
        },
        JSON.stringify(Object.fromEntries(streams.map((_, i) => [`p${i}`, { v: i }]))),
      )
      await write.ended
      expect(write.got.status).toBe(200)
      await expect
        .poll(data, { timeout: PROMPT_MS, interval: 10 })
        .toEqual(streams.map((_, i) => ['null', `{"v":${i}}`]))
      // Discovery over HTTP/2 names nginx too: the request's :authority is its Host.
      const discovery = open({ ':path': '/signalk' })
      await discovery.ended
      expect(JSON.parse(discovery.got.text).endpoints.v1['signalk-http']).toBe(
        `https://127.0.0.1:${port}/signalk/v1/api/`,
      )
      for (const s of streams) s.req.close()
    } finally {
      session.destroy()
    }
  })

  it('upgrades the Signal K WebSocket through nginx: hello, a delta for a REST write, a delta applied', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${port}/signalk/v1/stream?sendCachedValues=false`, {
      ca: tls.cert,
    })
    const messages: {
      self?: string
      updates?: { values: { path: string; value: unknown }[] }[]
    }[] = []
    ws.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString())))
    try {
      await once(ws, 'open')
      await until(() => messages.length >= 1)
      expect(messages[0]!.self).toMatch(/^vessels\.urn:mrn:/)
      const values = () => messages.flatMap((m) => m.updates?.flatMap((u) => u.values) ?? [])
      expect(await patch('vessels/self/navigation/speedThroughWater', { value: 4.2 })).toBe(200)
      await until(() =>
        values().some((v) => v.path === 'navigation.speedThroughWater' && v.value === 4.2),
      )
      // A delta sent up the socket is written through the cluster and read back over REST.
      ws.send(
        JSON.stringify({
          context: 'vessels.self',
          updates: [{ values: [{ path: 'navigation.headingTrue', value: 1.25 }] }],
        }),
      )
      await until(async () => {
        const read = await https('/signalk/v1/api/vessels/self/navigation/headingTrue/value')
        return read.status === 200 && read.body === '1.25'
      })
    } finally {
      ws.terminate()
    }
  })

  it('keeps a fleet telemetry stream and its POSTs on one node', async () => {
    const stream = sse('/sse/telemetry/connect')
    try {
      await expect.poll(stream.data, { timeout: 5000 }).toHaveLength(1)
      const first = JSON.parse(stream.data()[0]!) as { type: string; stream_id: string }
      expect(first.type).toBe('stream_id')
      // With least_conn alone, each POST would go to the node without the stream: 404.
      for (let i = 0; i < 6; i++) {
        const pong = await https(`/sse/telemetry/pong/${first.stream_id}`, { method: 'POST' })
        expect(pong.status).toBe(204)
      }
    } finally {
      stream.close()
    }
  })

  it('delivers SSE at once without proxy_buffering off too (X-Accel-Buffering), not when nginx ignores both', async () => {
    const doc = readFileSync(DOC, 'utf8')
    expect(doc).toMatch(/^\s*proxy_buffering off;$/m)
    const variant = async (text: string, name: string) => {
      const at = await freePort()
      const variantDir = join(dir, name)
      mkdirSync(variantDir)
      const placement = {
        nodes: nodes.map((n) => n.url),
        addresses: ['127.0.0.1'],
        port: at,
        ...certs(),
        dir: variantDir,
      }
      return { at, child: await startNginx(nginxConfig(text, placement), variantDir, at) }
    }
    // Without the directive nginx would buffer, but keelson's X-Accel-Buffering: no turns it off.
    const headerOnly = await variant(doc.replace(/^\s*proxy_buffering off;$/m, ''), 'header-only')
    // nginx told to ignore that header too: nothing arrives, not even the response head.
    const buffered = await variant(
      doc.replace(
        /^(\s*)proxy_buffering off;$/m,
        '$1proxy_buffering on;\n$1proxy_ignore_headers X-Accel-Buffering;',
      ),
      'buffered',
    )
    const prompt = sse('/signalk/v1/api/vessels/self/sse2', {}, headerOnly.at)
    const held = sse('/signalk/v1/api/vessels/self/sse2', {}, buffered.at)
    try {
      await expect.poll(prompt.data, { timeout: 5000 }).toEqual(['null'])
      expect(await patch('vessels/self/sse2', { depth: 12 })).toBe(200)
      await expect
        .poll(prompt.data, { timeout: PROMPT_MS, interval: 10 })
        .toEqual(['null', '{"depth":12}'])
      await new Promise((resolve) => setTimeout(resolve, PROMPT_MS))
      expect(held.res).toBeUndefined()
      expect(held.text).toBe('')
    } finally {
      prompt.close()
      held.close()
      await stopNginx(headerOnly.child)
      await stopNginx(buffered.child)
    }
  })

  // Last: it kills one of the two nodes.
  it('resumes a stream on the other node with its Last-Event-ID after its node is killed (SIGKILL)', async () => {
    const path = 'vessels/self/resume'
    expect(await patch(path, { n: 0 })).toBe(200)
    const first = sse(`/signalk/v1/api/${path}`)
    await expect.poll(first.data, { timeout: 5000 }).toHaveLength(1)
    // The node nginx gave the stream to: the one counting an open SSE stream.
    const holder = await nodeWithSse()
    let n = 0
    const write = async () => expect(await patch(path, { n: ++n })).toBe(200)
    const fold = (data: string[], from: unknown = null) =>
      data.reduce((doc, patch) => applyMergePatch(doc, JSON.parse(patch)), from)
    for (let i = 0; i < 5; i++) await write()
    await expect.poll(() => fold(first.data()), { timeout: 5000 }).toEqual({ n: 5 })
    holder.child.kill('SIGKILL')
    await until(() => first.closed)
    const lastId = first.lastId()!
    // Writes while the client is away: nginx's connection to the dead node is refused, so each
    // goes to the other node (never sent, so retried whatever its method): none fails.
    for (let i = 0; i < 6; i++) await write()
    const resumed = sse(`/signalk/v1/api/${path}`, { 'Last-Event-ID': lastId })
    await expect.poll(() => resumed.data().length, { timeout: 5000 }).toBe(1)
    for (let i = 0; i < 3; i++) await write()
    const final = await https(`/signalk/v1/api/${path}`)
    await expect.poll(resumed.lastId, { timeout: 5000 }).toBe(final.headers['x-keelson-event-id'])
    resumed.close()
    // One catch-up patch, no reset: the other node's history holds the id.
    expect(resumed.data()).not.toContain('null')
    const doc = fold(resumed.data(), fold(first.data()))
    expect(doc).toEqual(JSON.parse(final.body))
    expect(doc).toEqual({ n: 14 })
  })
})
