/**
 * A fixed-window rate limit per key (a client IP): at most `limit` hits per
 * `windowMs`, the window starting at a key's first hit, as
 * express-rate-limit's memory store does for signalk-server's login route
 * (SPEC §8: 100 login attempts per 10 minutes per IP).
 *
 * Memory is bounded: a key whose window is over is dropped, and at most
 * `maxKeys` keys are kept. Windows all have the same length and a key is
 * (re)inserted when its window starts, so the Map's order is the order in
 * which windows end: expired keys are taken from its front, a few per hit,
 * with no timer, and past `maxKeys` the key whose window ends first goes.
 *
 * Times are monotonic ({@link monotonicNow}): a wall clock stepped back
 * neither lifts nor prolongs a limit.
 */
import { monotonicNow } from '../core/scheduler.js'

/** Options of {@link RateLimiter}. */
export interface RateLimitOptions {
  /** Hits allowed per key and window (login: `maxLoginAttempts`, default 100). */
  limit: number
  /** Length of a key's window, ms (login: `loginWindowMs`, default 600000). */
  windowMs: number
  /**
   * Keys tracked at most; past it the key whose window ends first is
   * forgotten (it starts a new window on its next hit). Default 100000.
   */
  maxKeys?: number
}

/** The answer to {@link RateLimiter.hit}. */
export interface RateDecision {
  /** Whether this hit is within the limit (refused hits are not counted). */
  readonly allowed: boolean
  /**
   * Whole seconds until the key's window ends and hits are allowed again
   * (the `Retry-After` of a 429); 0 when allowed.
   */
  readonly retryAfterS: number
}

/** The figures `/metrics` reads from a limiter (src/http/metrics.ts `addRateLimit`). */
export interface RateLimitSource {
  /** Keys tracked now. */
  readonly size: number
  /** Hits refused since the limiter was made. */
  readonly refused: number
}

/** Default of {@link RateLimitOptions.maxKeys}. */
export const DEFAULT_MAX_KEYS = 100_000

/** Expired keys dropped per hit at most: the sweep's cost stays constant per call. */
const SWEEP_PER_HIT = 8

interface Window {
  /** Monotonic ms at which this window ends. */
  readonly endsAt: number
  count: number
}

/** A fixed-window limit per key; see the file's comment. */
export class RateLimiter implements RateLimitSource {
  refused = 0
  private readonly windows = new Map<string, Window>()
  private readonly limit: number
  private readonly windowMs: number
  private readonly maxKeys: number

  constructor(options: RateLimitOptions) {
    if (!(options.limit >= 1) || !(options.windowMs > 0)) {
      throw new RangeError('a rate limit needs limit >= 1 and windowMs > 0')
    }
    this.limit = options.limit
    this.windowMs = options.windowMs
    this.maxKeys = Math.max(1, options.maxKeys ?? DEFAULT_MAX_KEYS)
  }

  /** Keys tracked now. */
  get size(): number {
    return this.windows.size
  }

  /**
   * Counts one hit of `key` and says whether it is allowed. A refused hit
   * is not counted, so a client hammering past the limit does not push its
   * window further.
   */
  hit(key: string): RateDecision {
    const now = monotonicNow()
    this.sweep(now, SWEEP_PER_HIT)
    let window = this.windows.get(key)
    if (window === undefined || window.endsAt <= now) {
      if (window !== undefined) this.windows.delete(key)
      if (this.windows.size >= this.maxKeys) this.dropFirst()
      window = { endsAt: now + this.windowMs, count: 0 }
      this.windows.set(key, window)
    }
    if (window.count >= this.limit) {
      this.refused++
      return { allowed: false, retryAfterS: Math.max(1, Math.ceil((window.endsAt - now) / 1000)) }
    }
    window.count++
    return ALLOWED
  }

  /**
   * Takes back one counted hit of `key` (say, a login that succeeded, when
   * only failures should count). Counting every attempt with {@link hit}
   * first and refunding afterwards cuts a flood of concurrent attempts at
   * once, which checking first and counting failures later would not.
   */
  refund(key: string): void {
    const window = this.windows.get(key)
    if (window !== undefined && window.count > 0) window.count--
  }

  /** Forgets every key. */
  clear(): void {
    this.windows.clear()
  }

  /** Drops up to `max` keys whose window is over, from the front (the earliest ends). */
  private sweep(now: number, max: number): void {
    let dropped = 0
    for (const [key, window] of this.windows) {
      if (window.endsAt > now || dropped === max) return
      this.windows.delete(key)
      dropped++
    }
  }

  private dropFirst(): void {
    for (const key of this.windows.keys()) {
      this.windows.delete(key)
      return
    }
  }
}

const ALLOWED: RateDecision = Object.freeze({ allowed: true, retryAfterS: 0 })
