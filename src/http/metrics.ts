/**
 * `/metrics` in the Prometheus text format (SPEC §10), from a registry of
 * this app's own (never prom-client's global one, so two apps in one process
 * keep apart). Figures are read from the live objects when scraped; nothing
 * is counted on the fan-out path but the transports' plain counters.
 *
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/
 */
import type { RequestHandler } from 'express'
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client'
import type { Hub } from '../core/hub.js'
import type { StateTree } from '../core/state-tree.js'
import type { RateLimitSource } from '../security/rate-limit.js'
import type { ConnectionSource } from './limits.js'

/** Counters a stream transport keeps, read at scrape time. */
export interface StreamSource {
  /** Open streams. */
  readonly size: number
  readonly stats: {
    readonly eventsSent: number
    readonly bytesSent: number
    /** Changes folded into a pending patch instead of sent on their own. */
    readonly coalesced: number
    /** Clients closed because their socket stopped draining. */
    readonly stalledClosed: number
  }
}

/** An ingest whose per-provider counters `/metrics` reports (src/ingest's `Ingest`). */
export interface IngestSource {
  stats(): readonly { kind: string; label: string; counters: Readonly<Record<string, number>> }[]
}

/** The metrics of one app. */
export interface Metrics {
  readonly registry: Registry
  /** Serves the registry in the Prometheus text format. */
  readonly handler: RequestHandler
  /** Adds a stream transport (`sse`, `ws`, `telemetry`…) to the per-transport figures. */
  addTransport(name: string, source: StreamSource): void
  /** Adds an ingest's per-provider line counters (`keelson_ingest_lines_total`). */
  addIngest(source: IngestSource): void
  /**
   * Adds a server's connection limits (src/http/limits.ts; `hookServer` does):
   * `keelson_connections_open`, `keelson_connections_refused_total{reason}`
   * (`total`, `per_ip`) and `keelson_connections_limit{scope}`, summed over servers.
   */
  addConnections(source: ConnectionSource): void
  /**
   * Adds a rate limiter (src/security/rate-limit.ts) under `name` (`login`):
   * `keelson_rate_limited_total{limit}` (hits refused, 429) and
   * `keelson_rate_limit_keys{limit}` (client keys tracked).
   */
  addRateLimit(name: string, source: RateLimitSource): void
  /** Stops listening to the tree. */
  close(): void
}

type Counted = keyof StreamSource['stats']

/** Builds the registry for `tree`, `hub` and the stream transports added later. */
export function createMetrics(tree: StateTree, hub: Hub): Metrics {
  const registry = new Registry()
  const transports = new Map<string, StreamSource>()
  // Process figures under their usual names, event-loop lag (nodejs_eventloop_lag_*) among them.
  collectDefaultMetrics({ register: registry })

  new Gauge({
    name: 'keelson_streams_open',
    help: 'Open streams, by transport',
    labelNames: ['transport'],
    registers: [registry],
    collect() {
      for (const [transport, source] of transports) this.set({ transport }, source.size)
    },
  })
  const fromStats = (name: string, help: string, key: Counted) =>
    new Counter({
      name,
      help,
      labelNames: ['transport'],
      registers: [registry],
      collect() {
        // The transports count; the scrape copies their totals.
        this.reset()
        for (const [transport, source] of transports) this.inc({ transport }, source.stats[key])
      },
    })
  fromStats('keelson_events_sent_total', 'Events written to stream clients', 'eventsSent')
  fromStats('keelson_bytes_sent_total', 'Bytes written to stream clients', 'bytesSent')
  fromStats(
    'keelson_coalesced_total',
    'Changes coalesced for throttled or slow clients instead of sent one by one',
    'coalesced',
  )
  fromStats(
    'keelson_stalled_closed_total',
    'Slow clients closed because their socket stopped draining',
    'stalledClosed',
  )
  new Gauge({
    name: 'keelson_revision',
    help: 'Revision of the state tree',
    registers: [registry],
    collect() {
      this.set(tree.rev)
    },
  })
  new Gauge({
    name: 'keelson_subscribers',
    help: 'Stream subscribers and the distinct paths (scopes) they watch',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.set({ kind: 'subscribers' }, hub.subscribers)
      this.set({ kind: 'scopes' }, hub.scopes)
    },
  })
  let changes = 0
  new Counter({
    name: 'keelson_changes_total',
    help: 'Writes that changed the tree (one revision each); its rate is the ingest rate',
    registers: [registry],
    collect() {
      this.reset()
      this.inc(changes)
    },
  })
  const ingests: IngestSource[] = []
  new Counter({
    name: 'keelson_ingest_lines_total',
    help: 'NMEA 0183 lines by provider and outcome (lines, deltas, badChecksum, malformed, unknown, overlong, rejected, empty)',
    labelNames: ['provider', 'kind', 'outcome'],
    registers: [registry],
    collect() {
      this.reset()
      for (const ingest of ingests) {
        for (const { kind, label, counters } of ingest.stats()) {
          for (const [outcome, count] of Object.entries(counters)) {
            this.inc({ provider: label, kind, outcome }, count)
          }
        }
      }
    },
  })
  const connections: ConnectionSource[] = []
  new Gauge({
    name: 'keelson_connections_open',
    help: 'Open TCP connections (HTTP, SSE, WebSocket; refused ones still closing included)',
    registers: [registry],
    collect() {
      let open = 0
      for (const source of connections) open += source.open
      this.set(open)
    },
  })
  new Counter({
    name: 'keelson_connections_refused_total',
    help: 'Connections answered 429 for being past the total or the per-IP limit',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset()
      for (const reason of ['total', 'per_ip'] as const) {
        let refused = 0
        for (const source of connections) refused += source.refused[reason]
        this.inc({ reason }, refused)
      }
    },
  })
  new Gauge({
    name: 'keelson_connections_limit',
    help: 'The configured connection limits: in total and per client IP',
    labelNames: ['scope'],
    registers: [registry],
    collect() {
      this.reset()
      for (const source of connections) {
        this.set({ scope: 'total' }, source.limits.total)
        this.set({ scope: 'per_ip' }, source.limits.per_ip)
      }
    },
  })
  const rateLimits = new Map<string, RateLimitSource>()
  new Counter({
    name: 'keelson_rate_limited_total',
    help: 'Requests refused with 429 by a rate limit (login: attempts per client IP)',
    labelNames: ['limit'],
    registers: [registry],
    collect() {
      this.reset()
      for (const [limit, source] of rateLimits) this.inc({ limit }, source.refused)
    },
  })
  new Gauge({
    name: 'keelson_rate_limit_keys',
    help: 'Client keys a rate limit tracks now',
    labelNames: ['limit'],
    registers: [registry],
    collect() {
      this.reset()
      for (const [limit, source] of rateLimits) this.set({ limit }, source.size)
    },
  })
  const stop = tree.onChange(() => {
    changes++
  })

  return {
    registry,
    handler: (_req, res, next) => {
      registry
        .metrics()
        .then((text) => res.type(registry.contentType).send(text))
        .catch(next)
    },
    addTransport: (name, source) => transports.set(name, source),
    addIngest: (source) => ingests.push(source),
    addConnections: (source) => connections.push(source),
    addRateLimit: (name, source) => rateLimits.set(name, source),
    close: stop,
  }
}
