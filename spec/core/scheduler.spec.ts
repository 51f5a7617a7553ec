import { afterEach, describe, expect, it, vi } from 'vitest'
import { monotonicNow, Scheduler } from '../../src/core/scheduler.js'

afterEach(() => {
  vi.useRealTimers()
})

describe('Scheduler', () => {
  it('runs tasks in due order on one timer', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
    const scheduler = new Scheduler()
    const ran: string[] = []
    const now = monotonicNow()
    for (const [name, due] of [
      ['c', 30],
      ['a', 10],
      ['b', 20],
    ] as const) {
      scheduler.at(now + due, { run: () => void ran.push(name) })
    }
    vi.advanceTimersByTime(15)
    expect(ran).toEqual(['a'])
    vi.advanceTimersByTime(20)
    expect(ran).toEqual(['a', 'b', 'c'])
    expect(scheduler.size).toBe(0)
  })

  it('takes a cancelled task out at once, whatever its due time, and never runs it', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
    const scheduler = new Scheduler()
    const now = monotonicNow()
    const run = vi.fn()
    const timers = Array.from({ length: 100 }, (_, i) =>
      scheduler.at(now + 1000 + i * 1000, { run }),
    )
    const far = scheduler.at(now + 86_400_000, { run })
    expect(scheduler.size).toBe(101)
    scheduler.cancel(far)
    for (const timer of timers.filter((_, i) => i % 2 === 0)) scheduler.cancel(timer)
    expect(scheduler.size).toBe(50)
    expect(far.pending).toBe(false)
    scheduler.cancel(far)
    vi.advanceTimersByTime(200_000)
    expect(run).toHaveBeenCalledTimes(50)
    expect(scheduler.size).toBe(0)
  })

  it('keeps time on a monotonic clock: a wall clock stepped back an hour holds nothing', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const scheduler = new Scheduler()
    const ran = new Promise<number>((resolve) => {
      scheduler.at(monotonicNow() + 20, { run: resolve })
    })
    vi.setSystemTime(Date.now() - 3_600_000)
    const started = performance.now()
    await ran
    expect(performance.now() - started).toBeLessThan(1000)
    scheduler.close()
  })
})
