/**
 * The load generator's value scan (bench/load/tally.ts): a value is counted
 * once however the reads cut the stream, and a read carries a tail into the
 * next only when a marker or a number may be cut there.
 */
import { describe, expect, it } from 'vitest'
import { scanValues, Tally } from '../../bench/load/tally.js'

/** Feeds `text` cut at `cuts`, as a stream client does, and returns the values counted. */
function feed(text: string, cuts: number[]): { values: number[]; carries: number } {
  const tally = new Tally()
  tally.since = 0
  const values: number[] = []
  tally.record = (sent: number) => {
    values.push(sent)
  }
  const bytes = Buffer.from(text, 'latin1')
  const where = { from: 0 }
  let carry: Buffer | undefined
  let carries = 0
  let from = 0
  for (const cut of [...cuts, bytes.length]) {
    const read = bytes.subarray(from, cut)
    from = cut
    const scanned = carry ? Buffer.concat([carry, read]) : read
    scanValues(scanned, tally, 1e9, where)
    carry = where.from < scanned.length ? Buffer.from(scanned.subarray(where.from)) : undefined
    if (carry) carries++
  }
  return { values, carries }
}

const STREAM =
  'id: 1\ndata: {"navigation":{"speedOverGround":{"value":12.5}}}\n\n' +
  'id: 2\ndata: {"navigation":{"headingTrue":{"value":7}}}\n\n'

describe('scanValues', () => {
  it('counts every value once at every cut of the stream', () => {
    for (let cut = 1; cut < STREAM.length; cut++) {
      expect(feed(STREAM, [cut]).values, `cut at ${cut}`).toEqual([12.5, 7])
    }
  })

  it('carries nothing when a read ends outside a marker or a number', () => {
    const { values, carries } = feed(STREAM + STREAM, [STREAM.length])
    expect(values).toEqual([12.5, 7, 12.5, 7])
    expect(carries).toBe(0)
  })

  it('carries the start of a cut marker', () => {
    const at = STREAM.indexOf('"value"') + 3
    expect(feed(STREAM, [at]).carries).toBe(1)
  })
})
