import { describe, expect, it } from 'vitest'
import {
  addFlushBarrier,
  SLICE_SIZE,
  TurnBatch,
  type TurnWriter,
} from '../../src/core/turn-batch.js'

/** One event-loop turn: an immediate queued now runs after the ones queued before it. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

class Writer implements TurnWriter {
  constructor(
    readonly name: string,
    readonly log: string[],
  ) {}
  flush(): void {
    this.log.push(this.name)
  }
}

function writers(n: number, log: string[]): Writer[] {
  return Array.from({ length: n }, (_, i) => new Writer(`w${i}`, log))
}

describe('TurnBatch', () => {
  it('flushes every writer marked in a turn once, at the end of that turn', async () => {
    const log: string[] = []
    const batch = new TurnBatch<Writer>()
    for (const w of writers(3, log)) batch.markDirty(w)
    expect(log).toEqual([])
    await turn()
    expect(log).toEqual(['w0', 'w1', 'w2'])
    await turn()
    expect(log).toHaveLength(3)
  })

  it('runs every flush barrier before any writer of a flush writes (where the sync journal fsyncs)', async () => {
    const log: string[] = []
    const remove = addFlushBarrier(() => log.push('barrier'))
    const batch = new TurnBatch<Writer>()
    for (const w of writers(2, log)) batch.markDirty(w)
    await turn()
    remove()
    batch.markDirty(new Writer('later', log))
    await turn()
    expect(log).toEqual(['barrier', 'w0', 'w1', 'later'])
  })

  it('writes a large batch in slices, one per turn, so work arriving meanwhile runs between them', async () => {
    const log: string[] = []
    const batch = new TurnBatch<Writer>(2)
    const [w0, w1, w2, w3, w4] = writers(5, log)
    for (const w of [w0!, w1!, w2!, w3!, w4!]) batch.markDirty(w)
    await turn()
    expect(log).toEqual(['w0', 'w1'])
    // A change arrives between slices: w0 (already written) is marked again and goes behind
    // the pass; w3 (not yet written) takes it in the write it is due anyway.
    batch.markDirty(w0!)
    await turn()
    expect(log).toEqual(['w0', 'w1', 'w2', 'w3'])
    await turn()
    await turn()
    expect(log).toEqual(['w0', 'w1', 'w2', 'w3', 'w4', 'w0'])
    await turn()
    expect(log).toHaveLength(6)
  })

  it('keeps flushing every writer once per mark when marks never stop, in the order marked', async () => {
    const log: string[] = []
    const batch = new TurnBatch<Writer>(3)
    const all = writers(10, log)
    let marks = 0
    for (let round = 0; round < 50; round++) {
      // Every turn, the 3 writers just written get a frame again (a fan-out that never runs dry).
      const due = round === 0 ? all : all.filter((w) => log.slice(-3).includes(w.name))
      for (const w of due) {
        batch.markDirty(w)
        marks++
      }
      await turn()
    }
    for (let i = 0; i < 1000 && log.length < marks; i++) await turn()
    expect(log).toHaveLength(marks)
    expect(log.slice(0, 10)).toEqual(all.map((w) => w.name))
  })

  it('slices at SLICE_SIZE writers by default', async () => {
    const log: string[] = []
    const batch = new TurnBatch<Writer>()
    for (const w of writers(SLICE_SIZE + 1, log)) batch.markDirty(w)
    await turn()
    expect(log).toHaveLength(SLICE_SIZE)
    await turn()
    expect(log).toHaveLength(SLICE_SIZE + 1)
  })

  it('joins the same frames once and reuses the join within a slice', () => {
    const batch = new TurnBatch<Writer>()
    const frames = [Buffer.from('a'), Buffer.from('b')]
    const first = batch.joined(frames)
    expect(first.toString()).toBe('ab')
    expect(batch.joined([...frames])).toBe(first)
    expect(batch.joined([frames[0]!]).toString()).toBe('a')
  })
})
