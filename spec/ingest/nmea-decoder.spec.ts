import { afterEach, describe, expect, it, vi } from 'vitest'
import { checksum, sentence } from '../../fixtures/nmea-encode.js'
import { parseDotPath } from '../../src/core/path.js'
import { StateTree } from '../../src/core/state-tree.js'
import { type DeltaSink, NmeaDecoder } from '../../src/ingest/nmea-decoder.js'
import type { Delta } from '../../src/signalk/delta.js'
import {
  ALPHA,
  BRAVO,
  capturingLog,
  shown,
  silent,
  staticFragments,
  treeSink,
  vesselStatics,
} from './support.js'

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
      fragmentsDropped: 0,
    })
  })

  it('holds a first AIS fragment until its set is complete, then counts it as empty', () => {
    const deltas: Delta[] = []
    const d = decoder((delta) => void deltas.push(delta))
    const [first, second] = staticFragments(ALPHA)
    d.line(first!)
    expect(d.counters).toMatchObject({ lines: 1, empty: 0, deltas: 0, fragmentsDropped: 0 })
    d.line(second!)
    d.flush()
    expect(d.counters).toMatchObject({ lines: 2, empty: 1, deltas: 1 })
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

describe('NmeaDecoder with multi-sentence AIS messages', () => {
  function decodeInto(tree: StateTree) {
    return new NmeaDecoder({ label: 'test', sink: treeSink(tree), log: silent })
  }

  it('keeps each vessel its own static data when two messages with one sequence id arrive A1, A2, B2, B1', () => {
    const tree = new StateTree({ mmsi: '230099999' })
    const d = decodeInto(tree)
    const [a1, a2] = staticFragments(ALPHA, 7)
    const [b1, b2] = staticFragments(BRAVO, 7)
    for (const line of [a1!, a2!, b2!, b1!]) d.line(line)
    d.flush()
    // B2 has no first fragment before it and B1 no second after it: neither reaches the tree.
    expect(vesselStatics(tree)).toEqual({ '227000001': shown(ALPHA) })
    expect(JSON.stringify(tree.get(parseDotPath('vessels')))).not.toMatch(/BRAVO|FBBB2|KEROMAN/)
    expect(d.counters).toMatchObject({ lines: 4, deltas: 1, fragmentsDropped: 1 })
  })

  it('gives both vessels their own static data when the messages arrive in order A1, A2, B1, B2', () => {
    const tree = new StateTree({ mmsi: '230099999' })
    const d = decodeInto(tree)
    const [a1, a2] = staticFragments(ALPHA, 7)
    const [b1, b2] = staticFragments(BRAVO, 7)
    for (const line of [a1!, a2!, b1!, b2!]) d.line(line)
    d.flush()
    expect(vesselStatics(tree)).toEqual({
      '227000001': shown(ALPHA),
      '227000002': shown(BRAVO),
    })
    expect(d.counters).toMatchObject({ deltas: 2, fragmentsDropped: 0 })
  })

  it('drops and counts a lone second fragment instead of joining it to the last message', () => {
    const tree = new StateTree({ mmsi: '230099999' })
    const d = decodeInto(tree)
    const [a1, a2] = staticFragments(ALPHA, 7)
    const [, b2] = staticFragments(BRAVO, 7)
    for (const line of [a1!, a2!, b2!]) d.line(line)
    d.flush()
    expect(vesselStatics(tree)).toEqual({ '227000001': shown(ALPHA) })
    expect(d.counters).toMatchObject({ lines: 3, deltas: 1, fragmentsDropped: 1 })
  })

  it('joins interleaved messages whose sequence ids differ (A1, B1, A2, B2)', () => {
    const tree = new StateTree({ mmsi: '230099999' })
    const d = decodeInto(tree)
    const [a1, a2] = staticFragments(ALPHA, 3)
    const [b1, b2] = staticFragments(BRAVO, 4)
    for (const line of [a1!, b1!, a2!, b2!]) d.line(line)
    d.flush()
    expect(vesselStatics(tree)).toEqual({
      '227000001': shown(ALPHA),
      '227000002': shown(BRAVO),
    })
    expect(d.counters.fragmentsDropped).toBe(0)
  })

  it('joins fragments that come behind NMEA 0183 v4 tag blocks', () => {
    const tree = new StateTree({ mmsi: '230099999' })
    const d = decodeInto(tree)
    const [a1, a2] = staticFragments(ALPHA, 7)
    const tag = (body: string) => `\\${body}*${checksum(body)}\\`
    d.line(`${tag('g:1-2-42,s:rx1,c:1700000000')}${a1}`)
    d.line(`${tag('g:2-2-42')}${a2}`)
    d.flush()
    expect(vesselStatics(tree)).toEqual({ '227000001': shown(ALPHA) })
    expect(d.counters).toMatchObject({ deltas: 1, fragmentsDropped: 0 })
  })

  it('drops and counts a set still incomplete 5 s after its first fragment', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const tree = new StateTree({ mmsi: '230099999' })
    const d = decodeInto(tree)
    const [a1, a2] = staticFragments(ALPHA, 7)
    d.line(a1!)
    vi.advanceTimersByTime(5_001)
    d.line(a2!)
    d.flush()
    expect(vesselStatics(tree)).toEqual({})
    expect(d.counters).toMatchObject({ deltas: 0, fragmentsDropped: 2 })
  })
})

describe('NmeaDecoder with non-finite numbers', () => {
  it('refuses a sentence whose number parses as Infinity and counts it, storing nothing', () => {
    const tree = new StateTree()
    const d = decoder(treeSink(tree))
    d.line(sentence('IIDBT', ['', 'f', 'Infinity', 'M', '', 'F']))
    d.line(sentence('IIDBT', ['', 'f', '12.5', 'M', '', 'F']))
    d.flush()
    // The batch is refused whole, then each line alone: the good one lands, the bad one is counted.
    expect(d.counters.rejected).toBe(1)
    expect(d.counters.deltas).toBe(1)
    expect(
      tree.get(parseDotPath('vessels.self.environment.depth.belowTransducer.value', tree.selfKey)),
    ).toBe(12.5)
  })
})
