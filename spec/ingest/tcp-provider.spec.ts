import type { AddressInfo } from 'node:net'
import { createServer, type Server, type Socket } from 'node:net'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { sentence } from '../../fixtures/nmea-encode.js'
import type { JsonObject } from '../../src/core/json.js'
import { parseDotPath } from '../../src/core/path.js'
import { StateTree } from '../../src/core/state-tree.js'
import type { Provider } from '../../src/ingest/provider.js'
import { startTcpProvider } from '../../src/ingest/tcp-provider.js'
import { applyDelta, type Delta } from '../../src/signalk/delta.js'
import { capturingLog, until } from './support.js'

/** A gateway simulated with a net server: it keeps its clients to write to them and drop them. */
class Gateway {
  readonly clients = new Set<Socket>()
  private server: Server | undefined

  async listen(port = 0): Promise<number> {
    this.server = createServer((socket) => {
      this.clients.add(socket)
      socket.on('close', () => this.clients.delete(socket))
      socket.on('error', () => {})
    })
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve))
    return (this.server.address() as AddressInfo).port
  }

  send(text: string): void {
    for (const client of this.clients) client.write(text)
  }

  /** Drops every client and stops listening. */
  async stop(): Promise<void> {
    for (const client of this.clients) client.destroy()
    await new Promise<void>((resolve) => this.server?.close(() => resolve()))
  }
}

const heading = (deg: number) => `${sentence('HEHDT', [deg.toFixed(1), 'T'])}\r\n`

let gateway: Gateway
let provider: Provider | undefined
let tree: StateTree

function headingTrue(): unknown {
  return (
    tree.get(parseDotPath('vessels.self.navigation.headingTrue', tree.selfKey)) as
      | JsonObject
      | undefined
  )?.value
}

beforeEach(() => {
  gateway = new Gateway()
  tree = new StateTree({ mmsi: '230099999' })
})

afterEach(async () => {
  await provider?.close()
  provider = undefined
  await gateway.stop()
  vi.useRealTimers()
})

describe('TCP gateway provider', () => {
  it('applies the sentences a gateway sends, whatever the chunking', async () => {
    const port = await gateway.listen()
    const { log } = capturingLog()
    provider = startTcpProvider({
      host: '127.0.0.1',
      port,
      log,
      sink: (d) => void applyDelta(tree, d as Delta),
    })
    await until(() => gateway.clients.size === 1)
    const text = heading(90) + heading(180)
    gateway.send(text.slice(0, 7))
    gateway.send(text.slice(7))
    await until(() => provider!.counters.deltas === 2)
    expect(headingTrue()).toBeCloseTo(Math.PI, 6)
    expect(
      tree.get(parseDotPath('vessels.self.navigation.headingTrue', tree.selfKey)),
    ).toMatchObject({
      $source: `tcp-127_0_0_1-${port}.HE`,
    })
  })

  it('reconnects with doubling backoff when the gateway drops, logs it, and goes on', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const port = await gateway.listen()
    const { log, records } = capturingLog()
    provider = startTcpProvider({
      host: '127.0.0.1',
      port,
      log,
      sink: (d) => void applyDelta(tree, d as Delta),
    })
    await until(() => gateway.clients.size === 1)
    gateway.send(heading(90))
    await until(() => provider!.counters.deltas === 1)

    await gateway.stop()
    await until(() =>
      records.some((r) => String(r.msg).includes('dropped; reconnecting in 1000 ms')),
    )
    await vi.advanceTimersByTimeAsync(1000)
    // Nobody listens: the attempt fails and the next one waits twice as long.
    await until(() =>
      records.some((r) => String(r.msg).includes('unreachable; retrying in 2000 ms')),
    )

    await gateway.listen(port)
    await vi.advanceTimersByTimeAsync(1999)
    expect(gateway.clients.size).toBe(0)
    await vi.advanceTimersByTimeAsync(1)
    await until(() => gateway.clients.size === 1)
    gateway.send(heading(270))
    await until(() => provider!.counters.deltas === 2)
    expect(headingTrue()).toBeCloseTo((3 * Math.PI) / 2, 6)
    expect(records.filter((r) => String(r.msg).endsWith('connected'))).toHaveLength(2)
  })

  it('drops a partial line when the connection breaks mid-sentence', async () => {
    const port = await gateway.listen()
    provider = startTcpProvider({
      host: '127.0.0.1',
      port,
      log: capturingLog().log,
      minBackoffMs: 10,
      sink: (d) => void applyDelta(tree, d as Delta),
    })
    await until(() => gateway.clients.size === 1)
    gateway.send('$HEHDT,12')
    await new Promise<void>((resolve) => setImmediate(resolve))
    for (const client of gateway.clients) client.destroy()
    await until(() => gateway.clients.size === 0)
    await until(() => gateway.clients.size === 1)
    gateway.send(heading(45))
    await until(() => provider!.counters.lines === 1)
    expect(provider.counters).toMatchObject({ deltas: 1, malformed: 0 })
  })
})
