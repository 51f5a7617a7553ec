/**
 * `BENCH_TURN_LATENCY=1`: the server-side share of a change's latency, from
 * the event-loop turn its PATCH request is handled in to the end of the turn
 * that wrote it to every stream (the fan-out flush runs in `setImmediate`,
 * so an immediate queued after the change runs after it). Printed to stderr
 * when the server stops, to tell a server's own delay from the kernel's and
 * the load generator's in the end-to-end figures.
 */
import { Histogram } from './histogram.js'

/** Marks of one server, or undefined when the figure was not asked for. */
export interface TurnLatency {
  /** A PATCH request is being handled. */
  arrived(): void
  /** The change of the oldest PATCH not yet counted is queued for the streams. */
  changed(): void
}

/** The marks, reporting on exit as `label`; undefined unless `BENCH_TURN_LATENCY` is set. */
export function turnLatency(label: string): TurnLatency | undefined {
  if (!process.env.BENCH_TURN_LATENCY) return undefined
  const histogram = new Histogram()
  const arrivals: number[] = []
  process.on('exit', () => {
    process.stderr.write(`${label} server-side ms: ${JSON.stringify(histogram.summary())}\n`)
  })
  return {
    arrived: () => arrivals.push(performance.now()),
    changed: () => {
      const at = arrivals.shift()
      if (at !== undefined) setImmediate(() => histogram.record(performance.now() - at))
    },
  }
}
