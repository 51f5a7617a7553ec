import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { loadTls } from '../../src/cli/tls.js'
import { ConfigError } from '../../src/config.js'
import { sseEvents } from '../support/raw.js'
import { hasOpenssl, type SelfSigned, selfSigned } from '../support/tls.js'

const BIN = fileURLToPath(new URL('../../bin/keelson.js', import.meta.url))
/** Starting node with tsx compiling src/ takes a few seconds on a busy machine. */
const START_TIMEOUT_MS = 60_000
const openssl = hasOpenssl()
if (!openssl)
  console.warn('spec/cli/tls.spec.ts: no openssl command here; the TLS specs are skipped')

let tls: SelfSigned | undefined
/** A HOME of its own, so the CLI keeps no state in the tester's. */
const home = mkdtempSync(join(tmpdir(), 'keelson-tls-home-'))

beforeAll(() => {
  if (openssl) tls = selfSigned()
})
afterAll(() => {
  tls?.remove()
  rmSync(home, { recursive: true, force: true })
})

/** The environment without any keelson setting of the machine running the tests. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { HOME: home }
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(KEELSON_|PORT$|HOST$|LOG_LEVEL$|HOME$)/.test(name)) env[name] = value
  }
  return env
}

/** Runs `keelson ...args` to its end. */
function keelson(...args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: cleanEnv() }, (err, _stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr })
    })
  })
}

describe.skipIf(!openssl)('keelson serving HTTPS and WSS (--tls-cert, --tls-key)', () => {
  let child: ChildProcess | undefined
  let port = 0

  beforeAll(async () => {
    const proc = spawn(
      process.execPath,
      [
        BIN,
        ...['--port', '0', '--host', '127.0.0.1', '--no-demo', '--mmsi', '230099998'],
        ...['--tls-cert', tls!.certFile, '--tls-key', tls!.keyFile],
      ],
      { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    )
    child = proc
    let output = ''
    proc.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    proc.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    const deadline = Date.now() + START_TIMEOUT_MS - 10_000
    while (!/"port":\d+/.test(output)) {
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`no start: ${output}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    port = Number(/"port":(\d+)/.exec(output)![1])
    expect(output).toContain(`keelson listening on https://localhost:${port}/`)
  }, START_TIMEOUT_MS)

  afterAll(() => {
    child?.kill('SIGKILL')
  })

  /** An HTTPS request that trusts only the test certificate, to the name it was made for. */
  function https(
    path: string,
    options: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: options.method ?? 'GET',
          ca: tls!.cert,
          servername: 'localhost',
          headers: { host: `localhost:${port}`, ...options.headers },
          agent: false,
        },
        (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => {
            body += chunk
          })
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
        },
      )
      req.on('error', reject)
      req.end(options.body)
    })
  }

  it('names https:// and wss:// in discovery', async () => {
    const res = await https('/signalk')
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body).endpoints.v1).toMatchObject({
      'signalk-http': `https://localhost:${port}/signalk/v1/api/`,
      'signalk-ws': `wss://localhost:${port}/signalk/v1/stream`,
    })
  })

  it('answers REST reads and writes over TLS', async () => {
    const write = await https('/signalk/v1/api/vessels/self/tls', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"read":1}',
    })
    expect(write.status).toBeLessThan(300)
    const read = await https('/signalk/v1/api/vessels/self/tls')
    expect(read.status).toBe(200)
    expect(JSON.parse(read.body)).toEqual({ read: 1 })
  })

  it('streams SSE over TLS: the snapshot, then a patch after a write', async () => {
    let text = ''
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/signalk/v1/api/vessels/self/sse',
      ca: tls!.cert,
      servername: 'localhost',
      headers: { accept: 'text/event-stream', host: `localhost:${port}` },
      agent: false,
    })
    req.end()
    const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage]
    try {
      expect(res.headers['content-type']).toMatch(/^text\/event-stream/)
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
      })
      const data = () => sseEvents(text).flatMap((e) => (e.data === undefined ? [] : [e.data]))
      await expect.poll(data).toEqual(['null'])
      const write = await https('/signalk/v1/api/vessels/self/sse', {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: '{"speed":3.2}',
      })
      expect(write.status).toBeLessThan(300)
      await expect.poll(data).toEqual(['null', '{"speed":3.2}'])
    } finally {
      req.destroy()
    }
  })

  it('opens the Signal K WebSocket over wss and sends its hello', async () => {
    // The certificate names 127.0.0.1 too: ws checks it against the IP.
    const ws = new WebSocket(`wss://127.0.0.1:${port}/signalk/v1/stream?subscribe=none`, {
      ca: tls!.cert,
    })
    try {
      const [message] = (await once(ws, 'message')) as [Buffer]
      expect(JSON.parse(message.toString())).toMatchObject({
        self: 'vessels.urn:mrn:imo:mmsi:230099998',
      })
    } finally {
      ws.terminate()
    }
  })

  it('refuses a client that does not trust the certificate', async () => {
    const refused = new Promise<Error>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/signalk', agent: false }, () => {})
      req.on('error', resolve)
      req.end()
    })
    expect((await refused).message).toMatch(/self-signed|self signed/)
  })
})

describe.skipIf(!openssl)('--tls-cert and --tls-key refused at start', () => {
  it(
    'exits 2 when only one of the two is given, naming the other',
    async () => {
      const { code, stderr } = await keelson('--port', '0', '--tls-cert', tls!.certFile)
      expect(code).toBe(2)
      expect(stderr).toMatch(/^keelson: --tls-cert needs --tls-key too/)
    },
    START_TIMEOUT_MS,
  )

  it(
    'exits 2 for a file that cannot be read or is not a certificate, naming it',
    async () => {
      const missing = await keelson(
        '--port',
        '0',
        '--tls-cert',
        tls!.certFile,
        '--tls-key',
        '/no/such.pem',
      )
      expect(missing.code).toBe(2)
      expect(missing.stderr).toMatch(/^keelson: --tls-key \/no\/such\.pem cannot be read: ENOENT/)
      const swapped = await keelson(
        ...['--port', '0', '--tls-cert', tls!.keyFile, '--tls-key', tls!.keyFile],
      )
      expect(swapped.code).toBe(2)
      expect(swapped.stderr).toMatch(/^keelson: --tls-cert .* and --tls-key .* cannot be used: /)
    },
    START_TIMEOUT_MS,
  )
})

describe.skipIf(!openssl)('loadTls', () => {
  it('reads neither file when neither is set: plain HTTP', () => {
    expect(loadTls({})).toBeUndefined()
  })

  it('reads the certificate and its key as PEM', () => {
    const files = loadTls({ tlsCert: tls!.certFile, tlsKey: tls!.keyFile })
    expect(files?.cert.toString()).toMatch(/^-----BEGIN CERTIFICATE-----/)
    expect(files?.key.toString()).toMatch(/^-----BEGIN PRIVATE KEY-----/)
  })

  it('refuses a key that is not the certificate’s', () => {
    const other = selfSigned()
    try {
      expect(() => loadTls({ tlsCert: tls!.certFile, tlsKey: other.keyFile })).toThrow(ConfigError)
      expect(() => loadTls({ tlsCert: tls!.certFile, tlsKey: other.keyFile })).toThrow(
        /cannot be used: .*key values mismatch/,
      )
    } finally {
      other.remove()
    }
  })

  it('refuses a file that is not PEM', () => {
    const junk = join(tls!.dir, 'junk.pem')
    writeFileSync(junk, 'not a certificate\n')
    expect(() => loadTls({ tlsCert: junk, tlsKey: tls!.keyFile })).toThrow(ConfigError)
  })
})
