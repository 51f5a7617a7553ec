import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { RateLimiter } from '../../src/security/rate-limit.js'

describe('RateLimiter', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['performance', 'Date'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('allows the limit of hits per window and refuses the next with the seconds left', () => {
    const limiter = new RateLimiter({ limit: 3, windowMs: 600_000 })
    for (let i = 0; i < 3; i++)
      expect(limiter.hit('10.0.0.1')).toEqual({ allowed: true, retryAfterS: 0 })
    vi.advanceTimersByTime(60_000)
    expect(limiter.hit('10.0.0.1')).toEqual({ allowed: false, retryAfterS: 540 })
    expect(limiter.refused).toBe(1)
  })

  it('allows hits again once the window that began with the first hit is over', () => {
    const limiter = new RateLimiter({ limit: 2, windowMs: 10_000 })
    limiter.hit('a')
    vi.advanceTimersByTime(5000)
    limiter.hit('a')
    expect(limiter.hit('a').allowed).toBe(false)
    vi.advanceTimersByTime(4999)
    expect(limiter.hit('a')).toEqual({ allowed: false, retryAfterS: 1 })
    vi.advanceTimersByTime(1)
    expect(limiter.hit('a').allowed).toBe(true)
    expect(limiter.hit('a').allowed).toBe(true)
    expect(limiter.hit('a').allowed).toBe(false)
  })

  it('does not count refused hits, so hammering past the limit does not push the window on', () => {
    const limiter = new RateLimiter({ limit: 1, windowMs: 1000 })
    limiter.hit('a')
    for (let i = 0; i < 50; i++) {
      vi.advanceTimersByTime(10)
      expect(limiter.hit('a').allowed).toBe(false)
    }
    vi.advanceTimersByTime(500)
    expect(limiter.hit('a').allowed).toBe(true)
  })

  it('keeps each key apart', () => {
    const limiter = new RateLimiter({ limit: 1, windowMs: 1000 })
    expect(limiter.hit('10.0.0.1').allowed).toBe(true)
    expect(limiter.hit('10.0.0.1').allowed).toBe(false)
    expect(limiter.hit('10.0.0.2').allowed).toBe(true)
  })

  it('takes back a refunded hit, so only the hits not refunded count', () => {
    const limiter = new RateLimiter({ limit: 2, windowMs: 1000 })
    for (let i = 0; i < 10; i++) {
      expect(limiter.hit('a').allowed).toBe(true)
      limiter.refund('a')
    }
    limiter.hit('a')
    limiter.hit('a')
    expect(limiter.hit('a').allowed).toBe(false)
    limiter.refund('unknown')
    expect(limiter.size).toBe(1)
  })

  it('cuts a flood of attempts at the limit: the thousandth hit is refused like the hundred-and-first', () => {
    const limiter = new RateLimiter({ limit: 100, windowMs: 600_000 })
    const allowed = Array.from({ length: 1000 }, () => limiter.hit('flood').allowed)
    expect(allowed.filter(Boolean)).toHaveLength(100)
    expect(allowed.indexOf(false)).toBe(100)
    expect(limiter.refused).toBe(900)
  })

  it('drops the keys whose window is over as new hits come, with no timer', () => {
    const limiter = new RateLimiter({ limit: 5, windowMs: 1000 })
    for (let i = 0; i < 1000; i++) limiter.hit(`old-${i}`)
    expect(limiter.size).toBe(1000)
    vi.advanceTimersByTime(1000)
    for (let i = 0; i < 200; i++) limiter.hit(`new-${i}`)
    // Each hit drops up to 8 expired keys: 200 hits drop 1,600 > 1,000.
    expect(limiter.size).toBe(200)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('holds at most maxKeys keys, forgetting the one whose window ends first', () => {
    const limiter = new RateLimiter({ limit: 1, windowMs: 60_000, maxKeys: 3 })
    for (const key of ['a', 'b', 'c']) {
      limiter.hit(key)
      vi.advanceTimersByTime(1000)
    }
    limiter.hit('d')
    expect(limiter.size).toBe(3)
    // 'a' was forgotten: it starts a new window (and 'b' makes room for it); 'c' is still limited.
    expect(limiter.hit('a').allowed).toBe(true)
    expect(limiter.hit('c').allowed).toBe(false)
    expect(limiter.size).toBe(3)
  })

  it('refuses a limit below 1 or a window that is not positive', () => {
    expect(() => new RateLimiter({ limit: 0, windowMs: 1000 })).toThrow(RangeError)
    expect(() => new RateLimiter({ limit: 1, windowMs: 0 })).toThrow(RangeError)
    expect(() => new RateLimiter({ limit: Number.NaN, windowMs: 1000 })).toThrow(RangeError)
  })
})
