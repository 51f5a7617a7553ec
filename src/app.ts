/**
 * `createApp` builds a keelson server without listening: the tree, the
 * fan-out hub and the HTTP transports. Only the CLI (or a test) listens.
 */

import type { RequestListener, Server } from 'node:http'
import express from 'express'
import pino, { type Logger } from 'pino'
import { Errors, KeelsonError } from './core/errors.js'
import { Hub } from './core/hub.js'
import { Scheduler } from './core/scheduler.js'
import { SIGNALK_VERSION, StateTree } from './core/state-tree.js'
import { WritePort } from './core/write-port.js'
import { createApiFastPath } from './http/fast-path.js'
import { cors } from './http/guard.js'
import { createMetrics, type Metrics } from './http/metrics.js'
import { answerError, problemHandler } from './http/problem.js'
import { createApi, createApiRouter } from './http/rest.js'
import { hookServer } from './http/server-hooks.js'
import { behindStream, SseTransport } from './http/sse.js'
import { DEFAULTS, type KeelsonOptions } from './options.js'
import { openPrincipal, type PrincipalOf } from './security/principal.js'
import { RateLimiter } from './security/rate-limit.js'
import { OPEN_LOGIN_STATUS, securityRouter } from './security/routes.js'
import { Security } from './security/security.js'
import { metaRoute } from './signalk/meta.js'
import { defaultModuleDirs, findWebapps, webappsRouter } from './signalk/webapps.js'
import { abortUpgrade, NO_ENDPOINT, SignalKStream } from './signalk/ws-transport.js'
import { Streams } from './stream/streams.js'
import { telemetryRouter } from './telemetry/routes.js'
import { Telemetry } from './telemetry/telemetry.js'
import { VERSION } from './version.js'
import { webRouter } from './web/routes.js'

/** A built keelson server. */
export interface Keelson {
  /**
   * The request handler: pass it to `http.createServer`. Requests under
   * `/signalk/v1/api` take a fast path on plain `node:http`; everything
   * else goes to an express app.
   */
  readonly app: RequestListener
  readonly tree: StateTree
  /** The one entrance of every write (src/core/write-port.ts). */
  readonly writes: WritePort
  readonly hub: Hub
  /** Every open stream connection, whatever its protocol, with their shared timers. */
  readonly streams: Streams
  readonly sse: SseTransport
  /** The Signal K WebSocket stream (`/signalk/v1/stream`). */
  readonly signalk: SignalKStream
  /** Fleet telemetry (SPEC §6): `/sse/telemetry/*`, `/ws/telemetry`, unit tokens, the fleet file. */
  readonly telemetry: Telemetry
  /** Prometheus metrics of this app (`/metrics`); stream transports join with `addTransport`. */
  readonly metrics: Metrics
  readonly log: Logger
  /**
   * Hooks the server's WebSocket upgrades and its malformed-request and
   * `Expect: 100-continue` handling (call once, after `http.createServer(app)`).
   */
  attach(server: Server): void
  /**
   * Ends every stream and stops every timer. Call it before `server.close()`:
   * open SSE streams and WebSockets are no longer the HTTP server's own
   * connections, so `server.closeAllConnections()` does not end them.
   */
  close(): void
}

/** Builds a keelson server from `options` (defaults in {@link DEFAULTS}). */
export function createApp(options: Partial<KeelsonOptions> = {}): Keelson {
  const opts: KeelsonOptions = { ...DEFAULTS, ...options }
  const log = opts.logger ?? pino({ level: 'silent' })
  const reportError = (err: unknown): void => log.error({ err }, 'a subscriber failed; contained')
  const tree = new StateTree({
    epoch: opts.epoch,
    mmsi: opts.mmsi,
    uuid: opts.uuid,
    restore: opts.restore,
    historySize: opts.historySize,
    historyBytes: opts.historyBytes,
    onListenerError: reportError,
  })
  const writes = new WritePort(tree, { maxDepth: opts.maxDepth, log })
  const hub = new Hub(tree, { onError: reportError })
  const scheduler = new Scheduler()
  const streams = new Streams(tree, hub, scheduler, opts, log)
  const sse = new SseTransport(streams, opts)
  const metrics = createMetrics(tree, hub)
  metrics.addTransport('sse', sse)
  const policy = { corsOrigins: opts.corsOrigins, hostNames: opts.hostNames }
  const attempts = new RateLimiter({ limit: opts.maxLoginAttempts, windowMs: opts.loginWindowMs })
  metrics.addRateLimit('login', attempts)
  const security =
    opts.security === undefined
      ? undefined
      : new Security(opts.security, tree, policy, attempts, streams, log)
  const principalOf: PrincipalOf = security?.principalOf ?? ((req) => openPrincipal(req, policy))
  const signalk = new SignalKStream(streams, writes, {
    maxBodyBytes: opts.maxBodyBytes,
    principalOf,
    ...(security !== undefined && {
      login: (username: string, password: string, address: string) =>
        security.login(username, password, address),
    }),
  })
  metrics.addTransport('ws', signalk)
  const telemetry = new Telemetry(streams, opts, security, principalOf)
  metrics.addTransport('telemetry', telemetry)

  const api = createApi(writes, sse, opts, principalOf)
  const app = express()
  app.disable('x-powered-by')
  app.disable('etag')
  app.set('trust proxy', false)
  app.use(cors(policy))
  app.get('/signalk', (req, res) => {
    const host = req.headers.host ?? 'localhost'
    const ws = req.protocol === 'https' ? 'wss' : 'ws'
    res.json({
      endpoints: {
        v1: {
          version: SIGNALK_VERSION,
          'signalk-http': `${req.protocol}://${host}/signalk/v1/api/`,
          'signalk-ws': `${ws}://${host}/signalk/v1/stream`,
        },
      },
      server: { id: 'keelson', version: VERSION },
    })
  })
  if (security !== undefined) app.use(securityRouter(security, opts))
  else app.get('/skServer/loginStatus', (_req, res) => void res.json(OPEN_LOGIN_STATUS))
  app.use('/signalk/v1/api', metaRoute(tree, opts.maxDepth, principalOf))
  app.use('/signalk/v1/api', createApiRouter(api))
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', revision: tree.rev, streams: streams.size })
  })
  app.get('/metrics', metrics.handler)
  // Fleet telemetry: unit tokens, the SSE stream and its requests, /examples/fleet.html.
  app.use(telemetryRouter(telemetry))
  // The live display at `/`, its files at `/display/*` and the client module at `/client.js`.
  app.use(webRouter())
  app.use(
    webappsRouter(
      opts.webappDirs?.length
        ? findWebapps([...opts.webappDirs, ...defaultModuleDirs()])
        : undefined,
    ),
  )
  app.use((req, _res, next) =>
    next(new KeelsonError(Errors.NOT_FOUND, `No endpoint at ${req.path}`)),
  )
  app.use(problemHandler(log))
  const fastPath = createApiFastPath(api, policy, log)

  return {
    app: (req, res) => {
      // A request pipelined behind an open stream could never be answered: it is not executed.
      if (behindStream(req)) return
      try {
        if (!fastPath(req, res) && !telemetry.handleRequest(req, res)) app(req, res)
      } catch (err) {
        answerError(err, req, res, log)
      }
    },
    tree,
    writes,
    hub,
    streams,
    sse,
    signalk,
    telemetry,
    metrics,
    log,
    attach(server) {
      hookServer(server, opts, log, metrics)
      server.on('upgrade', (req, socket, head) => {
        // Nothing a request holds may throw out of this listener: node would crash the process.
        try {
          if (signalk.handleUpgrade(req, socket, head)) return
          if (telemetry.handleUpgrade(req, socket, head)) return
          abortUpgrade(socket, NO_ENDPOINT(req.url ?? ''))
        } catch (err) {
          log.error({ err }, 'websocket upgrade failed')
          abortUpgrade(
            socket,
            err instanceof KeelsonError ? err : new KeelsonError(Errors.INTERNAL),
          )
        }
      })
    },
    close() {
      security?.close()
      telemetry.close()
      streams.close()
      signalk.close()
      scheduler.close()
      metrics.close()
    },
  }
}
