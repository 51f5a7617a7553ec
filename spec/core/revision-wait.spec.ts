import { afterEach, describe, expect, it, vi } from 'vitest'
import { RevisionWaits } from '../../src/core/revision-wait.js'
import { Scheduler } from '../../src/core/scheduler.js'
import { StateTree } from '../../src/core/state-tree.js'

afterEach(() => {
  vi.useRealTimers()
})

function setUp() {
  const tree = new StateTree()
  const scheduler = new Scheduler()
  const waits = new RevisionWaits(tree, scheduler)
  const write = (i: number) => tree.apply({ n: i })
  return { tree, scheduler, waits, write }
}

describe('RevisionWaits', () => {
  it('calls back at once when the tree is there already', () => {
    const { waits, write } = setUp()
    write(1)
    const done = vi.fn()
    waits.wait(1, 1000, done)
    expect(done).toHaveBeenCalledTimes(1)
    expect(waits.size).toBe(0)
  })

  it('calls each wait back once its revision is applied, lowest first, and leaves no timer', () => {
    const { scheduler, waits, write } = setUp()
    const order: number[] = []
    waits.wait(3, 10_000, () => order.push(3))
    waits.wait(1, 10_000, () => order.push(1))
    waits.wait(2, 10_000, () => order.push(2))
    expect(scheduler.size).toBe(3)
    write(1)
    expect(order).toEqual([1])
    write(2)
    write(3)
    expect(order).toEqual([1, 2, 3])
    expect(waits.size).toBe(0)
    expect(scheduler.size).toBe(0)
  })

  it('goes on without the revision after its timeout, once', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
    const { waits, write } = setUp()
    const done = vi.fn()
    waits.wait(5, 200, done)
    vi.advanceTimersByTime(199)
    expect(done).not.toHaveBeenCalled()
    vi.advanceTimersByTime(2)
    expect(done).toHaveBeenCalledTimes(1)
    for (let i = 1; i <= 5; i++) write(i)
    expect(done).toHaveBeenCalledTimes(1)
  })

  it('a cancelled wait is never called and leaves nothing behind', () => {
    const { scheduler, waits, write } = setUp()
    const done = vi.fn()
    const cancel = waits.wait(1, 10_000, done)
    cancel()
    write(1)
    expect(done).not.toHaveBeenCalled()
    expect(waits.size).toBe(0)
    expect(scheduler.size).toBe(0)
  })

  it('a callback that throws is reported and the other waits still end', () => {
    const tree = new StateTree()
    const errors: unknown[] = []
    const waits = new RevisionWaits(tree, new Scheduler(), (err) => errors.push(err))
    const done = vi.fn()
    waits.wait(1, 10_000, () => {
      throw new Error('boom')
    })
    waits.wait(1, 10_000, done)
    tree.apply({ n: 1 })
    expect(errors).toHaveLength(1)
    expect(done).toHaveBeenCalledTimes(1)
  })
})
