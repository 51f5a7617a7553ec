import { afterEach, describe, expect, it } from 'vitest'
import { textFrame } from '../../src/signalk/ws-frame.js'
import { Client, type Running, start } from './support.js'

let running: Running | undefined
const clients: Client[] = []

afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  await running?.close()
  running = undefined
})

async function open(query = 'sendCachedValues=false'): Promise<Client> {
  const client = await Client.open(running!.port, query)
  clients.push(client)
  await client.next()
  return client
}

describe('WebSocket text frames built once per scope', () => {
  it('uses the 7-bit, 16-bit and 64-bit payload lengths of RFC 6455 §5.2', () => {
    expect([...textFrame('{}')]).toEqual([0x81, 2, 0x7b, 0x7d])
    const medium = textFrame('é'.repeat(100))
    expect([...medium.subarray(0, 4)]).toEqual([0x81, 126, 0, 200])
    const large = textFrame('x'.repeat(70_000))
    expect(large[1]).toBe(127)
    expect(large.readBigUInt64BE(2)).toBe(70_000n)
    expect(large.length).toBe(10 + 70_000)
  })

  it('declines permessage-deflate, which a ws client offers by default', async () => {
    running = await start()
    const client = await open()
    expect(client.ws.extensions).toBe('')
  })

  it('delivers small, medium and large values as text frames to every client', async () => {
    running = await start()
    const a = await open()
    const b = await open()
    const values = ['s', 'm'.repeat(300), `${'ü'.repeat(40_000)}`]
    for (const [i, value] of values.entries()) running.write(`notifications.n${i}`, value)
    for (const client of [a, b]) {
      const messages = await client.drain()
      expect(messages).not.toContainEqual({ binaryFrame: true })
      expect(Client.values(messages).map((v) => v.value)).toEqual(values)
    }
  })

  it('keeps replies in order with the deltas queued before them', async () => {
    running = await start()
    const client = await open()
    for (let i = 0; i < 50; i++) running.write('navigation.log', i)
    client.send({ requestId: 'bad', subscribe: 'not an array' })
    const messages = await client.drain()
    const error = messages.findIndex((m) => m.requestId === 'bad')
    expect(Client.values(messages.slice(0, error)).map((v) => v.value)).toEqual([
      ...Array(50).keys(),
    ])
    expect(messages[error]).toMatchObject({ statusCode: 400 })
  })

  it('writes each client the frames of one turn in one write, counted per message', async () => {
    running = await start()
    const client = await open()
    const stats = running.keelson.signalk.stats
    const before = stats.eventsSent
    for (let i = 0; i < 20; i++) running.write('navigation.log', i)
    const messages = await client.drain()
    expect(Client.values(messages)).toHaveLength(20)
    // 20 deltas and the reply to drain()'s sync message.
    expect(stats.eventsSent - before).toBe(21)
  })
})
