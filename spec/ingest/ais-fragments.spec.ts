import { afterEach, describe, expect, it, vi } from 'vitest'
import { aisPositionReport, checksum, sentence } from '../../fixtures/nmea-encode.js'
import { AisFragments } from '../../src/ingest/ais-fragments.js'
import { ALPHA, BRAVO, staticFragments } from './support.js'

/** A three-fragment message's sentences (any payload does: only the framing is read). */
function threeParts(sequence: number, channel = 'A', address = 'AIVDM', start = '!'): string[] {
  return [1, 2, 3].map((i) => sentence(address, [3, i, sequence, channel, '0000', 0], start))
}

function reassembler(options: { maxOpen?: number; maxAgeMs?: number } = {}) {
  const dropped: string[] = []
  const fragments = new AisFragments({ ...options, onDrop: (line) => void dropped.push(line) })
  return { fragments, dropped }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('AisFragments', () => {
  it('lets single-sentence AIS messages and other sentences straight through', () => {
    const { fragments, dropped } = reassembler()
    const position = sentence(
      'AIVDM',
      [
        1,
        1,
        '',
        'B',
        aisPositionReport({
          mmsi: 1,
          navStatus: 0,
          sog: 1,
          lat: 1,
          lon: 1,
          cog: 1,
          heading: 1,
          second: 1,
        }).armour().payload,
        0,
      ],
      '!',
    )
    expect(fragments.accept(position)).toBeNull()
    expect(fragments.accept(sentence('GPRMC', ['123519', 'A']))).toBeNull()
    expect(fragments.accept('garbage')).toBeNull()
    expect(dropped).toEqual([])
  })

  it('lets a fragment with a bad checksum through, for the parser to count as bad', () => {
    const { fragments } = reassembler()
    const [a1] = staticFragments(ALPHA)
    expect(fragments.accept(`${a1!.slice(0, -2)}00`)).toBeNull()
    expect(fragments.size).toBe(0)
  })

  it('holds the fragments of a set until it is complete, then hands them over in order', () => {
    const { fragments, dropped } = reassembler()
    const [p1, p2, p3] = threeParts(5)
    expect(fragments.accept(p1!)).toEqual([])
    expect(fragments.accept(p2!)).toEqual([])
    expect(fragments.accept(p3!)).toEqual([p1, p2, p3])
    expect(fragments.size).toBe(0)
    expect(dropped).toEqual([])
  })

  it('drops a second fragment that has no first before it', () => {
    const { fragments, dropped } = reassembler()
    const [a1, a2] = staticFragments(ALPHA, 7)
    const [, b2] = staticFragments(BRAVO, 7)
    expect(fragments.accept(a1!)).toEqual([])
    expect(fragments.accept(a2!)).toEqual([a1, a2])
    expect(fragments.accept(b2!)).toEqual([])
    expect(dropped).toEqual([b2])
  })

  it('drops a set and the fragment that skips a number in it', () => {
    const { fragments, dropped } = reassembler()
    const [p1, , p3] = threeParts(5)
    fragments.accept(p1!)
    expect(fragments.accept(p3!)).toEqual([])
    expect(dropped).toEqual([p1, p3])
    expect(fragments.size).toBe(0)
  })

  it('drops an open set when a new first fragment with its key arrives', () => {
    const { fragments, dropped } = reassembler()
    const [a1] = staticFragments(ALPHA, 7)
    const [b1, b2] = staticFragments(BRAVO, 7)
    fragments.accept(a1!)
    expect(fragments.accept(b1!)).toEqual([])
    expect(fragments.accept(b2!)).toEqual([b1, b2])
    expect(dropped).toEqual([a1])
  })

  it('drops a fragment whose count differs from its set', () => {
    const { fragments, dropped } = reassembler()
    const [a1] = staticFragments(ALPHA, 7)
    const [, p2] = threeParts(7)
    fragments.accept(a1!)
    expect(fragments.accept(p2!)).toEqual([])
    expect(dropped).toEqual([a1, p2])
  })

  it('keeps sets of other sequence ids, channels and sentences apart', () => {
    const { fragments, dropped } = reassembler()
    const a = threeParts(1, 'A')
    const b = threeParts(1, 'B')
    const own = threeParts(1, 'A', 'AIVDO')
    const c = threeParts(2, 'A')
    for (let i = 0; i < 2; i++) {
      for (const set of [a, b, own, c]) expect(fragments.accept(set[i]!)).toEqual([])
    }
    expect(fragments.accept(c[2]!)).toEqual(c)
    expect(fragments.accept(own[2]!)).toEqual(own)
    expect(fragments.accept(b[2]!)).toEqual(b)
    expect(fragments.accept(a[2]!)).toEqual(a)
    expect(dropped).toEqual([])
  })

  it('reads $-prefixed sentences and any talker', () => {
    const { fragments } = reassembler()
    for (const [address, start] of [
      ['BSVDM', '!'],
      ['AIVDO', '$'],
    ] as const) {
      const [p1, p2, p3] = threeParts(4, 'A', address, start)
      fragments.accept(p1!)
      fragments.accept(p2!)
      expect(fragments.accept(p3!)).toEqual([p1, p2, p3])
    }
  })

  it('reads the fragment after a tag block and hands the line over with it', () => {
    const { fragments } = reassembler()
    const [a1, a2] = staticFragments(ALPHA, 7)
    const tag = (body: string) => `\\${body}*${checksum(body)}\\`
    const t1 = `${tag('g:1-2-9,s:rx1')}${a1}`
    const t2 = `${tag('g:2-2-9')}${a2}`
    expect(fragments.accept(t1)).toEqual([])
    expect(fragments.accept(t2)).toEqual([t1, t2])
  })

  it('drops a fragment whose numbers cannot be a fragment of anything', () => {
    const { fragments, dropped } = reassembler()
    const lines = [
      sentence('AIVDM', [2, 3, 1, 'A', '0000', 0], '!'),
      sentence('AIVDM', [2, 0, 1, 'A', '0000', 0], '!'),
      sentence('AIVDM', [12, 1, 1, 'A', '0000', 0], '!'),
      sentence('AIVDM', [2, 'x', 1, 'A', '0000', 0], '!'),
    ]
    for (const line of lines) expect(fragments.accept(line)).toEqual([])
    expect(dropped).toEqual(lines)
    expect(fragments.size).toBe(0)
  })

  it('keeps at most maxOpen sets, dropping the oldest', () => {
    const { fragments, dropped } = reassembler({ maxOpen: 16 })
    const sets = Array.from({ length: 17 }, (_, i) => threeParts(i % 10, i < 10 ? 'A' : 'B'))
    for (const set of sets) fragments.accept(set[0]!)
    expect(fragments.size).toBe(16)
    expect(dropped).toEqual([sets[0]![0]])
    fragments.accept(sets[1]![1]!)
    expect(fragments.accept(sets[1]![2]!)).toEqual(sets[1])
  })

  it('drops a set still open maxAgeMs after its first fragment', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const { fragments, dropped } = reassembler({ maxAgeMs: 5000 })
    const [p1, p2] = threeParts(5)
    const [q1] = threeParts(6)
    fragments.accept(p1!)
    vi.advanceTimersByTime(3000)
    fragments.accept(q1!)
    fragments.accept(p2!)
    vi.advanceTimersByTime(2001)
    fragments.expire()
    expect(dropped).toEqual([p1, p2])
    expect(fragments.size).toBe(1)
  })
})
