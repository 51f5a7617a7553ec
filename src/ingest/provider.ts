/**
 * What every ingest provider (TCP client, UDP listener, log replay) is to
 * the rest of keelson: a name, its counters, and a way to stop it.
 */
import type { IngestCounters } from './nmea-decoder.js'

/** The kinds of NMEA 0183 provider. */
export type ProviderKind = 'tcp' | 'udp' | 'replay'

/** A running provider. */
export interface Provider {
  readonly kind: ProviderKind
  /** The provider's label, also the `source.label` of its updates. */
  readonly label: string
  /** Live counters (the same object as the provider's decoder keeps). */
  readonly counters: Readonly<IngestCounters>
  /** Stops it: closes its socket or file and cancels its timers. */
  close(): Promise<void>
}

/** One provider's figures, as {@link Ingest.stats} reports them. */
export interface ProviderStats {
  readonly kind: ProviderKind
  readonly label: string
  readonly counters: Readonly<IngestCounters>
}

/** A label safe as a tree key and as the first part of a `$source` (no dots). */
export function labelOf(kind: ProviderKind, name: string): string {
  return `${kind}-${name.replace(/[^A-Za-z0-9_-]+/g, '_')}`
}
