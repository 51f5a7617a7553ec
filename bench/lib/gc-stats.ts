/**
 * Bench servers' garbage-collection pauses, measured inside the server: on
 * the IPC message `gc-stats-start` counting starts; on `gc-stats-read` the
 * server answers `gc-stats` with the pauses since (count, total and longest,
 * in ms, minor and major apart). Each pause stops the event loop, so the
 * longest is a floor under the tail latency of whatever was due during it:
 * a p99 above a peer's with less CPU per event is often this.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks'

interface Pauses {
  count: number
  totalMs: number
  maxMs: number
}

const empty = (): Pauses => ({ count: 0, totalMs: 0, maxMs: 0 })
let minor = empty()
let major = empty()
let observer: PerformanceObserver | undefined

process.on('message', (message: { type?: string }) => {
  if (message.type === 'gc-stats-start') {
    minor = empty()
    major = empty()
    observer?.disconnect()
    observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind
        const pauses = kind === constants.NODE_PERFORMANCE_GC_MINOR ? minor : major
        pauses.count++
        pauses.totalMs += entry.duration
        if (entry.duration > pauses.maxMs) pauses.maxMs = entry.duration
      }
    })
    observer.observe({ entryTypes: ['gc'] })
    process.send?.({ type: 'gc-stats-started' })
  } else if (message.type === 'gc-stats-read') {
    observer?.disconnect()
    observer = undefined
    process.send?.({ type: 'gc-stats', minor, major })
  }
})
