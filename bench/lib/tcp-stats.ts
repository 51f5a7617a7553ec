/**
 * The kernel's TCP listen-queue counters (`TcpExt` of /proc/net/netstat):
 * read before and after opening many connections, they show whether the
 * connects were paced well enough that no SYN was dropped or answered with
 * a SYN cookie (what a SYN flood looks like). Counters are per network
 * namespace, so another process's connects in the same window count too.
 */
import { readFileSync } from 'node:fs'

/** The counters compared. */
export interface ListenCounters {
  /** Connections dropped because an accept queue was full. */
  listenOverflows: number
  /** SYNs dropped on a listening socket, for any reason (overflows included). */
  listenDrops: number
  /** SYN cookies sent: the SYN queue was full. */
  syncookiesSent: number
}

const KEYS: Record<keyof ListenCounters, string> = {
  listenOverflows: 'ListenOverflows',
  listenDrops: 'ListenDrops',
  syncookiesSent: 'SyncookiesSent',
}

/** The counters now; NaN each when /proc/net/netstat cannot be read. */
export function listenCounters(): ListenCounters {
  const out: ListenCounters = {
    listenOverflows: Number.NaN,
    listenDrops: Number.NaN,
    syncookiesSent: Number.NaN,
  }
  try {
    const lines = readFileSync('/proc/net/netstat', 'latin1').split('\n')
    const at = lines.findIndex((l) => l.startsWith('TcpExt:'))
    const names = lines[at]?.split(/\s+/) ?? []
    const values = lines[at + 1]?.split(/\s+/) ?? []
    for (const key of Object.keys(KEYS) as (keyof ListenCounters)[]) {
      const i = names.indexOf(KEYS[key])
      if (i > 0) out[key] = Number(values[i])
    }
  } catch {
    // not Linux, or /proc hidden: the figures stay NaN
  }
  return out
}

/** `to - from`, counter by counter. */
export function counterDelta(from: ListenCounters, to: ListenCounters): ListenCounters {
  return {
    listenOverflows: to.listenOverflows - from.listenOverflows,
    listenDrops: to.listenDrops - from.listenDrops,
    syncookiesSent: to.syncookiesSent - from.syncookiesSent,
  }
}
