/**
 * Event ids (SPEC §4): opaque strings `<epoch>.<revision>`. The epoch is
 * random per tree lifetime (kept with the data when there is a data dir), so
 * an id from a server that restarted without its data, or from another
 * cluster, never passes for a current one.
 */
import { randomBytes } from 'node:crypto'

/** A new random epoch: 12 hex digits. */
export function newEpoch(): string {
  return randomBytes(6).toString('hex')
}

/** The event id of `revision` in `epoch`. */
export function formatEventId(epoch: string, revision: number): string {
  return `${epoch}.${revision}`
}

/** The revision an id names in `epoch`, or undefined for an id of any other epoch or shape. */
export function parseEventId(id: string, epoch: string): number | undefined {
  const dot = id.lastIndexOf('.')
  if (dot < 0 || id.slice(0, dot) !== epoch) return undefined
  const digits = id.slice(dot + 1)
  if (!/^\d{1,15}$/.test(digits)) return undefined
  return Number(digits)
}
