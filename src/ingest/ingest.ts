/**
 * Starts the NMEA 0183 providers a configuration asks for (SPEC §7), several
 * at once, all writing to one tree through `applyDelta`: TCP gateways, a UDP
 * listener (on the server's `--host` when it names one address), a log
 * replay, and the demo voyage when nothing else is set.
 */
import { existsSync } from 'node:fs'
import { isIPv6 } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import type { StateTree } from '../core/state-tree.js'
import { type ApplyDeltaOptions, applyDelta, type Delta } from '../signalk/delta.js'
import type { DeltaSink } from './nmea-decoder.js'
import type { Provider, ProviderStats } from './provider.js'
import { startReplayProvider } from './replay-provider.js'
import { startTcpProvider } from './tcp-provider.js'
import { startUdpProvider } from './udp-provider.js'

/** The demo voyage, made by `fixtures/generate-demo-voyage.ts`. */
export const DEMO_FILE = fileURLToPath(new URL('../../fixtures/demo-voyage.nmea', import.meta.url))

/** The decoders' deltas are the parser's own objects, never a client's JSON. */
const DECODED: ApplyDeltaOptions = { builtInProcess: true }

/** What {@link startIngest} reads (the ingest part of the CLI's configuration). */
export interface IngestConfig {
  /** Replay the demo voyage in a loop when no other NMEA input is configured. */
  demo: boolean
  /** NMEA 0183 log file to replay (instead of the demo). */
  replay?: string
  /** Replay rate in lines per second; default the log's own timing. */
  replayRate?: number
  /** Replay in a loop (the demo always loops). */
  loop: boolean
  /** UDP port to listen on. */
  nmeaUdp?: number
  /**
   * The address the server listens on (the CLI's `--host`); the UDP socket
   * binds it too (see {@link udpBindAddress}). Default: every IPv4 interface.
   */
  host?: string
  /** TCP gateways, `HOST:PORT` each. */
  nmeaTcp: readonly string[]
}

/** The running providers. */
export interface Ingest {
  readonly providers: readonly Provider[]
  /** Every provider's counters, read live (for `/metrics`). */
  stats(): ProviderStats[]
  /** Stops every provider. */
  close(): Promise<void>
}

/** Thrown before anything starts when the configuration cannot work (missing replay file). */
export class IngestConfigError extends Error {}

/**
 * Starts the providers of `config`, writing to `tree`. Resolves once the UDP
 * socket listens; TCP gateways connect (and reconnect) in the background.
 * Throws {@link IngestConfigError} for a replay file that does not exist.
 */
export async function startIngest(
  target: { tree: StateTree; log: Logger },
  config: IngestConfig,
): Promise<Ingest> {
  const { tree, log } = target
  const sink: DeltaSink = (delta) => {
    applyDelta(tree, delta as Delta, DECODED)
  }
  const providers: Provider[] = []
  const replay = config.replay
  if (replay !== undefined && !existsSync(replay)) {
    throw new IngestConfigError(`The replay file ${replay} does not exist`)
  }
  try {
    for (const gateway of config.nmeaTcp) {
      const colon = gateway.lastIndexOf(':')
      const host = gateway.slice(0, colon)
      const port = Number(gateway.slice(colon + 1))
      providers.push(startTcpProvider({ host, port, sink, log }))
    }
    if (config.nmeaUdp !== undefined) {
      const address = udpBindAddress(config.host)
      providers.push(await startUdpProvider({ port: config.nmeaUdp, address, sink, log }))
    }
  } catch (err) {
    await Promise.all(providers.map((p) => p.close()))
    throw err
  }
  if (replay !== undefined) {
    providers.push(
      startReplayProvider({ file: replay, rate: config.replayRate, loop: config.loop, sink, log }),
    )
  } else if (config.demo && providers.length === 0) {
    log.info(
      { file: DEMO_FILE },
      `demo voyage: replaying ${DEMO_FILE} in a loop (--no-demo turns it off)`,
    )
    providers.push(
      startReplayProvider({
        file: DEMO_FILE,
        label: 'demo',
        rate: config.replayRate,
        loop: true,
        sink,
        log,
      }),
    )
  }

  return {
    providers,
    stats: () => providers.map(({ kind, label, counters }) => ({ kind, label, counters })),
    close: async () => {
      await Promise.all(providers.map((p) => p.close()))
    },
  }
}

/**
 * Where the NMEA UDP socket binds for the server's `--host`: that address
 * when it is a specific one (IPv4, or IPv6 such as `::1` on a `udp6`
 * socket); `0.0.0.0` for the wildcards `::` and `0.0.0.0` or no host, since
 * instruments broadcast over IPv4. A host name is bound as given (resolved
 * to IPv4).
 */
export function udpBindAddress(host: string | undefined): string {
  if (host === undefined || host === '' || host === '0.0.0.0') return '0.0.0.0'
  // `::`, `::0`, `0:0:0:0:0:0:0:0`: the IPv6 wildcard.
  if (isIPv6(host) && /^[0:]+$/.test(host)) return '0.0.0.0'
  return host
}
