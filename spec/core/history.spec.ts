import { describe, expect, it } from 'vitest'
import type { Effect } from '../../src/core/merge-patch.js'
import { parseUrlPath } from '../../src/core/path.js'
import { StateTree } from '../../src/core/state-tree.js'
import { WritePort } from '../../src/core/write-port.js'

describe('History', () => {
  it('keeps at most historySize changes, the newest', () => {
    const tree = new StateTree({ historySize: 3 })
    const writes = WritePort.of(tree)
    for (let i = 1; i <= 5; i++) writes.patch(parseUrlPath('/a'), i)
    expect(tree.history.length).toBe(3)
    expect(tree.history.oldest).toBe(3)
    expect(tree.history.since(1, 5)).toBeUndefined()
    expect(tree.history.since(2, 5)?.map((c) => c.rev)).toEqual([3, 4, 5])
  })

  it('keeps the changes within historyBytes, so large writes cannot exhaust the heap', () => {
    const tree = new StateTree({ historyBytes: 300_000 })
    const writes = WritePort.of(tree)
    const big = 'x'.repeat(100_000)
    for (let i = 0; i < 50; i++) writes.put(parseUrlPath('/a'), { big: `${i}${big}` })
    // Each PUT's effect holds the new value and, in its inverse, the old one: ~200 KB a change.
    expect(tree.history.bytes).toBeLessThanOrEqual(300_000)
    expect(tree.history.length).toBeLessThanOrEqual(2)
    expect(tree.history.length).toBeGreaterThanOrEqual(1)
    expect(tree.history.oldest).toBe(tree.rev - tree.history.length + 1)
  })

  it("keeps each change as its text: the bytes are the JSON held, and none of the tree's objects", () => {
    const tree = new StateTree()
    const writes = WritePort.of(tree)
    writes.put(parseUrlPath('/a'), { deep: { value: 1 } })
    const replaced = tree.get(parseUrlPath('/a')) as { deep: { value: number } }
    writes.put(parseUrlPath('/a'), { deep: { value: 2 } })
    // What the second change replaced is in the history as text, not as the object itself:
    // changing that object (as if the tree reused it) changes nothing kept.
    replaced.deep.value = 99
    const [, second] = tree.history.since(0, tree.rev)!
    expect(second!.effect).toEqual({
      patch: { a: { deep: { value: 2 } } },
      inverse: { a: { deep: { value: 1 } } },
    })
    const text = [
      JSON.stringify([{ a: { deep: { value: 1 } } }, { a: null }]),
      JSON.stringify([{ a: { deep: { value: 2 } } }, { a: { deep: { value: 1 } } }]),
    ]
    expect(tree.history.bytes).toBe(text[0]!.length + text[1]!.length + 2 * 64)
  })

  it('gives a resuming reader one catch-up for its path, null when nothing touched it, undefined when passed', () => {
    const tree = new StateTree({ historySize: 4 })
    const writes = WritePort.of(tree)
    const a = parseUrlPath('/a')
    writes.patch(a, { x: 1 })
    writes.patch(parseUrlPath('/b'), 1)
    writes.patch(a, { y: 2 })
    expect(tree.history.catchUp(a, 1, tree.rev)?.patch).toEqual({ y: 2 })
    expect(tree.history.catchUp(parseUrlPath('/c'), 1, tree.rev)).toBeNull()
    expect(tree.history.catchUp(a, tree.rev, tree.rev)).toBeNull()
    for (let i = 0; i < 4; i++) writes.patch(parseUrlPath('/b'), i + 10)
    expect(tree.history.catchUp(a, 1, tree.rev)).toBeUndefined()
    expect(tree.history.catchUp(a, tree.rev + 1, tree.rev)).toBeUndefined()
  })

  it('computes the catch-up of one (path, view, resume point) once per revision, however many readers ask', () => {
    const tree = new StateTree()
    const writes = WritePort.of(tree)
    const a = parseUrlPath('/a')
    for (let i = 0; i < 100; i++) writes.patch(a, { n: i })
    let scoped = 0
    const count = (effect: Effect): Effect => {
      scoped++
      return effect
    }
    const first = tree.history.catchUp(a, 10, tree.rev, 'v', count)
    for (let i = 0; i < 999; i++)
      expect(tree.history.catchUp(a, 10, tree.rev, 'v', count)).toBe(first)
    expect(scoped).toBe(90)
    writes.patch(a, { n: 'new' })
    expect(tree.history.catchUp(a, 10, tree.rev, 'v', count)?.patch).toEqual({ n: 'new' })
  })
})
