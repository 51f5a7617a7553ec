import { createRequire } from 'node:module'
import request from 'supertest'
import { afterEach, describe, expect, it } from 'vitest'
import { createApp, type Keelson } from '../../src/app.js'
import { applyDelta } from '../../src/signalk/delta.js'
import { schemaMeta, schemaMetaCacheSize } from '../../src/signalk/meta.js'
import { Client, type Running, start } from './support.js'

const schema = createRequire(import.meta.url)('@signalk/signalk-schema') as {
  validateDelta(delta: unknown): { valid: boolean }
}
const SELF = 'vessels.urn:mrn:imo:mmsi:230099999'

let running: Running | undefined
let keelson: Keelson | undefined
const clients: Client[] = []

afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  await running?.close()
  running = undefined
  keelson?.close()
  keelson = undefined
})

describe('sendMeta=all', () => {
  it('sends the schema metadata of a path once, before its first value', async () => {
    running = await start()
    const client = await Client.open(running.port, 'sendMeta=all&sendCachedValues=false')
    clients.push(client)
    await client.next()
    running.write('navigation.speedOverGround', 3)
    running.write('navigation.speedOverGround', 4)
    const [meta, first, second, ...rest] = await client.drain()
    expect(meta).toEqual({
      context: SELF,
      updates: [
        {
          meta: [
            {
              path: 'navigation.speedOverGround',
              value: { units: 'm/s', description: expect.stringContaining('speed over ground') },
            },
          ],
        },
      ],
    })
    expect(Client.values([first, second]).map((v) => v.value)).toEqual([3, 4])
    expect(rest).toEqual([])
    for (const message of [meta, first, second])
      expect(schema.validateDelta(message).valid).toBe(true)
  })
})

describe('GET <path>/meta', () => {
  it('serves the schema metadata merged with the meta stored in the tree', async () => {
    keelson = createApp({ mmsi: '230099999' })
    const url = '/signalk/v1/api/vessels/self/navigation/speedOverGround/meta'
    const plain = await request(keelson.app).get(url).expect(200)
    expect(plain.body).toMatchObject({ units: 'm/s' })
    applyDelta(keelson.tree, {
      updates: [
        {
          $source: 's.1',
          meta: [
            { path: 'navigation.speedOverGround', value: { displayName: 'SOG', units: 'm/s' } },
          ],
        },
      ],
    })
    const merged = await request(keelson.app).get(`${url}/`).expect(200)
    expect(merged.body).toMatchObject({ units: 'm/s', displayName: 'SOG' })
    expect(merged.body.description).toContain('speed over ground')
  })

  it('answers 404 for a path with neither schema nor stored metadata', async () => {
    keelson = createApp()
    const res = await request(keelson.app).get('/signalk/v1/api/vessels/self/no/such/path/meta')
    expect(res.status).toBe(404)
    expect(res.body.code).toBe('KEELSON_ERR_PATH_NOT_FOUND')
  })
})

describe('installed webapps', () => {
  it('serves a package with the signalk-webapp keyword from its public dir at /<name>/', async () => {
    keelson = createApp()
    const page = await request(keelson.app).get('/@signalk/instrumentpanel/').expect(200)
    expect(page.text).toMatch(/<html/i)
    await request(keelson.app).get('/@signalk/instrumentpanel/ui.js').expect(200)
    const list = await request(keelson.app).get('/skServer/webapps').expect(200)
    expect(list.body).toContainEqual(
      expect.objectContaining({
        name: '@signalk/instrumentpanel',
        location: '/@signalk/instrumentpanel/',
      }),
    )
  })
})

describe('the schema lookup cache', () => {
  it('keeps nothing of paths the schema does not know (GET .../<random>/meta)', () => {
    expect(schemaMeta('vessels', ['navigation', 'speedOverGround'])).toBeDefined()
    const before = schemaMetaCacheSize()
    for (let i = 0; i < 300; i++) {
      expect(schemaMeta('vessels', ['navigation', `random${i}`, 'x'])).toBeUndefined()
    }
    schemaMeta('vessels', ['navigation', 'x'.repeat(10_000)])
    expect(schemaMetaCacheSize()).toBe(before)
  })
})
