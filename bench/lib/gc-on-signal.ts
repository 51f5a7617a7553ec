/**
 * Bench servers under `--expose-gc`: SIGUSR2 runs a full GC, so scenario (d)
 * reads memory held by connections, not garbage awaiting collection. The
 * peer gets the same hook from its preload (servers/loopback.cjs).
 * After the GC a server with an IPC channel sends `{ type: 'gc' }` with its
 * `process.memoryUsage()` (scenario g reads heapUsed from it).
 * `BENCH_MEM_DEBUG=1` also prints the heap figures to stderr.
 */
const gc = (globalThis as { gc?: () => void }).gc
if (gc) {
  process.on('SIGUSR2', () => {
    gc()
    process.send?.({ type: 'gc', ...process.memoryUsage() })
    if (process.env.BENCH_MEM_DEBUG) {
      const m = process.memoryUsage()
      const mb = (x: number) => (x / 1048576).toFixed(1)
      console.error(
        `mem rss ${mb(m.rss)} heapTotal ${mb(m.heapTotal)} heapUsed ${mb(m.heapUsed)} external ${mb(m.external)} arrayBuffers ${mb(m.arrayBuffers)}`,
      )
    }
  })
}
