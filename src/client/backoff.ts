/**
 * Reconnection delays: exponential backoff with jitter, so a fleet of
 * displays that lost the same server does not come back in one burst.
 *
 * @see https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/
 */

/** How long to wait before each reconnection. */
export interface BackoffOptions {
  /** The delay before the first retry, ms. Default 500. */
  initialMs?: number
  /** The longest delay, ms. Default 30000. */
  maxMs?: number
  /** Growth per failed attempt. Default 2. */
  factor?: number
  /**
   * The share of each delay drawn at random, 0 to 1: the delay is between
   * `(1 - jitter) × d` and `d`. Default 0.5.
   */
  jitter?: number
}

/** The defaults of {@link BackoffOptions}. */
export const BACKOFF_DEFAULTS: Readonly<Required<BackoffOptions>> = Object.freeze({
  initialMs: 500,
  maxMs: 30_000,
  factor: 2,
  jitter: 0.5,
})

/**
 * The delay before retry number `attempt` (0 for the first), ms.
 *
 * @example
 * backoffDelay(3, { initialMs: 500 }) // between 2000 and 4000
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const { initialMs, maxMs, factor, jitter } = { ...BACKOFF_DEFAULTS, ...options }
  const ceiling = Math.min(maxMs, initialMs * factor ** attempt)
  return Math.round(ceiling * (1 - jitter * random()))
}
