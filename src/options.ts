/**
 * Every option of keelson with its default, in one place. The CLI, the
 * config file and environment variables all fill this shape; no other file
 * holds a default of its own.
 */

import type { Logger } from 'pino'
import type { JsonObject } from './core/json.js'
import type { SecurityStore } from './security/store.js'

/** Options of {@link createApp}. */
export interface KeelsonOptions {
  /** Period of SSE keep-alives and WebSocket pings, ms (SPEC §4). Default 15000. */
  keepAliveMs: number
  /** Close a stream whose socket has not drained for this long, ms (SPEC §4). Default 30000. */
  stallTimeoutMs: number
  /** Largest request body and WebSocket message, bytes (SPEC §1). Default 1 MiB. */
  maxBodyBytes: number
  /**
   * Deepest position a write may reach, counted from the root of the tree:
   * path segments plus the body's own nesting (SPEC §1). Default 64.
   */
  maxDepth: number
  /** Changes kept for stream resume (SPEC §1, §4). Default 10000. */
  historySize: number
  /** Bytes of the changes kept for stream resume, as JSON text (SPEC §1). Default 64 MiB. */
  historyBytes: number
  /** Subscriptions one connection may hold (SPEC §8 limits). Default 1000. */
  maxSubscriptions: number
  /**
   * Bytes one connection may have queued and unsent before it counts as
   * congested: patches are then coalesced and the client's messages are no
   * longer read until it drains. Default 16 KiB (node's own socket
   * high-water mark): a larger one lets a lagging client's events wait in
   * its buffer instead of being coalesced (bench b2 p99: 1.52× the ceiling
   * at 256 KiB, 0.98× at 16 KiB, bench/RESULTS.md).
   */
  highWaterBytes: number
  /**
   * Bytes one connection may hold queued and unsent at most: a connection
   * past it is closed (it reconnects and resumes). Default 8 MiB.
   */
  maxConnectionBytes: number
  /**
   * Take an open SSE stream's socket out of node's HTTP server (src/http/detach.ts)
   * to save memory per idle stream; off, streams stay on their response. Default true.
   */
  detachStreams: boolean
  /**
   * Open connections the server holds at most, from every client together
   * (SPEC §8 limits); one past it is answered 429 with `Retry-After`.
   * Default 100000.
   */
  maxConnections: number
  /**
   * Open connections one client IP may hold (SPEC §8 limits); one past it is
   * answered 429 with `Retry-After`. Default 1000.
   */
  maxConnectionsPerIp: number
  /**
   * Login attempts one client IP may make per {@link loginWindowMs} (SPEC §8,
   * as signalk-server); past it a login is answered 429. Default 100.
   */
  maxLoginAttempts: number
  /** The window of {@link maxLoginAttempts}, ms. Default 600000 (10 minutes). */
  loginWindowMs: number
  /** Origins allowed to write from a browser (SPEC §3). Default none. */
  corsOrigins: string[]
  /**
   * Host names (besides loopback names) that a write's `Host` header may
   * carry while no users exist (SPEC §8, no DNS rebinding). Default none.
   */
  hostNames: string[]
  /**
   * Which peers are trusted reverse proxies, as express's `trust proxy`
   * takes them (src/http/proxy.ts): `loopback`, `linklocal`, `uniquelocal`,
   * IP addresses and CIDR ranges. From such a peer the client's address is
   * the right-most `X-Forwarded-For` entry that is not a trusted proxy
   * (for the no-users write rule, login and access request limits, source
   * labels), and its scheme and host are `X-Forwarded-Proto` and
   * `X-Forwarded-Host` or `Host` (discovery URLs, origin checks); from any
   * other peer those headers are ignored. The per-IP connection limit
   * still counts TCP peers: it is counted at accept, before any header is
   * read (src/http/limits.ts), so behind a proxy it limits the proxy's
   * connections. Default none.
   */
  trustProxy: string[]
  /**
   * The security file: users, ACLs, devices and the token secret, in
   * signalk-server's `security.json` shape (SPEC §8). Default
   * `security.json` in {@link KeelsonOptions.stateDir}.
   */
  securityFile?: string
  /**
   * Where keelson keeps its state: the self vessel's identity and the
   * security file. Default `$KEELSON_STATE_DIR`, else
   * `$XDG_STATE_HOME/keelson`, else `~/.local/state/keelson` (src/identity.ts).
   */
  stateDir?: string
  /** Self vessel MMSI; when set the self key is `urn:mrn:imo:mmsi:<mmsi>`. */
  mmsi?: string
  /** Self vessel UUID when no MMSI is set; default a random one. */
  uuid?: string
  /** Event-id epoch; default a new random one. */
  epoch?: string
  /**
   * Start from a kept tree at its revision (a journal's or a cluster's
   * snapshot) instead of a new one; `mmsi` and `uuid` are then ignored.
   */
  restore?: { readonly root: JsonObject; readonly rev: number }
  /**
   * Where keelson keeps what it persists besides the journal (application
   * data, resources) when there is no data dir: the state dir. With
   * `--data-dir` the CLI passes the data dir here.
   */
  persistDir?: string
  /**
   * The opened security file (src/security/store.ts): users, ACLs, the token
   * secret (SPEC §8). The CLI opens `--security FILE` (default
   * `security.json` in the state dir); without one, nobody logs in and the
   * no-users rule holds.
   */
  security?: SecurityStore
  /**
   * Period of the fleet telemetry stream's `{"type":"ping"}` messages, ms
   * (SPEC §6). Default 15000.
   */
  pingIntervalMs: number
  /**
   * A fleet telemetry stream that sent no pong for this long is closed and its
   * subscriptions dropped, ms (SPEC §6). Default 45000.
   */
  pongTimeoutMs: number
  /** Lifetime of a unit token of fleet telemetry, ms (SPEC §6). Default 3600000 (1 h). */
  unitTokenTtlMs: number
  /**
   * The fleet file: unit and vehicle ids mapped to vessel contexts (SPEC §6,
   * src/telemetry/fleet.ts), reloaded when it changes. Default none: a unit id
   * is a vessel's MMSI.
   */
  fleetFile?: string
  /** How often the fleet file is checked for changes, ms. Default 1000. */
  fleetPollMs: number
  /**
   * More `node_modules` directories to find Signal K webapps in, searched
   * before the working directory's and keelson's own (src/signalk/webapps.ts):
   * apps installed elsewhere, as the app specs install KIP and Freeboard-SK.
   * Default none.
   */
  webappDirs?: string[]
  /**
   * Time-travel work at once (SPEC §9): snapshot reads in progress and
   * playbacks (SSE or WebSocket) still replaying, each holding a copy of
   * the past tree (the part it reads); one past it is answered 429 with
   * `Retry-After`. A playback that went live no longer counts. Default 64.
   */
  maxTimeTravel: number
  /**
   * Cluster mode (SPEC §9, src/cluster): how often a node stores its replica
   * in Redis as the snapshot a new node starts from (only when no node did
   * within this period), and trims the stream behind it, ms. Default 10000.
   */
  clusterSnapshotMs: number
  /** Cluster mode: the prefix of the Redis keys of one cluster. Default `keelson`. */
  clusterKey: string
  /**
   * How long an SSE resume whose event id this tree has not reached yet
   * waits for it, ms (src/core/revision-wait.ts). Only a cluster replica
   * reaches such an id later (the client read it from a node ahead of this
   * one): 0 here, a reset at once; a cluster node (startClusterNode) waits
   * {@link DEFAULTS}.clusterResumeWaitMs, 5000.
   */
  resumeWaitMs: number
  /** What a cluster node sets {@link resumeWaitMs} to unless told otherwise, ms. */
  clusterResumeWaitMs: number
  /** Resources one type of the v2 resources API may hold (SPEC §11). Default 10000. */
  maxResourcesPerType: number
  /** Bytes (as JSON) all resources of the v2 resources API may hold together. Default 32 MiB. */
  maxResourceBytes: number
  /** Custom resource types that may be registered (SPEC §11). Default 32. */
  maxResourceTypes: number
  /**
   * Period of the course's calculated values (`navigation.course.calcValues`,
   * SPEC §11) while a destination is set, ms. Default 1000 (1 Hz).
   */
  coursePeriodMs: number
  /**
   * The data dir (SPEC §9, src/journal/): a snapshot plus an append-only
   * journal of every change, so the tree, its revision and epoch survive a
   * restart and a `kill -9`. Default none: the tree lives in memory only.
   */
  dataDir?: string
  /**
   * `sync`: a write is answered once its record is fsynced (the writes of
   * one event-loop turn share one fdatasync); `async`: fsync at most every
   * second, a power cut can lose up to a second. Default `sync`.
   */
  journal: 'sync' | 'async'
  /** How long the journal keeps the past for time travel, ms (SPEC §9). Default 7 days. */
  retentionMs: number
  /** A journal segment is closed past this size, bytes. Default 64 MiB. */
  journalSegmentBytes: number
  /** A journal segment is closed past this age, ms (retention removes whole segments). Default 1 h. */
  journalSegmentMs: number
  /**
   * A checkpoint (the whole tree, written by a worker thread) after this
   * many bytes of journal, or the tree's own size when larger: what time
   * travel replays at most (bench/journal.ts). Default 1 MiB.
   */
  journalCheckpointBytes: number
  /** false fsyncs after every record instead of once per turn: for bench/journal.ts only. Default true. */
  journalGroupCommit: boolean
  /**
   * Bytes (as JSON) all application data documents may hold together
   * (`/signalk/v1/applicationData`, SPEC §11); each document is also at
   * most {@link maxBodyBytes}. Default 64 MiB.
   */
  maxAppDataBytes: number
  /** Application data documents (one per scope, user, appid and version) kept at most. Default 1000. */
  maxAppDataDocuments: number
  /** The pino logger; default a silent one. */
  logger?: Logger
}

/** The defaults of {@link KeelsonOptions}. */
export const DEFAULTS: Readonly<KeelsonOptions> = Object.freeze({
  journal: 'sync',
  retentionMs: 7 * 86_400_000,
  journalSegmentBytes: 64 * 1024 * 1024,
  journalSegmentMs: 3_600_000,
  journalCheckpointBytes: 1024 * 1024,
  journalGroupCommit: true,
  keepAliveMs: 15_000,
  stallTimeoutMs: 30_000,
  maxBodyBytes: 1024 * 1024,
  maxDepth: 64,
  historySize: 10_000,
  historyBytes: 64 * 1024 * 1024,
  maxSubscriptions: 1000,
  highWaterBytes: 16 * 1024,
  maxConnectionBytes: 8 * 1024 * 1024,
  detachStreams: true,
  maxConnections: 100_000,
  maxConnectionsPerIp: 1000,
  maxLoginAttempts: 100,
  loginWindowMs: 600_000,
  corsOrigins: [],
  hostNames: [],
  trustProxy: [],
  pingIntervalMs: 15_000,
  pongTimeoutMs: 45_000,
  unitTokenTtlMs: 3_600_000,
  fleetPollMs: 1000,
  maxAppDataBytes: 64 * 1024 * 1024,
  maxAppDataDocuments: 1000,
  maxResourcesPerType: 10_000,
  maxResourceBytes: 32 * 1024 * 1024,
  maxResourceTypes: 32,
  clusterSnapshotMs: 10_000,
  clusterKey: 'keelson',
  resumeWaitMs: 0,
  clusterResumeWaitMs: 5000,
  maxTimeTravel: 64,
  coursePeriodMs: 1000,
})

/** The default TCP port of the CLI. */
export const DEFAULT_PORT = 3000

/** The default UDP port of NMEA 0183 (IANA "nmea-0183"). */
export const DEFAULT_NMEA_UDP_PORT = 10110

/** Longest `minPeriod`, `period` and similar durations a client may ask for, ms (24 h). */
export const MAX_PERIOD_MS = 86_400_000

/**
 * Signal K requests (PUT requests, SPEC §11) whose state `GET
 * /signalk/v1/requests/:id` can still return: at most `count`, none older
 * than `ageMs` (signalk-server forgets them after an hour).
 */
export const REQUESTS_KEPT = Object.freeze({ count: 1000, ageMs: 3_600_000 })

/**
 * Largest arrival circle the course API takes, metres (100 nautical miles):
 * past it every course would have arrived as it starts.
 */
export const MAX_ARRIVAL_CIRCLE_M = 185_200

/**
 * Slowest and fastest `playbackRate` of a playback (SPEC §9): 1 is the
 * recorded pace, 2 twice as fast. Past the fastest, waits shorter than a
 * microsecond mean nothing; below the slowest, a minute of the voyage takes
 * more than a day to play.
 */
export const PLAYBACK_RATES = Object.freeze({ min: 0.001, max: 1_000_000 })

/**
 * How often streams are checked for a stall: a quarter of the stall timeout,
 * between 10 ms and 1 s, so a stalled client is closed within 25 % of the limit.
 */
export function stallSweepMs(stallTimeoutMs: number): number {
  return Math.min(1000, Math.max(10, Math.floor(stallTimeoutMs / 4)))
}

/**
 * How many slices the keep-alives of one period are sent in: one slice per
 * tick, ticks at least 100 ms apart, at most 16 (a tick about every second
 * at the default 15 s), so a large fan-out never meets all keep-alives at once.
 */
export function keepAliveSlots(keepAliveMs: number): number {
  return Math.min(16, Math.max(1, Math.floor(keepAliveMs / 100)))
}
