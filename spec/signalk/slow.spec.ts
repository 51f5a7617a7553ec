import type { Socket } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Client, type Running, start } from './support.js'

let running: Running | undefined
let client: Client | undefined

afterEach(async () => {
  client?.close()
  client = undefined
  await running?.close()
  running = undefined
  vi.useRealTimers()
})

const BIG = 'x'.repeat(64 * 1024)
const WRITES = 400

/** A client whose socket stops reading, and a flood of big values on one path. */
async function stallAndFlood(stallTimeoutMs: number): Promise<Socket> {
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'],
  })
  running = await start({ stallTimeoutMs })
  client = await Client.open(running.port, 'sendCachedValues=false')
  await client.next()
  const socket = (client.ws as unknown as { _socket: Socket })._socket
  socket.pause()
  for (let i = 0; i < WRITES; i++) running.write('notifications.flood', `${i} ${BIG}`)
  return socket
}

const io = () => new Promise((resolve) => setImmediate(resolve))

describe('a slow WebSocket client', () => {
  it('gets the latest value per path once its socket drains, not every change', async () => {
    const socket = await stallAndFlood(60_000)
    expect(running!.keelson.signalk.stats.coalesced).toBeGreaterThan(0)
    socket.resume()
    const last = () => Client.values(client!.messages).at(-1)?.value as string | undefined
    for (let i = 0; i < 2000 && !last()?.startsWith(`${WRITES - 1} `); i++) {
      vi.advanceTimersByTime(50)
      await io()
    }
    expect(last()?.startsWith(`${WRITES - 1} `)).toBe(true)
    expect(client!.messages.length).toBeLessThan(WRITES)
    expect(running!.keelson.signalk.size).toBe(1)
  })

  it('is closed once stalled past stallTimeoutMs, on the shared sweep timer', async () => {
    await stallAndFlood(2_000)
    vi.advanceTimersByTime(1_000)
    expect(running!.keelson.signalk.size).toBe(1)
    vi.advanceTimersByTime(1_500)
    expect(running!.keelson.signalk.size).toBe(0)
    expect(running!.keelson.signalk.stats.stalledClosed).toBe(1)
  })
})
