/**
 * Bench servers under `--expose-gc`: SIGUSR2 runs a full GC, so scenario (d)
 * reads memory held by connections, not garbage awaiting collection. The
 * peer gets the same hook from its preload (servers/loopback.cjs).
 */
const gc = (globalThis as { gc?: () => void }).gc
if (gc) process.on('SIGUSR2', () => gc())
