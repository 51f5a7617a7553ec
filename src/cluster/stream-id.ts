/**
 * Redis stream entry ids (`<ms>-<seq>`), compared as Redis orders them.
 * They are the cluster log's cursors; clients never see them (event ids are
 * `<epoch>.<revision>`, src/core/event-id.ts).
 */

/** The id before every entry. */
export const START_ID = '0-0'

/** Negative, zero or positive as `a` is before, the same as, or after `b`. */
export function compareIds(a: string, b: string): number {
  const [am, as] = parts(a)
  const [bm, bs] = parts(b)
  if (am !== bm) return am < bm ? -1 : 1
  if (as !== bs) return as < bs ? -1 : 1
  return 0
}

function parts(id: string): [bigint, bigint] {
  const dash = id.indexOf('-')
  if (dash < 0) return [BigInt(id), 0n]
  return [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))]
}
