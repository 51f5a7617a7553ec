import { createSocket } from 'node:dgram'
import { afterEach, describe, expect, it } from 'vitest'
import { sentence } from '../../fixtures/nmea-encode.js'
import type { JsonObject } from '../../src/core/json.js'
import { parseDotPath } from '../../src/core/path.js'
import { StateTree } from '../../src/core/state-tree.js'
import { startUdpProvider, type UdpProvider } from '../../src/ingest/udp-provider.js'
import {
  ALPHA,
  BRAVO,
  shown,
  silent,
  staticFragments,
  treeSink,
  until,
  vesselStatics,
} from './support.js'

let provider: UdpProvider | undefined
const sender = createSocket('udp4')

afterEach(async () => {
  await provider?.close()
  provider = undefined
})

function send(port: number, datagram: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) =>
    sender.send(datagram, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
  )
}

describe('UDP provider', () => {
  it('applies every good sentence of a datagram and counts the bad ones', async () => {
    const tree = new StateTree({ mmsi: '230099999' })
    provider = await startUdpProvider({
      port: 0,
      address: '127.0.0.1',
      log: silent,
      sink: treeSink(tree),
    })
    const depth = sentence('SDDPT', ['8.4', '0.5', ''])
    const temp = sentence('YXMTW', ['15.0', 'C'])
    const badChecksum = `${sentence('HEHDT', ['10.0', 'T']).slice(0, -2)}00`
    // Several sentences in one datagram, the last without a line ending.
    await send(provider.port, `${depth}\r\n${badChecksum}\r\n${temp}`)
    await send(provider.port, Buffer.from([0x00, 0xff, 0x24, 0x0a, 0x47, 0x50]))
    await send(provider.port, `${sentence('XXFOO', ['1'])}\n${'$'.repeat(600)}\n`)
    await until(() => provider!.counters.lines === 7)
    expect(provider.counters).toMatchObject({
      deltas: 2,
      badChecksum: 1,
      malformed: 2,
      unknown: 1,
      overlong: 1,
    })
    const env = tree.get(parseDotPath('vessels.self.environment', tree.selfKey)) as JsonObject
    expect(env).toMatchObject({
      depth: { belowTransducer: { value: 8.4, $source: `udp-${provider.port}.SD` } },
      water: { temperature: { value: 288.15 } },
    })
  })

  it('keeps each vessel its own static data when AIS fragments with one sequence id come A1, A2, B2, B1', async () => {
    const tree = new StateTree({ mmsi: '230099999' })
    provider = await startUdpProvider({
      port: 0,
      address: '127.0.0.1',
      log: silent,
      sink: treeSink(tree),
    })
    const [a1, a2] = staticFragments(ALPHA, 7)
    const [b1, b2] = staticFragments(BRAVO, 7)
    // One fragment per datagram, as AIS receivers send them.
    for (const line of [a1!, a2!, b2!, b1!]) await send(provider.port, `${line}\r\n`)
    await until(() => provider!.counters.lines === 4)
    expect(vesselStatics(tree)).toEqual({
      '227000001': shown(ALPHA),
    })
    expect(provider.counters).toMatchObject({ deltas: 1, fragmentsDropped: 1 })
  })

  it('rejects when it cannot bind, so the CLI can say why', async () => {
    // 192.0.2.1 (TEST-NET-1) is never a local address.
    await expect(
      startUdpProvider({ port: 0, address: '192.0.2.1', log: silent, sink: () => {} }),
    ).rejects.toThrow(/EADDRNOTAVAIL/)
  })
})
