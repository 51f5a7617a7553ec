/**
 * `keelson [options]` (SPEC §10): builds the app from the configuration,
 * listens, starts the NMEA 0183 ingest and shuts down gracefully on SIGTERM
 * or SIGINT.
 */
import { createServer } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import pino from 'pino'
import { createApp } from '../app.js'
import { type Cluster, startClusterNode } from '../cluster/index.js'
import type { CliConfig } from '../config.js'
import { stateDir as defaultStateDir, loadSelfUuid } from '../identity.js'
import { startIngest } from '../ingest/ingest.js'
import { SecurityStore, securityFilePath } from '../security/store.js'
import { VERSION } from '../version.js'
import { loadTls } from './tls.js'

/** `url` without its password, for the log. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(not a URL)'
  }
}

/** How long shutdown waits for the providers and open connections before exiting anyway, ms. */
const SHUTDOWN_GRACE_MS = 5000

/**
 * Serves until a signal; exits the process on a fatal error. With
 * `--tls-cert` and `--tls-key` it serves HTTPS (and WSS) instead of HTTP.
 * Throws a ConfigError (exit 2) for TLS files that cannot be used.
 */
export async function serve(config: CliConfig): Promise<void> {
  const tls = loadTls(config)
  const log = pino({
    ...(config.logLevel !== undefined && { level: config.logLevel }),
    base: { service: 'keelson' },
  })
  let security: SecurityStore
  // With a data dir the self identity and the security file live in it (SPEC §9).
  const stateDir = config.dataDir ?? config.stateDir
  const securityFile = securityFilePath({ securityFile: config.securityFile, stateDir })
  try {
    security = await SecurityStore.open(securityFile, log)
  } catch (err) {
    process.stderr.write(
      `keelson: cannot use the security file ${securityFile}: ${(err as Error).message}\n`,
    )
    process.exit(2)
  }
  const users = security.current.users.length
  log.info(
    { file: securityFile, users },
    users === 0
      ? 'no users yet: everyone reads, writes only from this machine (keelson user add NAME --type admin)'
      : `security: ${users} user(s); anonymous reads ${security.current.allowReadonly ? 'allowed' : 'refused'}`,
  )
  const options = {
    keepAliveMs: config.keepAliveMs,
    stallTimeoutMs: config.stallTimeoutMs,
    maxBodyBytes: config.maxBodyBytes,
    maxDepth: config.maxDepth,
    historySize: config.historySize,
    historyBytes: config.historyBytes,
    maxSubscriptions: config.maxSubscriptions,
    highWaterBytes: config.highWaterBytes,
    maxConnectionBytes: config.maxConnectionBytes,
    detachStreams: config.detachStreams,
    maxConnections: config.maxConnections,
    maxConnectionsPerIp: config.maxConnectionsPerIp,
    maxLoginAttempts: config.maxLoginAttempts,
    loginWindowMs: config.loginWindowMs,
    corsOrigins: config.corsOrigins,
    hostNames: config.hostNames,
    trustProxy: config.trustProxy,
    mmsi: config.mmsi,
    uuid: config.mmsi ? undefined : loadSelfUuid(log, stateDir),
    pingIntervalMs: config.pingIntervalMs,
    pongTimeoutMs: config.pongTimeoutMs,
    fleetFile: config.fleetFile,
    dataDir: config.dataDir,
    journal: config.journal,
    retentionMs: config.retentionMs,
    // Application data and resources (SPEC §11): in the data dir when given, else the state dir.
    persistDir: stateDir ?? defaultStateDir(),
    security,
    logger: log,
  }
  let keelson: ReturnType<typeof createApp>
  let cluster: Cluster | undefined
  try {
    if (config.redis === undefined) keelson = createApp(options)
    else {
      // Cluster (SPEC §9): connect, start from the cluster's snapshot and epoch, catch up; then listen.
      log.info({ redis: redactUrl(config.redis) }, 'cluster: joining through Redis')
      ;({ keelson, cluster } = await startClusterNode(config.redis, options))
    }
  } catch (err) {
    // A fleet file that cannot be used, or a damaged journal (naming its file and offset).
    process.stderr.write(`keelson: ${(err as Error).message}\n`)
    process.exit(2)
  }
  // https.Server emits `upgrade` too: the Signal K WebSocket runs over TLS on the same port.
  const server = tls ? createTlsServer(tls, keelson.app) : createServer(keelson.app)
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
    `keelson listening on ${tls ? 'https' : 'http'}://localhost:${port}/`,
  )

  const stoppers: (() => Promise<void> | void)[] = []
  if (cluster !== undefined) stoppers.push(() => cluster.close())
  try {
    // Every node of a cluster replaying the demo voyage would write it once per node: no demo there.
    const ingest = await startIngest(keelson, {
      ...config,
      demo: config.demo && cluster === undefined,
    })
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
      // The course file may still be being written: exit once it is (within the grace period).
      const closed = keelson.close()
      security.close()
      server.close(() => void closed.finally(() => process.exit(0)))
      server.closeAllConnections()
    })
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}
