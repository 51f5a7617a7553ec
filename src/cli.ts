/**
 * The `keelson` command (SPEC §10): reads flags, env and config file, builds
 * the app, listens, starts the ingest providers and shuts down gracefully on
 * SIGTERM/SIGINT.
 */
import { createServer } from 'node:http'
import pino from 'pino'
import { createApp } from './app.js'
import { ConfigError, HELP, loadConfig } from './config.js'
import { loadSelfUuid } from './identity.js'
import { startIngest } from './ingest/ingest.js'
import { VERSION } from './version.js'

const SHUTDOWN_GRACE_MS = 5000

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig(process.argv.slice(2))
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`keelson: ${err.message}\nRun "keelson --help" for the options.\n`)
    process.exit(2)
  }
  if (config.help) return void process.stdout.write(HELP)
  if (config.version) return void process.stdout.write(`${VERSION}\n`)
  for (const [flag, value] of [
    ['--data-dir', config.dataDir],
    ['--redis', config.redis],
  ] as const) {
    if (value !== undefined) {
      process.stderr.write(
        `keelson: ${flag} is not available in this version yet; run without it.\n`,
      )
      process.exit(2)
    }
  }

  const log = pino({ level: config.logLevel, base: { service: 'keelson' } })
  const keelson = createApp({
    keepAliveMs: config.keepAliveMs,
    stallTimeoutMs: config.stallTimeoutMs,
    maxBodyBytes: config.maxBodyBytes,
    corsOrigins: config.corsOrigins,
    mmsi: config.mmsi,
    uuid: config.mmsi ? undefined : loadSelfUuid(log),
    logger: log,
  })
  const server = createServer(keelson.app)
  keelson.attach(server)
  server.on('error', (err) => {
    log.fatal({ err }, 'cannot listen')
    process.exit(1)
  })
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  log.info(
    { port, host: config.host, self: keelson.tree.selfKey, version: VERSION },
    `keelson listening on http://localhost:${port}/`,
  )

  const stoppers: (() => Promise<void> | void)[] = []
  try {
    const ingest = await startIngest(keelson, config)
    keelson.metrics.addIngest(ingest)
    stoppers.push(() => ingest.close())
  } catch (err) {
    process.stderr.write(`keelson: cannot start NMEA 0183 ingest: ${(err as Error).message}\n`)
    process.exit(2)
  }

  let stopping = false
  const shutdown = (signal: string): void => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    setTimeout(() => process.exit(0), SHUTDOWN_GRACE_MS).unref()
    void Promise.allSettled(stoppers.map((stop) => stop())).then(() => {
      keelson.close()
      server.close(() => process.exit(0))
      server.closeAllConnections()
    })
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}

main().catch((err: unknown) => {
  process.stderr.write(`keelson: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
