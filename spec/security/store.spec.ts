import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import bcrypt from 'bcryptjs'
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { KeelsonError } from '../../src/core/errors.js'
import { accessRequestReply, MAX_ACCESS_REQUESTS } from '../../src/security/access-requests.js'
import { verifyPassword } from '../../src/security/passwords.js'
import { SecurityFileError } from '../../src/security/security-file.js'
import { SecurityStore, securityFilePath } from '../../src/security/store.js'
import { verifyToken } from '../../src/security/tokens.js'
import type { SecurityFile } from '../../src/security/types.js'

interface LogLine {
  level: number
  msg: string
  reason?: string
}

/** A pino logger whose lines land in `lines`. */
function capture(): { log: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as LogLine)
      done()
    },
  })
  return { log: pino({ level: 'info' }, stream), lines }
}

let dir: string
const stores: SecurityStore[] = []

async function open(file: string, options: { pollMs?: number; watch?: boolean } = {}) {
  const { log, lines } = capture()
  const store = await SecurityStore.open(file, log, { pollMs: 20, ...options })
  stores.push(store)
  return { store, lines }
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keelson-security-'))
})

afterEach(async () => {
  vi.useRealTimers()
  for (const store of stores.splice(0)) store.close()
  await rm(dir, { recursive: true, force: true })
})

describe('the security file', () => {
  it('is security.json in the state dir unless --security names it', () => {
    expect(securityFilePath({ stateDir: '/var/lib/keelson' })).toBe(
      '/var/lib/keelson/security.json',
    )
    expect(securityFilePath({ securityFile: '/etc/k.json', stateDir: '/x' })).toBe('/etc/k.json')
    expect(securityFilePath({}, { KEELSON_STATE_DIR: '/srv/k' })).toBe('/srv/k/security.json')
  })

  it('is created on first start with mode 0600, a new secret and no users', async () => {
    const file = join(dir, 'state', 'security.json')
    const { store, lines } = await open(file)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const written = JSON.parse(await readFile(file, 'utf8')) as SecurityFile
    expect(written).toEqual({
      allowReadonly: true,
      expiration: '1d',
      secretKey: expect.stringMatching(/^[0-9a-f]{64}$/),
      users: [],
      devices: [],
      acls: [],
    })
    expect(store.current).toEqual(written)
    expect(Object.isFrozen(store.current.users)).toBe(true)
    expect(lines.map((line) => line.msg)).toContain(
      'created the security file with a new token secret and no users',
    )
    const other = await open(join(dir, 'other.json'))
    expect(other.store.current.secretKey).not.toBe(store.current.secretKey)
  })

  it('is written atomically: no temporary file is left behind', async () => {
    const file = join(dir, 'security.json')
    const { store } = await open(file, { watch: false })
    await store.addUser('alice', 'readwrite', 'pw-alice')
    await Promise.all([
      store.addUser('bob', 'readonly', 'pw-bob'),
      store.setUserType('alice', 'admin'),
      store.requestAccess({ clientId: 'plotter', description: 'Plotter' }),
    ])
    await store.removeUser('bob')
    expect(await readdir(dir)).toEqual(['security.json'])
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const written = JSON.parse(await readFile(file, 'utf8')) as SecurityFile
    expect(written.users.map((u) => [u.username, u.type])).toEqual([['alice', 'admin']])
  })

  it('tightens an existing file readable by others to 0600, with a warning', async () => {
    const file = join(dir, 'security.json')
    await writeFile(file, JSON.stringify({ allowReadonly: true, secretKey: 's', users: [] }))
    await chmod(file, 0o644)
    const { lines } = await open(file, { watch: false })
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(lines.find((line) => line.level === 40)?.msg).toMatch(/readable by others/)
  })

  it('refuses a file that does not check, naming the member', async () => {
    const file = join(dir, 'security.json')
    await writeFile(
      file,
      JSON.stringify({
        secretKey: 's',
        users: [{ username: 'a', type: 'captain', password: 'x' }],
      }),
    )
    await expect(open(file)).rejects.toThrow(SecurityFileError)
    await expect(open(file)).rejects.toThrow(
      /"users\[0\]\.type" must be one of readonly, readwrite, admin, got "captain"/,
    )
    await writeFile(file, '{"users": [}')
    await expect(open(file)).rejects.toThrow(/is not valid JSON/)
    await writeFile(file, JSON.stringify({ secretKey: 's', expiration: 'tomorrow' }))
    await expect(open(file)).rejects.toThrow(/"expiration" must be NEVER or a duration/)
    await writeFile(
      file,
      JSON.stringify({
        secretKey: 's',
        acls: [
          {
            context: 'vessels.self',
            resources: [{ paths: ['*'], permissions: [{ subject: 'any', permission: 'all' }] }],
          },
        ],
      }),
    )
    await expect(open(file)).rejects.toThrow(
      /"acls\[0\]\.resources\[0\]\.permissions\[0\]\.permission"/,
    )
  })

  it('loads a signalk-server file with bcrypt hashes and keeps its unknown members when saving', async () => {
    const file = join(dir, 'security.json')
    const hash = await bcrypt.hash('skipper-pw', 10)
    const signalk = {
      strategy: './tokensecurity',
      users: [{ username: 'skipper', type: 'admin', password: hash }],
      allow_readonly: false,
      secretKey: 'f'.repeat(512),
      immutableConfig: false,
      allowDeviceAccessRequests: true,
      acls: [],
    }
    await writeFile(file, JSON.stringify(signalk), { mode: 0o600 })
    const { store } = await open(file, { watch: false })
    expect(store.current.allowReadonly).toBe(false)
    expect(store.current.expiration).toBe('1d')
    expect(await verifyPassword('skipper-pw', store.findUser('skipper')!.password)).toBe(true)
    await store.addUser('crew', 'readonly', 'crew-pw')
    const saved = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
    expect(saved).toMatchObject({
      strategy: './tokensecurity',
      allow_readonly: false,
      allowReadonly: false,
      immutableConfig: false,
      allowDeviceAccessRequests: true,
      secretKey: 'f'.repeat(512),
    })
    expect((saved.users as { password: string }[])[0]!.password).toBe(hash)
  })

  it('generates a secret for a file that has none', async () => {
    const file = join(dir, 'security.json')
    await writeFile(file, JSON.stringify({ users: [] }), { mode: 0o600 })
    const { store } = await open(file, { watch: false })
    expect(store.current.secretKey).toMatch(/^[0-9a-f]{64}$/)
    expect(JSON.parse(await readFile(file, 'utf8')).secretKey).toBe(store.current.secretKey)
  })
})

describe('users of the security file', () => {
  it('adds users with scrypt hashes, never the password itself', async () => {
    const file = join(dir, 'security.json')
    const { store } = await open(file, { watch: false })
    await store.addUser('alice', 'readwrite', 'sesame')
    const text = await readFile(file, 'utf8')
    expect(text).not.toContain('sesame')
    const alice = store.findUser('alice')!
    expect(alice.type).toBe('readwrite')
    expect(alice.password).toMatch(/^scrypt\$/)
    expect(await verifyPassword('sesame', alice.password)).toBe(true)
  })

  it('refuses an existing name, bad names, reserved names, bad types and empty passwords', async () => {
    const { store } = await open(join(dir, 'security.json'), { watch: false })
    await store.addUser('alice', 'readwrite', 'pw')
    const code = (promise: Promise<unknown>) =>
      promise.then(
        () => 'accepted',
        (err: KeelsonError) => err.code,
      )
    expect(await code(store.addUser('alice', 'admin', 'pw'))).toBe('KEELSON_ERR_USER_EXISTS')
    for (const name of ['', ' alice', 'a b', 'a/b', '.hidden', 'x'.repeat(65), 'a\u0000b']) {
      expect(await code(store.addUser(name, 'readonly', 'pw'))).toBe('KEELSON_ERR_BAD_USER')
    }
    expect(await code(store.addUser('any', 'readonly', 'pw'))).toBe('KEELSON_ERR_BAD_USER')
    expect(await code(store.addUser('AUTO', 'readonly', 'pw'))).toBe('KEELSON_ERR_BAD_USER')
    expect(await code(store.addUser('bob', 'captain' as 'admin', 'pw'))).toBe(
      'KEELSON_ERR_BAD_USER',
    )
    expect(await code(store.addUser('bob', 'readonly', ''))).toBe('KEELSON_ERR_BAD_USER')
    expect(await code(store.removeUser('nobody'))).toBe('KEELSON_ERR_USER_NOT_FOUND')
    expect(await code(store.setUserType('nobody', 'admin'))).toBe('KEELSON_ERR_USER_NOT_FOUND')
    expect(store.current.users.map((u) => u.username)).toEqual(['alice'])
  })

  it('changes a user type and a password', async () => {
    const { store } = await open(join(dir, 'security.json'), { watch: false })
    await store.addUser('alice', 'readonly', 'old')
    await store.setUserType('alice', 'admin')
    await store.setPassword('alice', 'new')
    expect(store.findUser('alice')!.type).toBe('admin')
    expect(await verifyPassword('new', store.findUser('alice')!.password)).toBe(true)
  })
})

describe('watching the security file', () => {
  it('reloads a change made by another process and tells listeners what was removed', async () => {
    const file = join(dir, 'security.json')
    const { store: server, lines } = await open(file)
    await server.addUser('alice', 'readwrite', 'pw')
    const changes: [string[], string[]][] = []
    server.onChange((before, after) =>
      changes.push([before.users.map((u) => u.username), after.users.map((u) => u.username)]),
    )
    const { store: cli } = await open(file, { watch: false })
    await cli.removeUser('alice')
    await vi.waitFor(() => expect(server.findUser('alice')).toBeUndefined(), { timeout: 5000 })
    expect(changes).toEqual([[['alice'], []]])
    expect(lines.map((line) => line.msg)).toContain('reloaded the security file')
  })

  it('keeps the old content when the file is edited into something that does not check', async () => {
    const file = join(dir, 'security.json')
    const { store, lines } = await open(file)
    await store.addUser('alice', 'readwrite', 'pw')
    const good = store.current
    await writeFile(file, '{"users": "everyone"')
    await vi.waitFor(
      () => expect(lines.some((line) => /does not check/.test(line.msg))).toBe(true),
      { timeout: 5000 },
    )
    expect(store.current).toBe(good)
    expect(lines.find((line) => /does not check/.test(line.msg))!.reason).toMatch(/not valid JSON/)
    await expect(store.addUser('bob', 'readonly', 'pw')).rejects.toThrow(
      /fix the file before changing it/,
    )
    expect(await store.reload()).toBe(false)
    await writeFile(file, JSON.stringify({ ...good, users: [] }))
    await vi.waitFor(() => expect(store.findUser('alice')).toBeUndefined(), { timeout: 5000 })
  })

  it('tells listeners of its own writes once, not again when the watcher sees them', async () => {
    const file = join(dir, 'security.json')
    const { store } = await open(file)
    let calls = 0
    store.onChange(() => calls++)
    await store.addUser('alice', 'readwrite', 'pw')
    expect(calls).toBe(1)
    // Ten poll periods: the watcher sees the new file and must not report it again.
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(await store.reload()).toBe(false)
    expect(calls).toBe(1)
  })
})

describe('device access requests in the security file', () => {
  it('records a pending request and refuses a second one of the same device', async () => {
    const { store } = await open(join(dir, 'security.json'), { watch: false })
    const request = await store.requestAccess(
      { clientId: 'plotter-1', description: 'Chart plotter', permissions: 'readwrite' },
      '192.0.2.7',
    )
    expect(request).toMatchObject({ state: 'PENDING', clientId: 'plotter-1', ip: '192.0.2.7' })
    expect(accessRequestReply(request)).toEqual({
      state: 'PENDING',
      requestId: request.requestId,
      statusCode: 202,
      href: `/signalk/v1/requests/${request.requestId}`,
    })
    await expect(
      store.requestAccess({ clientId: 'plotter-1', description: 'again' }),
    ).rejects.toMatchObject({ code: 'KEELSON_ERR_ACCESS_REQUEST_PENDING', status: 409 })
    expect(store.pendingAccessRequests()).toHaveLength(1)
  })

  it('approved from another process, adds the device and gives the request a device token', async () => {
    const file = join(dir, 'security.json')
    const { store: server } = await open(file)
    const request = await server.requestAccess({ clientId: 'plotter-1', description: 'Plotter' })
    const { store: cli } = await open(file, { watch: false })
    const approved = await cli.approveAccessRequest(request.requestId, 'readwrite')
    expect(approved).toMatchObject({
      state: 'COMPLETED',
      permission: 'APPROVED',
      granted: 'readwrite',
    })
    await vi.waitFor(() => expect(server.findDevice('plotter-1')).toBeDefined(), { timeout: 5000 })
    expect(server.findDevice('plotter-1')).toEqual({
      clientId: 'plotter-1',
      permissions: 'readwrite',
      description: 'Plotter',
    })
    const reply = accessRequestReply(server.accessRequest(request.requestId)!)
    expect(reply).toMatchObject({
      state: 'COMPLETED',
      statusCode: 200,
      accessRequest: { permission: 'APPROVED' },
    })
    const claims = await verifyToken(server.current.secretKey, reply.accessRequest!.token!)
    expect(claims.device).toBe('plotter-1')
    expect(claims.exp! - claims.iat!).toBe(86_400)
    await expect(cli.approveAccessRequest(request.requestId)).rejects.toMatchObject({
      code: 'KEELSON_ERR_ACCESS_REQUEST_NOT_FOUND',
    })
  })

  it('grants what the device asked for (readonly when it asked nothing) and denies by clientId', async () => {
    const { store } = await open(join(dir, 'security.json'), { watch: false })
    await store.requestAccess({ clientId: 'a', description: '', permissions: 'admin' })
    await store.requestAccess({ clientId: 'b', description: '' })
    await store.requestAccess({ clientId: 'c', description: '' })
    expect((await store.approveAccessRequest('a')).granted).toBe('admin')
    expect((await store.approveAccessRequest('b')).granted).toBe('readonly')
    const denied = await store.denyAccessRequest('c')
    expect(accessRequestReply(denied).accessRequest).toEqual({ permission: 'DENIED' })
    expect(store.findDevice('c')).toBeUndefined()
    expect(store.pendingAccessRequests()).toEqual([])
  })

  it(`keeps at most ${MAX_ACCESS_REQUESTS} requests, dropping the oldest, and forgets them after an hour`, async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const { store } = await open(join(dir, 'security.json'), { watch: false })
    const first = await store.requestAccess({ clientId: 'device-0', description: '' })
    for (let i = 1; i <= MAX_ACCESS_REQUESTS; i++) {
      await store.requestAccess({ clientId: `device-${i}`, description: '' })
    }
    expect(store.pendingAccessRequests()).toHaveLength(MAX_ACCESS_REQUESTS)
    expect(store.accessRequest(first.requestId)).toBeUndefined()
    vi.setSystemTime(Date.now() + 3_600_001)
    expect(store.pendingAccessRequests()).toEqual([])
    await store.requestAccess({ clientId: 'late', description: '' })
    expect(store.current.accessRequests).toHaveLength(1)
  })
})
