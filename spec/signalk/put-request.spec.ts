/**
 * Signal K PUT requests (SPEC §11) against a real server: over the WebSocket
 * and REST, seen by another WebSocket subscriber, the reply kept for
 * `GET /signalk/v1/requests/:id`, and every refusal answered with a message.
 */
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { WebSocket } from 'ws'
import { Client, type Running, start } from './support.js'

const KEY = 'urn:mrn:imo:mmsi:230099999'

let running: Running | undefined
const clients: Client[] = []

afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  await running?.close()
  running = undefined
})

async function open(query = 'subscribe=none'): Promise<Client> {
  const client = await Client.open(running!.port, query)
  clients.push(client)
  await client.next() // hello
  return client
}

/** The next message of `client` answering `requestId`. */
async function replyTo(client: Client, requestId: string): Promise<any> {
  for (;;) {
    const message = await client.next()
    if (message.requestId === requestId) return message
  }
}

/** The next delta value `client` receives at `path`. */
async function valueAt(client: Client, path: string): Promise<unknown> {
  for (;;) {
    const found = Client.values([await client.next()]).find((v) => v.path === path)
    if (found !== undefined) return found.value
  }
}

function url(path: string): string {
  return `http://127.0.0.1:${running!.port}${path}`
}

function put(path: string, body: unknown): Promise<Response> {
  return fetch(url(`/signalk/v1/api/${path}`), {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })
}

describe('PUT requests on the WebSocket', () => {
  it('sets the value under the requester source and another display sees it', async () => {
    running = await start()
    const watcher = await open('subscribe=none')
    watcher.send({
      context: 'vessels.self',
      subscribe: [{ path: 'kip.remote.setScreenIndex', policy: 'instant' }],
    })
    const screen = await open()
    const value = { displayId: 'd1', screenIdx: 2 }
    screen.send({
      requestId: 'r-1',
      context: 'vessels.self',
      put: { path: 'kip.remote.setScreenIndex', value },
    })
    expect(await replyTo(screen, 'r-1')).toEqual({
      requestId: 'r-1',
      state: 'COMPLETED',
      statusCode: 200,
      href: '/signalk/v1/requests/r-1',
    })
    expect(await valueAt(watcher, 'kip.remote.setScreenIndex')).toEqual(value)
    const leaf = running.keelson.tree.get({
      segments: ['vessels', KEY, 'kip', 'remote', 'setScreenIndex'],
      starAt: -1,
    }) as any
    expect(leaf.value).toEqual(value)
    expect(leaf.$source).toBe('ws.127_0_0_1')
    expect(Date.now() - Date.parse(leaf.timestamp)).toBeLessThan(60_000)
  })

  it('answers the three requests KIP sends on connect, null members dropped as Signal K does', async () => {
    running = await start()
    const kip = await open()
    const paths = ['setScreenIndex', 'setDisplay', 'requestActiveScreen']
    for (const [i, name] of paths.entries()) {
      const value =
        name === 'setDisplay'
          ? { displayId: 'k', display: null }
          : { displayId: 'k', screenIdx: null }
      kip.send({
        context: 'vessels.self',
        requestId: `kip-${i}`,
        put: { path: `kip.remote.${name}`, value },
      })
    }
    for (const i of paths.keys()) {
      const reply = await replyTo(kip, `kip-${i}`)
      expect(reply).toMatchObject({ state: 'COMPLETED', statusCode: 200 })
    }
    const remote = running.keelson.tree.get({
      segments: ['vessels', KEY, 'kip', 'remote'],
      starAt: -1,
    }) as any
    expect(remote.setDisplay.value).toEqual({ displayId: 'k' })
    expect(remote.requestActiveScreen.value).toEqual({ displayId: 'k' })
  })

  it('sets metadata for a PUT at <path>.meta.<name>', async () => {
    running = await start()
    running.write('environment.wind.speedApparent', 4)
    const client = await open()
    client.send({
      requestId: 'm',
      put: { path: 'environment.wind.speedApparent.meta.displayName', value: 'AWS' },
    })
    expect(await replyTo(client, 'm')).toMatchObject({ statusCode: 200 })
    const leaf = running.keelson.tree.get({
      segments: ['vessels', KEY, 'environment', 'wind', 'speedApparent'],
      starAt: -1,
    }) as any
    expect(leaf.meta.displayName).toBe('AWS')
    expect(leaf.value).toBe(4)
  })

  it('refuses a malformed request with its status and a message, the connection open', async () => {
    running = await start()
    running.write('navigation.speedOverGround', 1)
    const before = running.keelson.tree.rev
    const client = await open()
    const bad: [unknown, string][] = [
      [{ requestId: 'a', put: { path: 'navigation.speedOverGround' } }, 'needs a "value"'],
      [{ requestId: 'b', put: 'navigation' }, '"put" must be an object'],
      [{ requestId: 'c', put: { path: '', value: 1 } }, 'non-empty string'],
      [{ requestId: 'd', put: { path: 'navigation.*', value: 1 } }, '"*"'],
      [{ requestId: 'e', put: { path: 'a..b', value: 1 } }, 'not allowed'],
      [{ requestId: 'f', put: { path: 'a.__proto__.b', value: 1 } }, '__proto__'],
      [{ requestId: 'g', context: 7, put: { path: 'a', value: 1 } }, '"context"'],
      [{ requestId: 'h', context: 'sources.x', put: { path: 'a', value: 1 } }, 'root member'],
      [{ requestId: 'i', put: { path: 'a', value: 1, source: 3 } }, '"source"'],
      [{ requestId: 'j', put: { path: 'a', value: deep(62) } }, 'deeper than 64'],
      [{ requestId: 'k', put: { path: 'a', value: deep(70) } }, 'deeper than'],
    ]
    for (const [message] of bad) client.send(message)
    // Parse refusals answer at once, the others after the port: gather the replies by id.
    const replies = new Map<string, any>()
    while (replies.size < bad.length) {
      const message = await client.next()
      if (message.requestId !== undefined) replies.set(message.requestId, message)
    }
    for (const [message, text] of bad) {
      const reply = replies.get((message as { requestId: string }).requestId)
      expect(reply.state).toBe('COMPLETED')
      expect(reply.statusCode).toBe(400)
      expect(reply.message).toContain(text)
    }
    expect(running.keelson.tree.rev).toBe(before)
    client.send({ requestId: 'ok', put: { path: 'navigation.speedOverGround', value: 2 } })
    expect(await replyTo(client, 'ok')).toMatchObject({ statusCode: 200 })
  })

  it('refuses a forbidden key inside the value, in the text itself, with a message', async () => {
    running = await start()
    const client = await open()
    client.send('{"requestId":"pp","put":{"path":"a.b","value":{"__proto__":{"polluted":1}}}}')
    const reply = await replyTo(client, 'pp')
    expect(reply).toMatchObject({
      state: 'COMPLETED',
      statusCode: 400,
      code: 'KEELSON_ERR_FORBIDDEN_KEY',
    })
    expect(typeof reply.message).toBe('string')
    expect(({} as any).polluted).toBeUndefined()
    expect(
      running.keelson.tree.get({ segments: ['vessels', KEY, 'a'], starAt: -1 }),
    ).toBeUndefined()
  })

  it('answers a flood of requests one by one and keeps only the latest 1000 replies', async () => {
    running = await start()
    const client = await open()
    const count = 1500
    for (let i = 0; i < count; i++) {
      client.send({ requestId: `f${i}`, put: { path: 'flood.counter', value: i } })
    }
    const seen = new Set<string>()
    while (seen.size < count) {
      const message = await client.next()
      if (typeof message.requestId === 'string' && message.statusCode === 200)
        seen.add(message.requestId)
    }
    expect((await fetch(url('/signalk/v1/requests/f0'))).status).toBe(404)
    expect((await fetch(url(`/signalk/v1/requests/f${count - 1}`))).status).toBe(200)
    const leaf = running.keelson.tree.get({
      segments: ['vessels', KEY, 'flood', 'counter'],
      starAt: -1,
    }) as any
    expect(leaf.value).toBe(count - 1)
  })

  it('gives every error answering a requestId a state and a message (KIP reads message)', async () => {
    running = await start()
    const client = await open()
    client.send({ requestId: 'x', nonsense: true })
    const reply = await replyTo(client, 'x')
    expect(reply).toMatchObject({
      state: 'COMPLETED',
      statusCode: 400,
      code: 'KEELSON_ERR_BAD_MESSAGE',
    })
    expect(typeof reply.message).toBe('string')
    expect(reply.message).toBe(reply.errorMessage)
  })

  it('refuses a PUT from a page of a foreign origin with 403 and a message, nothing written', async () => {
    running = await start()
    const ws = new WebSocket(`ws://127.0.0.1:${running.port}/signalk/v1/stream?subscribe=none`, {
      headers: { Origin: 'http://evil.example' },
    })
    const messages: any[] = []
    ws.on('message', (data) => messages.push(JSON.parse(data.toString())))
    await once(ws, 'open')
    ws.send(JSON.stringify({ requestId: 'p', put: { path: 'a', value: 1 } }))
    await vi.waitFor(() => expect(messages.some((m) => m.requestId === 'p')).toBe(true))
    ws.terminate()
    const reply = messages.find((m) => m.requestId === 'p')
    expect(reply).toMatchObject({ state: 'COMPLETED', statusCode: 403 })
    expect(reply.message).toContain('evil.example')
    expect(
      running.keelson.tree.get({ segments: ['vessels', KEY, 'a'], starAt: -1 }),
    ).toBeUndefined()
  })
})

describe('PUT requests and the journal', () => {
  it('answers once the write is journaled: the value is there after a restart on the data dir', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'keelson-put-'))
    try {
      running = await start({ dataDir, journal: 'sync' })
      const client = await open()
      client.send({
        requestId: 'j',
        put: { path: 'electrical.switches.anchorLight.state', value: 1 },
      })
      expect(await replyTo(client, 'j')).toMatchObject({ statusCode: 200 })
      client.close()
      await running.close()
      running = await start({ dataDir, journal: 'sync' })
      const leaf = running.keelson.tree.get({
        segments: ['vessels', KEY, 'electrical', 'switches', 'anchorLight', 'state'],
        starAt: -1,
      }) as any
      expect(leaf.value).toBe(1)
      expect(leaf.$source).toBe('ws.127_0_0_1')
    } finally {
      await running?.close()
      running = undefined
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})

describe('PUT requests over REST', () => {
  it('treats a body of exactly {"value"} as a PUT request seen by a WebSocket subscriber', async () => {
    running = await start()
    const watcher = await open('subscribe=none')
    watcher.send({
      context: 'vessels.self',
      subscribe: [{ path: 'steering.autopilot.target.headingTrue' }],
    })
    await watcher.drain()
    const res = await put('vessels/self/steering/autopilot/target/headingTrue', {
      value: 1.52,
      source: 'actisense.204',
    })
    expect(res.status).toBe(200)
    const reply = (await res.json()) as any
    expect(reply).toMatchObject({ state: 'COMPLETED', statusCode: 200 })
    expect(typeof reply.requestId).toBe('string')
    expect(await valueAt(watcher, 'steering.autopilot.target.headingTrue')).toBe(1.52)
    const leaf = (await (
      await fetch(url('/signalk/v1/api/vessels/self/steering/autopilot/target/headingTrue'))
    ).json()) as any
    expect(leaf.value).toBe(1.52)
    expect(leaf.$source).toBe('http.127_0_0_1')
    const state = await fetch(url(reply.href))
    expect(state.status).toBe(200)
    expect(await state.json()).toEqual(reply)
  })

  it('keeps any other PUT body a subtree PUT (SPEC §3)', async () => {
    running = await start()
    const res = await put('vessels/self/design/keel', { value: 2, type: 'fin' })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ value: 2, type: 'fin' })
    // Outside a vessel a {"value"} body is a subtree PUT too.
    const other = await put('custom/thing', { value: 5 })
    expect(await other.json()).toEqual({ value: 5 })
    // And at a vessel itself (no path below it).
    expect((await put(`vessels/${KEY}/x`, { value: 1 })).status).toBe(200)
  })

  it('removes the value for {"value":null}, keeping $source and timestamp (SPEC §1)', async () => {
    running = await start()
    running.write('navigation.speedOverGround', 3)
    const res = await put('vessels/self/navigation/speedOverGround', { value: null })
    expect(res.status).toBe(200)
    const leaf = (await (
      await fetch(url('/signalk/v1/api/vessels/self/navigation/speedOverGround'))
    ).json()) as any
    expect(leaf.value).toBeUndefined()
    expect(leaf.$source).toBe('http.127_0_0_1')
  })

  it('answers a refused request with its status, problem details and the Signal K reply', async () => {
    running = await start()
    const res = await put('vessels/self/a/b', { value: deep(60) })
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toContain('application/problem+json')
    const body = (await res.json()) as any
    expect(body).toMatchObject({
      state: 'COMPLETED',
      statusCode: 400,
      status: 400,
      code: 'KEELSON_ERR_TOO_DEEP',
    })
    expect(body.message).toBe(body.detail)
  })

  it('refuses a write from a foreign origin before reading the body (403 problem details)', async () => {
    running = await start()
    const res = await fetch(url('/signalk/v1/api/vessels/self/a'), {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', Origin: 'http://evil.example' },
      body: JSON.stringify({ value: 1 }),
    })
    expect(res.status).toBe(403)
  })

  it('answers 404 for a request id it does not know', async () => {
    running = await start()
    const res = await fetch(url('/signalk/v1/requests/nope'))
    expect(res.status).toBe(404)
    expect(((await res.json()) as any).code).toBe('KEELSON_ERR_REQUEST_NOT_FOUND')
    const malformed = await fetch(url('/signalk/v1/requests/%E0%A4%A'))
    expect(malformed.status).toBe(400)
  })
})

/** An object nested `levels` deep. */
function deep(levels: number): unknown {
  let out: unknown = 1
  for (let i = 0; i < levels; i++) out = { a: out }
  return out
}
