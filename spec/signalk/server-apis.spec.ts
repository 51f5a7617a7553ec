/**
 * signalk-server's own endpoints that apps call (SPEC §11), against a real
 * server: login status without security, plugins, feature detection, unit
 * preferences, and the server identity apps gate features on.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startSecured } from '../support/secured.js'
import { type Running, startServer } from '../support/server.js'
import { Client } from './support.js'

const require = createRequire(import.meta.url)
const tv4 = require('tv4') as {
  addSchema(uri: string, schema: unknown): void
  validateResult(data: unknown, schema: unknown): { valid: boolean; missing: string[] }
}
const helloSchema = require('@signalk/signalk-schema/schemas/hello.json')
const definitions = require('@signalk/signalk-schema/schemas/definitions.json')
tv4.addSchema('https://signalk.org/specification/1.5.1/schemas/definitions.json', definitions)

let running: Running | undefined
const clients: Client[] = []

afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  await running?.close()
  running = undefined
})

async function get(path: string): Promise<{ status: number; body: any; type: string | null }> {
  const res = await fetch(`${running!.url}${path}`)
  return { status: res.status, body: await res.json(), type: res.headers.get('content-type') }
}

/** A node_modules folder with a plugin webapp, a plugin whose id is computed, and a plain webapp. */
async function pluginModules(): Promise<string> {
  const modules = await mkdtemp(join(tmpdir(), 'keelson-plugins-'))
  const write = async (name: string, pkg: object, files: Record<string, string> = {}) => {
    const dir = join(modules, name)
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name, ...pkg }))
    for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text)
  }
  const plugin = ['signalk-webapp', 'signalk-node-server-plugin']
  await write(
    '@demo/sk-demo',
    { version: '1.2.3', description: 'A demo', keywords: plugin, main: 'plugin.js' },
    { 'plugin.js': "module.exports = () => ({ id: 'demo', name: 'Demo Plugin', start() {} })" },
  )
  await write(
    'sk-computed',
    { version: '1.0.0', keywords: plugin },
    { 'index.js': "const id = 'comp' + 'uted'; module.exports = () => ({ id, start() {} })" },
  )
  await write('sk-webapp-only', { version: '1.0.0', keywords: ['signalk-webapp'] })
  return modules
}

/** KIP's version test (`U(version, "1.46.2", ">=")`): numeric parts compared left to right. */
function atLeast(version: string, wanted: string): boolean {
  const a = version.split('.').map(Number)
  const b = wanted.split('.').map(Number)
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! > b[i]!
  return true
}

describe('server APIs apps call', () => {
  it('answers loginStatus without security: nobody needs to log in', async () => {
    running = await startServer()
    expect(await get('/skServer/loginStatus')).toMatchObject({
      status: 200,
      body: { status: 'notLoggedIn', readOnlyAccess: false, authenticationRequired: false },
    })
  })

  it('lists no plugins when none is installed, and answers a plugin that is not installed 404', async () => {
    running = await startServer()
    expect((await get('/plugins')).body).toEqual([])
    expect((await get('/skServer/plugins')).body).toEqual([])
    const kip = await get('/plugins/kip')
    expect(kip.status).toBe(404)
    expect(kip.type).toContain('application/problem+json')
    const reconcile = await fetch(`${running.url}/plugins/kip/series/reconcile`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '[]',
    })
    expect(reconcile.status).toBe(404)
  })

  it('lists the signalk-server plugins installed beside it, each disabled (it runs none)', async () => {
    const modules = await pluginModules()
    try {
      running = await startServer({ webappDirs: [modules] })
      const list = (await get('/plugins')).body
      expect(list).toEqual([
        expect.objectContaining({
          id: 'demo',
          name: 'Demo Plugin',
          packageName: '@demo/sk-demo',
          version: '1.2.3',
          data: expect.objectContaining({ enabled: false, configuration: {} }),
        }),
      ])
      expect((await get('/plugins/demo')).body).toEqual({
        enabled: false,
        enabledByDefault: false,
        id: 'demo',
        name: 'Demo Plugin',
        version: '1.2.3',
      })
      // A package whose id is not a literal, a webapp that is no plugin, an unknown id: not installed.
      expect((await get('/plugins/computed')).status).toBe(404)
      expect((await get('/plugins/sk-webapp-only')).status).toBe(404)
      expect((await get('/plugins/kip')).status).toBe(404)
      expect((await get('/plugins/%E0%A4%A')).status).toBe(400)
      const features = (await get('/signalk/v2/features')).body
      expect(features.plugins).toEqual([
        { id: 'demo', name: 'Demo Plugin', version: '1.2.3', enabled: false },
      ])
      expect((await get('/signalk/v2/features?enabled=1')).body.plugins).toEqual([])
      expect((await get('/signalk/v2/features?enabled=0')).body.plugins).toHaveLength(1)
    } finally {
      await rm(modules, { recursive: true, force: true })
    }
  })

  it('shows the plugins to admins only when security is on, as signalk-server', async () => {
    const modules = await pluginModules()
    const secured = await startSecured({
      users: [
        { name: 'anna', type: 'readwrite' },
        { name: 'root', type: 'admin' },
      ],
      options: { webappDirs: [modules] },
    })
    try {
      const as = async (token?: string) =>
        (
          await fetch(`${secured.url}/plugins/demo`, {
            headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
          })
        ).status
      expect(await as()).toBe(401)
      expect(await as(await secured.login('anna'))).toBe(403)
      expect(await as(await secured.login('root'))).toBe(200)
    } finally {
      await secured.close()
      await rm(modules, { recursive: true, force: true })
    }
  })

  it('answers the plugins to anyone while the security file has no users, as signalk-server with security off', async () => {
    const modules = await pluginModules()
    const secured = await startSecured({ options: { webappDirs: [modules] } })
    try {
      // KIP reads its own plugin here and toasts a 401 ("Authentication required").
      expect((await fetch(`${secured.url}/plugins/demo`)).status).toBe(200)
      expect((await fetch(`${secured.url}/plugins`)).status).toBe(200)
    } finally {
      await secured.close()
      await rm(modules, { recursive: true, force: true })
    }
  })

  it('answers no radars, as signalk-server with no radar provider (Freeboard-SK asks)', async () => {
    running = await startServer()
    const res = await fetch(`${running.url}/signalk/v2/api/vessels/self/radars`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ version: '3.4.0', radars: {} })
  })

  it('lists the APIs it answers in /signalk/v2/features, none disabled', async () => {
    running = await startServer()
    const all = (await get('/signalk/v2/features')).body
    expect(all.plugins).toEqual([])
    expect(all.apis).toEqual(expect.arrayContaining(['resources', 'course']))
    expect(all.apis).not.toContain('historyplayback')
    for (const enabled of ['1', 'true']) {
      expect((await get(`/signalk/v2/features?enabled=${enabled}`)).body).toEqual(all)
    }
    for (const enabled of ['0', 'false']) {
      expect((await get(`/signalk/v2/features?enabled=${enabled}`)).body).toEqual({
        apis: [],
        plugins: [],
      })
    }
  })

  it('lists history snapshot and playback when a journal keeps the past (--data-dir)', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'keelson-features-'))
    try {
      running = await startServer({ dataDir })
      const { apis } = (await get('/signalk/v2/features')).body
      expect(apis).toEqual(
        expect.arrayContaining(['historysnapshot', 'historyplayback', 'resources']),
      )
      await running.close()
      running = undefined
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })

  it("answers the active unit preferences with Signal K's default preset and its conversions", async () => {
    running = await startServer()
    const { status, body } = await get('/signalk/v1/unitpreferences/active')
    expect(status).toBe(200)
    expect(body.name).toBe('Nautical (Metric)')
    expect(body.categories.speed).toMatchObject({ baseUnit: 'm/s', targetUnit: 'kn', symbol: 'kn' })
    // The formula converts as its name says: 1 m/s is 1.94384 kn.
    const speed = new Function('value', `return ${body.categories.speed.formula}`)(1)
    expect(speed).toBeCloseTo(1.94384, 5)
    const celsius = new Function('value', `return ${body.categories.temperature.formula}`)(300)
    expect(celsius).toBeCloseTo(26.85, 5)
    for (const category of Object.values(body.categories) as any[]) {
      expect(typeof category.baseUnit).toBe('string')
      expect(typeof category.targetUnit).toBe('string')
    }
  })

  it('identifies as a signalk-server version apps enable login and sharing for, the hello still valid', async () => {
    running = await startServer({ mmsi: '230099999' })
    const discovery = (await get('/signalk')).body
    expect(discovery.server.id).toBe('keelson')
    expect(atLeast(discovery.server.version, '1.46.2')).toBe(true)
    const client = await Client.open(Number(new URL(running.url).port), 'subscribe=none')
    clients.push(client)
    const hello = await client.next()
    expect(hello.version).toBe(discovery.server.version)
    expect(atLeast(hello.version, '1.46.2')).toBe(true)
    expect(atLeast(hello.version, '1.27.0')).toBe(true)
    const result = tv4.validateResult(hello, helloSchema)
    expect(result.missing).toEqual([])
    expect(result.valid).toBe(true)
  })
})
