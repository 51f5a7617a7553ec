/**
 * What the stream contract suite needs from a transport (SPEC §4): start a
 * server, open a stream on a tree path, read it as a sequence of events,
 * stop and resume reading, and write and read the tree. Everything specific
 * to a wire format (SSE frames, telemetry messages, playback) lives behind
 * this interface, so one suite runs against every transport, as hono runs
 * one router suite against every router.
 */
import type { Json } from '../../src/core/json.js'
import type { KeelsonOptions } from '../../src/options.js'

/** One event of a stream, as the contract sees it. */
export type StreamEvent =
  | {
      kind: 'data'
      /** The resume point this event carries, if any (a reset carries none). */
      id: string | undefined
      /** The snapshot or an RFC 7396 merge patch relative to the path; `null` resets. */
      data: Json
      /** `performance.now()` when it arrived. */
      at: number
    }
  | {
      kind: 'keep-alive'
      /** The resume point it moves the client to, if any. */
      id: string | undefined
      at: number
    }

/** An open stream. */
export interface ContractStream {
  /** Every event received so far, in order. */
  readonly events: readonly StreamEvent[]
  /** Whether the connection has ended. */
  readonly closed: boolean
  /** Resolves at the next event or close, or after `ms`. */
  changed(ms: number): Promise<void>
  /** Stops reading: the transport's buffers fill up to the server (congestion). */
  pause(): void
  /** Reads again. */
  resume(): void
  close(): void
}

/** How a stream is asked for. */
export interface OpenOptions {
  /** The resume point to continue from (SSE: `Last-Event-ID`). */
  lastEventId?: string
  /** At most one event per this many ms after the snapshot. */
  minPeriod?: number
}

/** A stream the server refused to open. */
export class StreamRefused extends Error {
  constructor(
    readonly status: number,
    readonly contentType: string,
    readonly body: string,
  ) {
    super(`stream refused with ${status}: ${body.slice(0, 200)}`)
  }
}

/** The answer to a write or a read of the tree. */
export interface TreeAnswer {
  status: number
  /** The revision the answer belongs to (`X-Keelson-Event-Id`), when given. */
  eventId: string | undefined
  /** The JSON body; `null` when there is none (204, 404 GET). */
  body: Json
  contentType: string
}

/** A running server of the transport under test. */
export interface ContractServer {
  /**
   * Opens a stream on `path` (keys joined with `/` from the tree root, `*`
   * for wildcards; "" for the root). Rejects with {@link StreamRefused} when
   * the server answers with anything but a stream.
   */
  open(path: string, options?: OpenOptions): Promise<ContractStream>
  /** Sends a write (`PATCH`, `PUT`, `DELETE`) with this raw body and Content-Type. */
  send(method: string, path: string, body?: string, contentType?: string): Promise<TreeAnswer>
  /** Reads `path` now: its JSON (`null` when missing) and the revision it was read at. */
  get(path: string): Promise<TreeAnswer>
  /** Number of streams the server holds open. */
  openStreams(): Promise<number>
  /** Ends every stream and stops the server. */
  close(): Promise<void>
}

/**
 * What a transport offers beyond the core of the contract (snapshot, scoped
 * patches, the fold invariant, congestion, refused writes). The suite skips,
 * with the reason, the tests of what a transport does not offer.
 */
export interface TransportCapabilities {
  /** Events carry the revision they bring the client to (SSE `id:`), keep-alives included. */
  eventIds: boolean
  /** A stream continues from a resume point (SSE `Last-Event-ID`), or resets. */
  resume: boolean
  /** `minPeriod`: at most one event per period. */
  minPeriod: boolean
  /** Streams on wildcard paths (a `*` segment matching every key). */
  wildcards: boolean
  /** A stream on the whole tree (path ""). */
  root: boolean
  /** The server reads the path from the request and refuses a bad one (400) before streaming. */
  pathChecks: boolean
}

/** Every capability: what SSE offers, and what an adapter has unless it says otherwise. */
export const ALL_CAPABILITIES: Readonly<TransportCapabilities> = Object.freeze({
  eventIds: true,
  resume: true,
  minPeriod: true,
  wildcards: true,
  root: true,
  pathChecks: true,
})

/** A stream transport as the contract suite drives it. */
export interface StreamTransportAdapter {
  /** Starts a server with these options (port 0), ready for streams. */
  start(options?: Partial<KeelsonOptions>): Promise<ContractServer>
  /** What it does not offer (`false`); every capability absent here is offered. */
  capabilities?: Partial<TransportCapabilities>
}

/** The capabilities of `transport`, absent ones true. */
export function capabilitiesOf(transport: StreamTransportAdapter): TransportCapabilities {
  return { ...ALL_CAPABILITIES, ...transport.capabilities }
}
