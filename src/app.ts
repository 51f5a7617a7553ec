/**
 * `createApp` builds a keelson server without listening: the tree, the
 * fan-out hub and the HTTP transports. Only the CLI (or a test) listens.
 */

import type { RequestListener, Server } from 'node:http'
import { join } from 'node:path'
import express from 'express'
import pino, { type Logger } from 'pino'
import { Errors, KeelsonError } from './core/errors.js'
import { Hub } from './core/hub.js'
import { Scheduler } from './core/scheduler.js'
import { SIGNALK_VERSION, StateTree } from './core/state-tree.js'
import { WritePort } from './core/write-port.js'
import { Course, type CourseLease } from './course/course.js'
import { COURSE_FILE } from './course/course-file.js'
import { COURSE_API_PATH, courseRouter } from './course/routes.js'
import { createApiFastPath } from './http/fast-path.js'
import { cors } from './http/guard.js'
import { createMetrics, type Metrics } from './http/metrics.js'
import { answerError, problemHandler } from './http/problem.js'
import { clientHost, clientScheme, compileProxyTrust } from './http/proxy.js'
import { createApi, createApiRouter } from './http/rest.js'
import { hookServer } from './http/server-hooks.js'
import { createSnapshotReader } from './http/snapshot.js'
import { behindStream, SseTransport } from './http/sse.js'
import { SsePlayback } from './http/sse-playback.js'
import { TimeTravelGate } from './http/time-query.js'
import { Journal } from './journal/journal.js'
import { DEFAULTS, type KeelsonOptions } from './options.js'
import { resourcesRouter } from './resources/routes.js'
import { ResourceStore } from './resources/store.js'
import { openPrincipal, type PrincipalOf } from './security/principal.js'
import { RateLimiter } from './security/rate-limit.js'
import { OPEN_LOGIN_STATUS, securityRouter } from './security/routes.js'
import { Security } from './security/security.js'
import { APP_DATA_DIR, AppData, appDataRouter } from './signalk/app-data.js'
import { metaRoute } from './signalk/meta.js'
import { SignalKPlayback } from './signalk/playback.js'
import { PutRequests } from './signalk/put-request.js'
import { Requests } from './signalk/requests.js'
import { type SignalKApiId, serverApisRouter } from './signalk/server-apis.js'
import {
  defaultModuleDirs,
  findWebapps,
  installedWebapps,
  webappsRouter,
} from './signalk/webapps.js'
import { abortUpgrade, NO_ENDPOINT, SignalKStream } from './signalk/ws-transport.js'
import { Streams } from './stream/streams.js'
import { telemetryRouter } from './telemetry/routes.js'
import { Telemetry } from './telemetry/telemetry.js'
import { SIGNALK_SERVER_VERSION } from './version.js'
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
   * The v2 resources API's store (SPEC §11, src/resources/store.ts): routes,
   * waypoints, notes, regions, charts and custom types, kept in
   * `<persistDir>/resources` (on a cluster node, in the cluster's tree). The
   * course API resolves hrefs with `resources.resolve`.
   */
  readonly resources: ResourceStore
  /**
   * The self vessel's course (SPEC §11, src/course): the v2 course API's
   * state, kept in `<persistDir>/course.json` (on a cluster node, in the
   * cluster's tree), and its calculated values.
   */
  readonly course: Course
  /**
   * The durable journal of `--data-dir` (SPEC §9, src/journal/journal.ts),
   * undefined without a data dir. Time travel (the snapshot API and the
   * playbacks) reads the past through `keelson.journal.timeTravel`
   * (src/journal/time-travel.ts).
   */
  readonly journal?: Journal
  /**
   * Hooks the server's WebSocket upgrades and its malformed-request and
   * `Expect: 100-continue` handling (call once, after `http.createServer(app)`).
   */
  attach(server: Server): void
  /**
   * Ends every stream and stops every timer. Call it before `server.close()`:
   * open SSE streams and WebSockets are no longer the HTTP server's own
   * connections, so `server.closeAllConnections()` does not end them.
   * Resolves once the files still being written (the course) are written.
   */
  close(): Promise<void>
}

/**
 * What a cluster node (src/cluster/index.ts) adds to {@link createApp}: its
 * tree is the cluster's, so the resources and the course are read from it
 * (no files of this node), and the course values are calculated only while
 * this node holds `courseLease`.
 */
export interface ClusterParts {
  readonly courseLease: CourseLease
}

/** Builds a keelson server from `options` (defaults in {@link DEFAULTS}); `cluster` on a cluster node. */
export function createApp(options: Partial<KeelsonOptions> = {}, cluster?: ClusterParts): Keelson {
  const opts: KeelsonOptions = { ...DEFAULTS, ...options }
  const log = opts.logger ?? pino({ level: 'silent' })
  const reportError = (err: unknown): void => log.error({ err }, 'a subscriber failed; contained')
  // The journal is read before the tree exists: the tree starts from its checkpoint and epoch.
  const journal = opts.dataDir === undefined ? undefined : openJournal(opts, log)
  const tree = new StateTree({
    epoch: journal?.epoch ?? opts.epoch,
    mmsi: opts.mmsi,
    uuid: opts.uuid,
    restore: journal?.restore ?? opts.restore,
    historySize: opts.historySize,
    historyBytes: opts.historyBytes,
    onListenerError: reportError,
  })
  const writes = new WritePort(tree, { maxDepth: opts.maxDepth, log })
  // Replays the records after the checkpoint, then listens to the tree before the hub does:
  // a change is recorded (and, in sync mode, on disk) before any stream can carry it.
  try {
    journal?.attach(tree, writes)
  } catch (err) {
    journal?.close()
    throw err
  }
  const hub = new Hub(tree, { onError: reportError })
  const scheduler = new Scheduler()
  const streams = new Streams(tree, hub, scheduler, opts, log)
  const sse = new SseTransport(streams, opts)
  const metrics = createMetrics(tree, hub)
  metrics.addTransport('sse', sse)
  // Which peers are trusted proxies (src/http/proxy.ts): every reader of the client's address,
  // scheme or host is given this one compiled function, express's own `trust proxy` included.
  const proxyTrust = compileProxyTrust(opts.trustProxy)
  const policy = { corsOrigins: opts.corsOrigins, hostNames: opts.hostNames, proxyTrust }
  const attempts = new RateLimiter({ limit: opts.maxLoginAttempts, windowMs: opts.loginWindowMs })
  metrics.addRateLimit('login', attempts)
  const security =
    opts.security === undefined
      ? undefined
      : new Security(opts.security, tree, policy, attempts, streams, log)
  const principalOf: PrincipalOf = security?.principalOf ?? ((req) => openPrincipal(req, policy))
  // Signal K PUT requests (SPEC §11) on both transports, their replies kept for /signalk/v1/requests.
  const requests = new Requests()
  const putRequests = new PutRequests(writes, requests, log)
  // Application data (SPEC §11): documents read from persistDir now, written there atomically.
  const appData = new AppData({
    ...opts,
    ...(opts.persistDir !== undefined && { dir: join(opts.persistDir, APP_DATA_DIR) }),
    log,
  })
  // The Signal K APIs this server answers (/signalk/v2/features): each one wired adds its id.
  const signalkApis: SignalKApiId[] = []
  // History snapshot and playback (SPEC §9) read the journal: answered only with a data dir.
  if (journal !== undefined) signalkApis.push('historysnapshot', 'historyplayback')
  // The v2 resources API: read from persistDir now, into the tree through the port.
  const resources = new ResourceStore(writes, {
    ...opts,
    ...(opts.persistDir !== undefined && { dir: join(opts.persistDir, 'resources') }),
    // A tree given to start from (a cluster's snapshot) is not this node's to write at start-up.
    syncTree: opts.restore === undefined,
    replicated: cluster !== undefined,
    log,
  })
  signalkApis.push('resources')
  // The v2 course API: its state from persistDir, its values at coursePeriodMs while a course is set.
  const course = new Course(writes, {
    resources,
    scheduler,
    log,
    periodMs: opts.coursePeriodMs,
    ...(opts.persistDir !== undefined && { file: join(opts.persistDir, COURSE_FILE) }),
    ...(cluster !== undefined && { lease: cluster.courseLease }),
  })
  signalkApis.push('course')
  const signalk = new SignalKStream(streams, writes, {
    putRequests,
    maxBodyBytes: opts.maxBodyBytes,
    principalOf,
    proxyTrust,
    ...(security !== undefined && {
      login: (username: string, password: string, address: string) =>
        security.login(username, password, address),
    }),
  })
  metrics.addTransport('ws', signalk)
  const telemetry = new Telemetry(streams, opts, security, principalOf)
  metrics.addTransport('telemetry', telemetry)

  // Time travel (SPEC §9): the snapshot API, SSE playback and the Signal K playback read the journal.
  const pastGate = new TimeTravelGate(() => journal?.timeTravel, opts.maxTimeTravel)
  const playback = new SignalKPlayback(streams, pastGate, {
    maxBodyBytes: opts.maxBodyBytes,
    principalOf,
    stats: signalk.stats,
  })
  const timeTravel = {
    snapshot: createSnapshotReader(tree, pastGate, opts.maxDepth),
    playback: new SsePlayback(sse, tree, pastGate),
  }
  const api = createApi(writes, sse, { ...opts, proxyTrust }, principalOf, timeTravel, putRequests)
  const app = express()
  app.disable('x-powered-by')
  app.disable('etag')
  app.set('trust proxy', proxyTrust)
  app.use(cors(policy))
  app.get('/signalk', (req, res) => {
    // Behind a trusted proxy: the scheme and host the client asked the proxy for.
    const host = clientHost(req, proxyTrust) ?? 'localhost'
    const scheme = clientScheme(req, proxyTrust)
    const ws = scheme === 'https' ? 'wss' : 'ws'
    res.json({
      endpoints: {
        v1: {
          version: SIGNALK_VERSION,
          'signalk-http': `${scheme}://${host}/signalk/v1/api/`,
          'signalk-ws': `${ws}://${host}/signalk/v1/stream`,
        },
      },
      // signalk-server's version, which apps gate features on (src/version.ts); the hello sends it too.
      server: { id: 'keelson', version: SIGNALK_SERVER_VERSION },
    })
  })
  // Installed Signal K webapps (served below); those that are signalk-server plugins are listed in /plugins.
  const webapps = opts.webappDirs?.length
    ? findWebapps([...opts.webappDirs, ...defaultModuleDirs()])
    : installedWebapps()
  app.use(
    serverApisRouter({
      apis: () => signalkApis,
      requests,
      passUnknownRequests: security !== undefined,
      webapps,
      principalOf,
      secured: () => (opts.security?.current.users.length ?? 0) > 0,
    }),
  )
  app.use(appDataRouter(appData, principalOf, opts))
  if (security !== undefined) app.use(securityRouter(security, { ...opts, proxyTrust }))
  else app.get('/skServer/loginStatus', (_req, res) => void res.json(OPEN_LOGIN_STATUS))
  app.use('/signalk/v1/api', metaRoute(tree, opts.maxDepth, principalOf))
  app.use('/signalk/v1/api', createApiRouter(api))
  // /signalk/v2/api/resources and /plugins/resources-provider/_config (src/resources/routes.ts).
  app.use(resourcesRouter(resources, principalOf, opts))
  app.use(COURSE_API_PATH, courseRouter(course, tree, { ...opts, principalOf }))
  app.get('/healthz', (_req, res) => {
    // Degraded: reads and streams go on, writes are refused (the journal or the cluster's Redis).
    const refusal = writes.refusal()
    res.json({
      status: refusal === undefined ? 'ok' : 'degraded',
      revision: tree.rev,
      streams: streams.size,
      ...(refusal !== undefined && { writes: refusal.message }),
    })
  })
  app.get('/metrics', metrics.handler)
  // Fleet telemetry: unit tokens, the SSE stream and its requests, /examples/fleet.html.
  app.use(telemetryRouter(telemetry))
  // The live display at `/`, its files at `/display/*` and the client module at `/client.js`.
  app.use(webRouter())
  app.use(webappsRouter(webapps))
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
    journal,
    writes,
    hub,
    streams,
    sse,
    signalk,
    telemetry,
    metrics,
    log,
    resources,
    course,
    attach(server) {
      hookServer(server, opts, log, metrics)
      server.on('upgrade', (req, socket, head) => {
        // Nothing a request holds may throw out of this listener: node would crash the process.
        try {
          if (signalk.handleUpgrade(req, socket, head)) return
          if (playback.handleUpgrade(req, socket, head)) return
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
      playback.close()
      const courseClosed = course.close()
      scheduler.close()
      metrics.close()
      // Last: writes made while the rest closed are recorded too.
      journal?.close()
      return courseClosed
    },
  }
}

/** Opens `--data-dir`'s journal with the options of {@link createApp}. */
function openJournal(opts: KeelsonOptions, log: Logger): Journal {
  return Journal.open({
    dir: opts.dataDir!,
    mode: opts.journal,
    retentionMs: opts.retentionMs,
    historySize: opts.historySize,
    segmentBytes: opts.journalSegmentBytes,
    segmentMs: opts.journalSegmentMs,
    checkpointBytes: opts.journalCheckpointBytes,
    groupCommit: opts.journalGroupCommit,
    log,
  })
}
