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
    close: stop,
  }
}
