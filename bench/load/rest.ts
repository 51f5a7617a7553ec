/**
 * Scenario (e) in its own process: autocannon against one URL, with an
 * optional `If-None-Match`, reporting requests/s, latency and status counts.
 */
import autocannon from 'autocannon'

/** One autocannon run. */
export interface RestConfig {
  url: string
  connections: number
  durationMs: number
  headers: Record<string, string>
}

process.on('message', async (message: { type: string; config?: RestConfig }) => {
  if (message.type !== 'run' || !message.config) return
  const { url, connections, durationMs, headers } = message.config
  try {
    const cpu0 = process.cpuUsage()
    const result = await autocannon({
      url,
      connections,
      duration: durationMs / 1000,
      headers,
      pipelining: 1,
    })
    const cpu = process.cpuUsage(cpu0)
    process.send?.({
      type: 'result',
      requestsPerSec: Math.round(result.requests.average),
      p50: result.latency.p50,
      p99: result.latency.p99,
      status2xx: result['2xx'],
      status3xx: result['3xx'],
      statusOther: result['4xx'] + result['5xx'] + result.errors + result.timeouts,
      bytesPerSec: Math.round(result.throughput.average),
      loadCpu: Math.round(((cpu.user + cpu.system) / 10 / durationMs) * 10) / 10,
    })
  } catch (error) {
    process.send?.({ type: 'error', message: (error as Error).message })
  }
})
process.on('disconnect', () => process.exit(0))
