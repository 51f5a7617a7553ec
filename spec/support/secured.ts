/**
 * A real keelson with security (SPEC §8) on 127.0.0.1 port 0: a security
 * file written in a temp directory (users with scrypt hashes, ACLs,
 * `allowReadonly`, `expiration`), opened with a fast poll, and helpers to
 * log in, seed Signal K values and carry a token the three ways.
 */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { createApp, type Keelson } from '../../src/app.js'
import type { KeelsonOptions } from '../../src/options.js'
import { hashPassword } from '../../src/security/passwords.js'
import { SecurityStore } from '../../src/security/store.js'
import type { SecurityFile, SecurityUser, UserType } from '../../src/security/types.js'
import { applyDelta } from '../../src/signalk/delta.js'

/** The password of every test user unless given. */
export const PASSWORD = 'correct horse battery'

/** The self vessel's MMSI and key in every secured test server. */
export const MMSI = '230099999'
export const SELF = `urn:mrn:imo:mmsi:${MMSI}`

const hashes = new Map<string, Promise<string>>()

/** A scrypt hash of `password`, made once per password for the whole test file. */
export function hashOf(password: string): Promise<string> {
  let hash = hashes.get(password)
  if (hash === undefined) {
    hash = hashPassword(password)
    hashes.set(password, hash)
  }
  return hash
}

/** A user to put in the file. */
export interface TestUser {
  name: string
  type: UserType
  password?: string
  /** A hash to store as it is (a bcrypt hash of a signalk-server file). */
  hash?: string
}

/** What to start. */
export interface SecuredSetup {
  users?: TestUser[]
  /** Members of the security file: `acls`, `allowReadonly`, `expiration`, `secretKey`... */
  file?: Partial<SecurityFile>
  options?: Partial<KeelsonOptions>
}

/** A running secured keelson. */
export interface Secured {
  keelson: Keelson
  server: Server
  store: SecurityStore
  port: number
  /** `http://127.0.0.1:PORT` */
  url: string
  /** The security file's path. */
  file: string
  /** The file's secret. */
  secretKey: string
  /** Logs `name` in over REST; its token. */
  login(name: string, password?: string): Promise<string>
  /** Writes `value` at a self vessel dot path, as a delta (the server's own ingest, no principal). */
  seed(path: string, value: unknown, source?: string): void
  close(): Promise<void>
}

let tick = 0

/** Starts a keelson whose security file holds `setup` (the caller closes it). */
export async function startSecured(setup: SecuredSetup = {}): Promise<Secured> {
  const dir = await mkdtemp(join(tmpdir(), 'keelson-sec-'))
  const file = join(dir, 'security.json')
  const users: SecurityUser[] = []
  for (const user of setup.users ?? []) {
    users.push({
      username: user.name,
      type: user.type,
      password: user.hash ?? (await hashOf(user.password ?? PASSWORD)),
    })
  }
  const content: SecurityFile = {
    allowReadonly: true,
    expiration: '1d',
    secretKey: randomBytes(32).toString('hex'),
    users,
    devices: [],
    acls: [],
    ...setup.file,
  }
  await writeFile(file, JSON.stringify(content, null, 2), { mode: 0o600 })
  const log = pino({ level: 'silent' })
  const store = await SecurityStore.open(file, log, { pollMs: 50 })
  const keelson = createApp({ mmsi: MMSI, ...setup.options, security: store })
  const server = createServer(keelson.app)
  keelson.attach(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  const url = `http://127.0.0.1:${port}`
  return {
    keelson,
    server,
    store,
    port,
    url,
    file,
    secretKey: content.secretKey,
    async login(name, password = PASSWORD) {
      const res = await fetch(`${url}/signalk/v1/auth/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: name, password }),
      })
      if (res.status !== 200) throw new Error(`login of ${name}: ${res.status} ${await res.text()}`)
      return ((await res.json()) as { token: string }).token
    },
    seed(path, value, source = 'test.XX') {
      const timestamp = new Date(Date.UTC(2026, 0, 1, 0, 0, 0, tick++ % 1000)).toISOString()
      applyDelta(keelson.tree, {
        context: 'vessels.self',
        updates: [{ $source: source, timestamp, values: [{ path, value: value as never }] }],
      })
    },
    async close() {
      store.close()
      keelson.close()
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** How a token travels (SPEC §8). */
export type Carrier = 'header' | 'cookie' | 'query'

/** `url` and headers carrying `token` by `carrier` (none when `token` is undefined). */
export function carry(
  url: string,
  token: string | undefined,
  carrier: Carrier,
): { url: string; headers: Record<string, string> } {
  if (token === undefined) return { url, headers: {} }
  if (carrier === 'header') return { url, headers: { Authorization: `Bearer ${token}` } }
  if (carrier === 'cookie') return { url, headers: { Cookie: `JAUTHENTICATION=${token}` } }
  const sep = url.includes('?') ? '&' : '?'
  return { url: `${url}${sep}token=${encodeURIComponent(token)}`, headers: {} }
}
