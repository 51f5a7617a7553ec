/**
 * Bench servers' event-loop stall, measured inside the server: on the IPC
 * message `loop-delay-start` a `monitorEventLoopDelay` histogram (1 ms
 * resolution) starts; on `loop-delay-read` it stops and the server answers
 * `loop-delay` with the longest and the p99 delay of its timer in between,
 * in ms. A synchronous stretch of work (every resuming stream's catch-up
 * composed in one turn, say) shows as its length in `maxMs`. Off unless a
 * scenario asks (the storm), so no other figure pays for it.
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks'

let histogram: IntervalHistogram | undefined

process.on('message', (message: { type?: string }) => {
  if (message.type === 'loop-delay-start') {
    histogram?.disable()
    histogram = monitorEventLoopDelay({ resolution: 1 })
    histogram.enable()
    process.send?.({ type: 'loop-delay-started' })
  } else if (message.type === 'loop-delay-read') {
    const h = histogram
    h?.disable()
    histogram = undefined
    // The histogram counts in ns and includes the 1 ms resolution itself.
    process.send?.({
      type: 'loop-delay',
      maxMs: h && h.count > 0 ? h.max / 1e6 : Number.NaN,
      p99Ms: h && h.count > 0 ? h.percentile(99) / 1e6 : Number.NaN,
      meanMs: h && h.count > 0 ? h.mean / 1e6 : Number.NaN,
    })
  }
})
