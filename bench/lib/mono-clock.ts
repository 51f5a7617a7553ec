/**
 * One clock for every process of the bench: `process.hrtime` reads Linux's
 * CLOCK_MONOTONIC, which is the machine's, not the process's (unlike
 * `performance.now()`, whose origin is each process's start). A time taken
 * in one process can be subtracted from a time taken in another.
 */

/** CLOCK_MONOTONIC in milliseconds, to the microsecond. */
export function monoMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000
}
