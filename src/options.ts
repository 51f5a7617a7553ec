/**
 * Every option of keelson with its default, in one place. The CLI, the
 * config file and environment variables all fill this shape.
 */
import type { Logger } from 'pino'

/** Options of {@link createApp}. */
export interface KeelsonOptions {
  /** Period of SSE keep-alives, ms (SPEC §4). Default 15000. */
  keepAliveMs: number
  /** Close a stream whose socket has not drained for this long, ms (SPEC §4). Default 30000. */
  stallTimeoutMs: number
  /** Largest request body, bytes (SPEC §1). Default 1 MiB. */
  maxBodyBytes: number
  /** Deepest JSON nesting accepted (SPEC §1). Default 64. */
  maxDepth: number
  /** Changes kept for stream resume. Default 10000. */
  historySize: number
  /** Origins allowed to write from a browser (SPEC §3). Default none. */
  corsOrigins: string[]
  /** Self vessel MMSI; when set the self key is `urn:mrn:imo:mmsi:<mmsi>`. */
  mmsi?: string
  /** Self vessel UUID when no MMSI is set; default a random one. */
  uuid?: string
  /** Event-id epoch; default a new random one. */
  epoch?: string
  /** The pino logger; default a silent one. */
  logger?: Logger
}

/** The defaults of {@link KeelsonOptions}. */
export const DEFAULTS: Readonly<KeelsonOptions> = Object.freeze({
  keepAliveMs: 15_000,
  stallTimeoutMs: 30_000,
  maxBodyBytes: 1024 * 1024,
  maxDepth: 64,
  historySize: 10_000,
  corsOrigins: [],
})

/** The default TCP port of the CLI. */
export const DEFAULT_PORT = 3000

/**
 * How often streams are checked for a stall: a quarter of the stall timeout,
 * between 10 ms and 1 s, so a stalled client is closed within 25 % of the limit.
 */
export function stallSweepMs(stallTimeoutMs: number): number {
  return Math.min(1000, Math.max(10, Math.floor(stallTimeoutMs / 4)))
}
