import { describe, expect, it } from 'vitest'
import { BACKOFF_DEFAULTS, backoffDelay } from '../../src/client/backoff.js'

describe('backoffDelay', () => {
  it('doubles from initialMs up to maxMs, jittered down by at most half', () => {
    const low = (attempt: number) => backoffDelay(attempt, {}, () => 1)
    const high = (attempt: number) => backoffDelay(attempt, {}, () => 0)
    expect([0, 1, 2, 3].map(high)).toEqual([500, 1000, 2000, 4000])
    expect([0, 1, 2, 3].map(low)).toEqual([250, 500, 1000, 2000])
    expect(high(30)).toBe(BACKOFF_DEFAULTS.maxMs)
  })

  it('spreads the delays of many clients across the jitter range', () => {
    const delays = Array.from({ length: 200 }, () => backoffDelay(2, { initialMs: 100 }))
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(200)
    expect(Math.max(...delays)).toBeLessThanOrEqual(400)
    expect(new Set(delays).size).toBeGreaterThan(20)
  })
})
