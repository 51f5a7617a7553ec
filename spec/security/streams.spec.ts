/**
 * Live streams and their tokens (SPEC §8): an SSE stream and a WebSocket
 * whose token expires are ended (fake Date, the real stall sweep); the
 * client logs in again and resumes with Last-Event-ID, one catch-up patch,
 * nothing lost and nothing it may not read. Removing a user ends its
 * streams, and only its streams.
 */
import mergePatch from 'json-merge-patch'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Acl } from '../../src/security/types.js'
import { PASSWORD, type Secured, startSecured } from '../support/secured.js'
import { SseClient } from '../support/sse-client.js'
import { deltaValues, WsPeer } from '../support/ws-peer.js'

let running: Secured | undefined
const open: { close(): void }[] = []

afterEach(async () => {
  vi.useRealTimers()
  for (const stream of open.splice(0)) stream.close()
  await running?.close()
  running = undefined
})

const NAV_ACL: Acl[] = [
  {
    context: 'vessels.self',
    resources: [
      {
        paths: ['navigation.*'],
        permissions: [
          { subject: 'navi', permission: 'read' },
          { subject: 'crew', permission: 'read' },
        ],
      },
      { paths: ['*'], permissions: [{ subject: 'crew', permission: 'read' }] },
    ],
  },
]

async function sse(path: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await SseClient.open(`${running!.url}/signalk/v1/api/${path}`, headers)
  open.push(client)
  return client
}

async function ws(token: string): Promise<WsPeer> {
  const peer = await WsPeer.open(`ws://127.0.0.1:${running!.port}/signalk/v1/stream`, {
    Authorization: `Bearer ${token}`,
  })
  open.push(peer)
  return peer
}

/** The fold of a stream's messages (RFC 7396), from its snapshot on. */
function fold(client: SseClient): unknown {
  let doc: unknown = null
  for (const message of client.messages) doc = mergePatch.apply(doc, JSON.parse(message.data!))
  return doc
}

async function getAs(token: string, path: string): Promise<unknown> {
  const res = await fetch(`${running!.url}/signalk/v1/api/${path}`, {
    headers: { Authorization: `Bearer ${token}` },
  })
  expect(res.status).toBe(200)
  return res.json()
}

describe('a stream whose token expires', () => {
  it('is ended, SSE and WebSocket alike, and resumes after a new login with one catch-up patch of what it may read', async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true })
    running = await startSecured({
      users: [{ name: 'navi', type: 'readonly' }],
      file: { acls: NAV_ACL, expiration: '1h' },
      options: { stallTimeoutMs: 200 },
    })
    running.seed('navigation.speedOverGround', 3.5)
    running.seed('environment.depth.belowKeel', 12)
    const token = await running.login('navi')
    const stream = await sse(`vessels/self?token=${token}`)
    expect(stream.response.statusCode).toBe(200)
    const peer = await ws(token)
    await peer.next() // hello
    expect(deltaValues(await peer.drain()).map((v) => v.path)).toEqual([
      'navigation.speedOverGround',
    ])
    // A WebSocket that logged in with the login message expires with its token too.
    const loggedIn = await WsPeer.open(`ws://127.0.0.1:${running.port}/signalk/v1/stream`)
    open.push(loggedIn)
    loggedIn.send({ requestId: 'l', login: { username: 'navi', password: PASSWORD } })
    expect(await loggedIn.reply('l')).toMatchObject({ statusCode: 200 })
    running.seed('navigation.speedOverGround', 4)
    await stream.until(() => stream.messages.length === 2)
    const lastId = stream.lastEventId!

    // An hour and a bit later: the stall sweep ends both streams.
    vi.setSystemTime(Date.now() + 3_601_000)
    await stream.until(() => stream.closed).catch(() => undefined)
    expect(stream.closed).toBe(true)
    await peer.untilClosed()
    expect(peer.closeCode).toBe(1008)
    expect(peer.closeReason).toBe('token expired')
    await loggedIn.untilClosed()
    expect(loggedIn.closeCode).toBe(1008)
    expect(running.keelson.streams.size).toBe(0)

    // Changes while it is away; the old token is refused; a new login resumes.
    running.seed('navigation.speedOverGround', 5)
    running.seed('environment.depth.belowKeel', 11)
    running.seed('navigation.courseOverGroundTrue', 1.5)
    const stale = await SseClient.open(`${running.url}/signalk/v1/api/vessels/self?token=${token}`)
    open.push(stale)
    expect(stale.response.statusCode).toBe(401)
    const again = await running.login('navi')
    const resumed = await sse(`vessels/self?token=${again}`, { 'Last-Event-ID': lastId })
    expect(resumed.response.statusCode).toBe(200)
    await resumed.until(() => resumed.messages.length >= 1)
    // Nothing more is coming: a round trip on the same server proves the catch-up was all.
    await getAs(again, 'vessels/self')
    expect(resumed.messages).toHaveLength(1)
    const catchUp = JSON.parse(resumed.messages[0]!.data!)
    expect(JSON.stringify(catchUp)).not.toContain('environment')
    expect(mergePatch.apply(fold(stream), catchUp)).toEqual(await getAs(again, 'vessels/self'))
    expect(resumed.messages[0]!.id).toBe(running.keelson.tree.eventId)
  })
})

describe('removing a user', () => {
  it("ends that user's SSE streams and WebSockets, and no one else's", async () => {
    running = await startSecured({
      users: [
        { name: 'navi', type: 'readonly' },
        { name: 'crew', type: 'readonly' },
      ],
      file: { acls: NAV_ACL },
    })
    running.seed('navigation.speedOverGround', 3.5)
    const navi = await running.login('navi')
    const crew = await running.login('crew')
    const naviSse = await sse('vessels/self', { Cookie: `JAUTHENTICATION=${navi}` })
    const naviWs = await ws(navi)
    const crewSse = await sse('vessels/self', { Authorization: `Bearer ${crew}` })
    const crewWs = await ws(crew)
    await naviSse.until(() => naviSse.messages.length === 1)
    await crewSse.until(() => crewSse.messages.length === 1)
    expect(running.keelson.streams.size).toBe(4)

    await running.store.removeUser('navi')
    await naviSse.until(() => naviSse.closed, 3000).catch(() => undefined)
    expect(naviSse.closed).toBe(true)
    await naviWs.untilClosed(3000)
    expect(naviWs.closeCode).toBe(1008)
    expect(running.keelson.streams.size).toBe(2)
    // The others read on.
    running.seed('navigation.speedOverGround', 4)
    await crewSse.until(() => crewSse.messages.length === 2)
    expect(deltaValues(await crewWs.drain()).some((v) => v.value === 4)).toBe(true)
    // And the removed user's token is refused from now on.
    const res = await fetch(`${running.url}/signalk/v1/api/vessels/self`, {
      headers: { Authorization: `Bearer ${navi}` },
    })
    expect(res.status).toBe(401)
  })

  it('in the file by another process (keelson user remove) ends its streams within the poll', async () => {
    running = await startSecured({ users: [{ name: 'navi', type: 'readonly' }] })
    const navi = await running.login('navi')
    const stream = await sse('vessels/self', { Authorization: `Bearer ${navi}` })
    await stream.until(() => stream.messages.length === 1)
    const { readFile, writeFile, rename } = await import('node:fs/promises')
    const file = JSON.parse(await readFile(running.file, 'utf8'))
    file.users = []
    await writeFile(`${running.file}.tmp`, JSON.stringify(file), { mode: 0o600 })
    await rename(`${running.file}.tmp`, running.file)
    await stream.until(() => stream.closed, 4000).catch(() => undefined)
    expect(stream.closed).toBe(true)
  })
})
