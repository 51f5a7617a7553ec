import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyMergePatch } from '../../src/client/merge-patch.js'
import type { Acl } from '../../src/security/types.js'
import { type Secured, startSecured } from '../support/secured.js'
import { SseClient } from '../support/sse-client.js'
import { deltaValues, WsPeer } from '../support/ws-peer.js'
import { sleep, snapshot } from './voyage.js'

/** navi reads navigation only. */
const NAV_ACL: Acl[] = [
  {
    context: 'vessels.self',
    resources: [
      { paths: ['navigation.*'], permissions: [{ subject: 'navi', permission: 'read' }] },
    ],
  },
]

let server: Secured
let dir: string
let start: number
const moments: { rev: number; id: string; time: number }[] = []
const headers: Record<string, Record<string, string>> = {}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keelson-tt-view-'))
  server = await startSecured({
    users: [
      { name: 'navi', type: 'readonly' },
      { name: 'adm', type: 'admin' },
    ],
    file: { acls: NAV_ACL, allowReadonly: false },
    options: { dataDir: dir },
  })
  for (const name of ['navi', 'adm'])
    headers[name] = { Authorization: `Bearer ${await server.login(name)}` }
  start = Date.now()
  for (let i = 0; i < 4; i++) {
    await sleep(15)
    server.seed(i % 2 === 0 ? 'navigation.speedOverGround' : 'environment.wind.speedApparent', i)
    await server.keelson.journal!.settled()
    const tree = server.keelson.tree
    moments.push({ rev: tree.rev, id: tree.eventId, time: Date.now() })
  }
})

afterAll(async () => {
  await server.close()
  await rm(dir, { recursive: true, force: true })
})

describe('time travel through the reader’s view (SPEC §8)', () => {
  it('shows each reader, at each moment, what a GET would have shown them', async () => {
    for (const m of moments) {
      const navi = await snapshot(server.url, '/vessels/self', m.time, headers.navi)
      expect(navi.status).toBe(200)
      expect(navi.body.environment).toBeUndefined()
      expect(navi.body.navigation.speedOverGround.value).toBe(m.rev >= moments[2]!.rev ? 2 : 0)
    }
    // At the last moment, the past is the present: each reader gets their live GET.
    for (const name of ['navi', 'adm']) {
      const live = await fetch(`${server.url}/signalk/v1/api/vessels/self`, {
        headers: headers[name],
      })
      const past = await snapshot(server.url, '/vessels/self', moments.at(-1)!.time, headers[name])
      expect(past.body).toEqual(await live.json())
    }
    const hidden = await snapshot(
      server.url,
      '/vessels/self/environment',
      moments.at(-1)!.time,
      headers.navi,
    )
    expect(hidden.status).toBe(403)
    const anonymous = await snapshot(server.url, '/vessels/self', moments.at(-1)!.time)
    expect(anonymous.status).toBe(401)
    // Nothing about the history (where it starts) is told before who asks is known.
    const early = new Date(start - 86_400_000).toISOString()
    const early401 = await snapshot(server.url, '/vessels/self', early)
    expect(early401.status).toBe(401)
    const ws = await WsPeer.connect(
      `${server.url.replace('http', 'ws')}/signalk/v1/playback?startTime=${early}`,
    )
    expect(ws.refused && ws.status).toBe(401)
  })

  it('plays back over SSE only what the reader may read, its fold equal to its snapshots', async () => {
    const at = new Date(start).toISOString()
    const client = await SseClient.open(
      `${server.url}/signalk/v1/api/vessels/self?startTime=${at}&playbackRate=1000`,
      headers.navi,
    )
    try {
      const lastNav = moments[2]!
      await client.until(() => client.messages.some((e) => e.id === lastNav.id))
      let doc: unknown = null
      for (const e of client.messages) {
        doc = applyMergePatch(doc, JSON.parse(e.data!))
        const m = moments.find((x) => x.id === e.id)
        if (m === undefined) continue
        expect(doc).toEqual(
          (await snapshot(server.url, '/vessels/self', m.time, headers.navi)).body,
        )
      }
      // The wind changes (revisions 2 and 4) were not the reader's: no event carried them.
      expect(client.messages.some((e) => e.id === moments[1]!.id)).toBe(false)
    } finally {
      client.close()
    }
  })

  it('plays back over the WebSocket only what the reader may read', async () => {
    const at = new Date(start).toISOString()
    const url = `${server.url.replace('http', 'ws')}/signalk/v1/playback?startTime=${at}&playbackRate=1000`
    const peer = await WsPeer.open(url, headers.navi)
    try {
      await peer.next()
      const values: ReturnType<typeof deltaValues> = []
      while (!values.some((v) => v.path === 'navigation.speedOverGround' && v.value === 2)) {
        values.push(...deltaValues([await peer.next()]))
      }
      expect(values.every((v) => v.path.startsWith('navigation.'))).toBe(true)
    } finally {
      peer.close()
    }
  })
})
