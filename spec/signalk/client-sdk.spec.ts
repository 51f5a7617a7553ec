import { createRequire } from 'node:module'
import { afterEach, describe, expect, it } from 'vitest'
import { type Running, start } from './support.js'

const require = createRequire(import.meta.url)
const SignalKClient = require('@signalk/client').default as new (
  options: Record<string, unknown>,
) => {
  connect(): Promise<unknown>
  subscribe(command: unknown): void
  disconnect(): void
  on(event: string, listener: (data: any) => void): void
  API(): Promise<{ get(path: string): Promise<any> }>
}

let running: Running | undefined
let sdk: InstanceType<typeof SignalKClient> | undefined

afterEach(async () => {
  sdk?.disconnect()
  sdk = undefined
  await running?.close()
  running = undefined
})

describe('the @signalk/client SDK against keelson', () => {
  it('connects, subscribes and receives deltas', async () => {
    running = await start()
    sdk = new SignalKClient({
      hostname: '127.0.0.1',
      port: running.port,
      useTLS: false,
      reconnect: false,
      notifications: false,
      deltaStreamBehaviour: 'none',
    })
    let self: string | undefined
    sdk.on('self', (context) => {
      self = context
    })
    await sdk.connect()
    expect(self).toBe('vessels.urn:mrn:imo:mmsi:230099999')
    const deltas: any[] = []
    sdk.on('delta', (delta) => deltas.push(delta))
    sdk.subscribe({
      context: 'vessels.self',
      subscribe: [{ path: 'navigation.speedOverGround', policy: 'instant' }],
    })
    // The subscribe reaches keelson before this write when the hub has the subscriber.
    while (running.keelson.hub.subscribers === 0) await new Promise((r) => setTimeout(r, 5))
    running.write('navigation.speedOverGround', 5.5)
    running.write('navigation.headingTrue', 1)
    while (deltas.length === 0) await new Promise((r) => setTimeout(r, 5))
    expect(deltas).toEqual([
      {
        context: 'vessels.urn:mrn:imo:mmsi:230099999',
        updates: [
          {
            $source: 'test.XX',
            timestamp: expect.any(String),
            values: [{ path: 'navigation.speedOverGround', value: 5.5 }],
          },
        ],
      },
    ])
    const api = await sdk.API()
    expect(await api.get('/vessels/self/navigation/speedOverGround/value')).toBe(5.5)
  })
})
