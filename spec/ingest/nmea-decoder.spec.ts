import { afterEach, describe, expect, it, vi } from 'vitest'
import { aisStaticData, aivdm, sentence } from '../../fixtures/nmea-encode.js'
import { type DeltaSink, NmeaDecoder } from '../../src/ingest/nmea-decoder.js'
import type { Delta } from '../../src/signalk/delta.js'
import { capturingLog, silent } from './support.js'

const RMC = '$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A'

function decoder(sink: DeltaSink = () => {}, log = silent, restamp = false) {
  return new NmeaDecoder({ label: 'test', sink, log, restamp })
}

afterEach(() => {
  vi.useRealTimers()
})

describe('NmeaDecoder', () => {
  it('hands a parsed sentence to the sink with the provider as its source label', () => {
    const deltas: Delta[] = []
    const d = decoder((delta) => void deltas.push(delta))
    d.line(RMC)
    expect(deltas).toHaveLength(0)
    d.flush()
    expect(deltas).toHaveLength(1)
    expect(deltas[0]!.updates[0]!.source).toEqual({
      label: 'test',
      type: 'NMEA0183',
      talker: 'GP',
      sentence: 'RMC',
    })
    expect(deltas[0]!.updates[0]!.timestamp).toBe('1994-03-23T12:35:19.000Z')
    expect(d.counters).toMatchObject({ lines: 1, deltas: 1 })
  })

  it('stamps updates with the current time when asked to (replays)', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2030-01-02T03:04:05.000Z'))
    const deltas: Delta[] = []
    const d = decoder((delta) => void deltas.push(delta), silent, true)
    d.line(RMC)
    d.flush()
    expect(deltas[0]!.updates[0]!.timestamp).toBe('2030-01-02T03:04:05.000Z')
  })

  it('counts each kind of bad line and hands none of them on', () => {
    const deltas: Delta[] = []
    const d = decoder((delta) => void deltas.push(delta))
    d.line(RMC.replace('*6A', '*6B'))
    d.line('$GPRMC,123519,A,4807.038,N,0113')
    d.line('\xff\x00\x13garbage\x7f')
    d.line('$GPHDT,123.4,T')
    d.line(sentence('XXFOO', [1, 2]))
    d.line(sentence('PXYZ', ['proprietary']))
    d.overlong()
    d.flush()
    expect(deltas).toEqual([])
    expect(d.counters).toEqual({
      lines: 7,
      deltas: 0,
      empty: 0,
      badChecksum: 1,
      malformed: 3,
      unknown: 2,
      overlong: 1,
      rejected: 0,
    })
  })

  it('counts a known sentence that carries nothing yet as empty, not as bad', () => {
    const deltas: Delta[] = []
    const d = decoder((delta) => void deltas.push(delta))
    const [first, second] = aivdm(
      aisStaticData({
        mmsi: 227_000_001,
        imo: 0,
        callsign: 'F1',
        name: 'TEST',
        shipType: 36,
        toBow: 5,
        toStern: 5,
        toPort: 1,
        toStarboard: 1,
        draught: 1.5,
        destination: 'HERE',
        eta: { month: 1, day: 1, hour: 0, minute: 0 },
      }),
      'A',
      3,
    )
    d.line(first!)
    expect(d.counters).toMatchObject({ lines: 1, empty: 1, deltas: 0 })
    d.line(second!)
    d.flush()
    expect(deltas[0]!.context).toBe('vessels.urn:mrn:imo:mmsi:227000001')
  })

  it('hands the deltas of one context decoded since the last flush as one delta', () => {
    const deltas: Delta[] = []
    const d = decoder((delta) => void deltas.push(delta))
    d.line(RMC)
    d.line(sentence('HEHDT', ['90.0', 'T']))
    d.flush()
    expect(deltas).toHaveLength(1)
    expect(deltas[0]!.updates.map((u) => u.source?.sentence)).toEqual(['RMC', 'HDT'])
    expect(d.counters.deltas).toBe(2)
  })

  it('counts only the deltas the sink refuses when it refuses a batch, and applies the rest', () => {
    const applied: Delta[] = []
    const d = decoder((delta) => {
      if (delta.updates.some((u) => u.source?.sentence === 'HDT')) throw new Error('refused')
      applied.push(delta)
    })
    d.line(RMC)
    d.line(sentence('HEHDT', ['90.0', 'T']))
    d.flush()
    expect(applied).toHaveLength(1)
    expect(d.counters).toMatchObject({ lines: 2, deltas: 1, rejected: 1 })
  })

  it('logs bad lines as one summary per 10 s at most, with what was skipped since', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const { log, records } = capturingLog()
    const d = decoder(() => {}, log)
    for (let i = 0; i < 100; i++) d.line('garbage')
    expect(records).toHaveLength(1)
    expect(records[0]).toMatchObject({ provider: 'test', skipped: { malformed: 1 } })
    vi.advanceTimersByTime(10_000)
    d.line(RMC.replace('*6A', '*00'))
    expect(records).toHaveLength(2)
    expect(records[1]).toMatchObject({ skipped: { malformed: 99, badChecksum: 1 } })
  })
})
