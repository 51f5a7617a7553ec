/**
 * Every option of the `keelson` command (SPEC §10) in one table: its flag,
 * environment variable, config file key (the table's key), `--help` line,
 * default (from `src/options.ts`, never one of its own) and check.
 */
import pino from 'pino'
import { compileProxyTrust } from '../http/proxy.js'
import {
  DEFAULT_NMEA_UDP_PORT,
  DEFAULT_PORT,
  DEFAULTS,
  type KeelsonOptions,
  MAX_PERIOD_MS,
} from '../options.js'
import {
  boolean,
  bytes,
  ConfigError,
  duration,
  formatBytes,
  integer,
  listOf,
  matching,
  oneOf,
  origin,
  type Reader,
  text,
} from './values.js'

/** The options of `createApp` the CLI sets; their docs and defaults are in `src/options.ts`. */
type AppSettings = Pick<
  KeelsonOptions,
  | 'keepAliveMs'
  | 'stallTimeoutMs'
  | 'maxBodyBytes'
  | 'maxDepth'
  | 'historySize'
  | 'historyBytes'
  | 'maxSubscriptions'
  | 'highWaterBytes'
  | 'maxConnectionBytes'
  | 'detachStreams'
  | 'maxConnections'
  | 'maxConnectionsPerIp'
  | 'maxTimeTravel'
  | 'maxLoginAttempts'
  | 'loginWindowMs'
  | 'corsOrigins'
  | 'hostNames'
  | 'trustProxy'
  | 'mmsi'
  | 'securityFile'
  | 'stateDir'
  | 'pingIntervalMs'
  | 'pongTimeoutMs'
  | 'fleetFile'
  | 'dataDir'
  | 'journal'
  | 'retentionMs'
>

/** Everything a flag, variable or config file key can set. */
export interface CliSettings extends AppSettings {
  /** TCP port to listen on; 0 picks a free one. Default {@link DEFAULT_PORT}. */
  port: number
  /** Address to listen on (the ingest gets it too). Default all interfaces. */
  host?: string
  /** Replay the demo voyage when no NMEA 0183 input is configured (SPEC §7). Default true. */
  demo: boolean
  /** pino level. Default pino's own, `info`. */
  logLevel?: string
  /** NMEA 0183 log file to replay. */
  replay?: string
  /** Replay rate in lines per second; default the log's own timing. */
  replayRate?: number
  /** Replay the file in a loop. Default false. */
  loop: boolean
  /** UDP port to listen on for NMEA 0183 (`--nmea-udp` alone: {@link DEFAULT_NMEA_UDP_PORT}). Default off. */
  nmeaUdp?: number
  /** NMEA 0183 TCP gateways (`HOST:PORT`) to connect to. Default none. */
  nmeaTcp: string[]
  /** PEM certificate (chain) file: with {@link tlsKey}, serve HTTPS and WSS (SPEC §8). Default none. */
  tlsCert?: string
  /** PEM private key file of {@link tlsCert}; both or neither. Default none. */
  tlsKey?: string
  /** Redis URL for cluster mode (SPEC §9, src/cluster). */
  redis?: string
}

/** One option of {@link CliSettings}. */
export interface OptionDef<T> {
  /** The flag's name without dashes; an `off` switch is documented as `--no-<flag>`. */
  flag: string
  /** The value's placeholder in `--help` (`N`, `BYTES`); none for a switch. */
  arg?: string
  /** The environment variable. */
  env: string
  /** The line of `--help`. */
  help: string
  /** The value when no source sets one (from `src/options.ts`), or undefined. */
  fallback: T
  /** Checks a value from any source. */
  read: Reader<T>
  /**
   * `list`: repeatable flag, comma-separated variable, JSON array.
   * `on`: a switch, `--flag` or `ENV=1`. `off`: a switch that is on by
   * default, `--no-flag` or `ENV=1` turn it off (and `--flag` back on).
   */
  shape?: 'list' | 'on' | 'off'
  /** The value of the flag when given with none (`--nmea-udp` alone); the value is then optional. */
  bare?: number
}

/** The options, in the order `--help` lists them; the keys are the config file's. */
export const OPTIONS: { readonly [K in keyof CliSettings]-?: OptionDef<CliSettings[K]> } = {
  port: {
    flag: 'port',
    arg: 'N',
    env: 'PORT',
    help: `HTTP port; 0 picks a free one (default ${DEFAULT_PORT})`,
    fallback: DEFAULT_PORT,
    read: integer(0, 65535),
  },
  host: {
    flag: 'host',
    arg: 'ADDR',
    env: 'HOST',
    help: 'address to listen on (default all interfaces)',
    fallback: undefined,
    read: text,
  },
  demo: {
    flag: 'demo',
    shape: 'off',
    env: 'KEELSON_NO_DEMO',
    help: 'do not replay the demo voyage (played when no NMEA input is set)',
    fallback: true,
    read: boolean,
  },
  keepAliveMs: {
    flag: 'keep-alive',
    arg: 'MS',
    env: 'KEELSON_KEEP_ALIVE_MS',
    help: `SSE keep-alive and WebSocket ping period (default ${DEFAULTS.keepAliveMs})`,
    fallback: DEFAULTS.keepAliveMs,
    read: integer(1, MAX_PERIOD_MS),
  },
  stallTimeoutMs: {
    flag: 'stall-timeout',
    arg: 'MS',
    env: 'KEELSON_STALL_TIMEOUT_MS',
    help: `close a stream that has not drained for this long (default ${DEFAULTS.stallTimeoutMs})`,
    fallback: DEFAULTS.stallTimeoutMs,
    read: integer(1, MAX_PERIOD_MS),
  },
  maxBodyBytes: {
    flag: 'max-body',
    arg: 'BYTES',
    env: 'KEELSON_MAX_BODY',
    help: `largest request body and WebSocket message (default ${formatBytes(DEFAULTS.maxBodyBytes)})`,
    fallback: DEFAULTS.maxBodyBytes,
    read: bytes(1, 1024 ** 3),
  },
  maxDepth: {
    flag: 'max-depth',
    arg: 'N',
    env: 'KEELSON_MAX_DEPTH',
    help: `deepest level a write may reach from the tree's root (default ${DEFAULTS.maxDepth})`,
    fallback: DEFAULTS.maxDepth,
    read: integer(1, 1000),
  },
  historySize: {
    flag: 'history-size',
    arg: 'N',
    env: 'KEELSON_HISTORY_SIZE',
    help: `changes kept for stream resume (default ${DEFAULTS.historySize})`,
    fallback: DEFAULTS.historySize,
    read: integer(1, 1_000_000),
  },
  historyBytes: {
    flag: 'history-bytes',
    arg: 'BYTES',
    env: 'KEELSON_HISTORY_BYTES',
    help: `bytes of the changes kept for resume, as JSON text (default ${formatBytes(DEFAULTS.historyBytes)})`,
    fallback: DEFAULTS.historyBytes,
    read: bytes(1024, 64 * 1024 ** 3),
  },
  maxSubscriptions: {
    flag: 'max-subscriptions',
    arg: 'N',
    env: 'KEELSON_MAX_SUBSCRIPTIONS',
    help: `subscriptions one connection may hold (default ${DEFAULTS.maxSubscriptions})`,
    fallback: DEFAULTS.maxSubscriptions,
    read: integer(1, 1_000_000),
  },
  highWaterBytes: {
    flag: 'high-water',
    arg: 'BYTES',
    env: 'KEELSON_HIGH_WATER',
    help: `queued bytes at which a connection's patches coalesce (default ${formatBytes(DEFAULTS.highWaterBytes)})`,
    fallback: DEFAULTS.highWaterBytes,
    read: bytes(1, 1024 ** 3),
  },
  maxConnectionBytes: {
    flag: 'max-connection-bytes',
    arg: 'BYTES',
    env: 'KEELSON_MAX_CONNECTION_BYTES',
    help: `queued bytes past which a connection is closed (default ${formatBytes(DEFAULTS.maxConnectionBytes)})`,
    fallback: DEFAULTS.maxConnectionBytes,
    read: bytes(1, 1024 ** 3),
  },
  detachStreams: {
    flag: 'detach',
    shape: 'off',
    env: 'KEELSON_NO_DETACH',
    help: "keep SSE streams on node's HTTP server (more memory per idle stream)",
    fallback: DEFAULTS.detachStreams,
    read: boolean,
  },
  maxConnections: {
    flag: 'max-connections',
    arg: 'N',
    env: 'KEELSON_MAX_CONNECTIONS',
    help: `open connections in total; past it, 429 (default ${DEFAULTS.maxConnections})`,
    fallback: DEFAULTS.maxConnections,
    read: integer(1, 10_000_000),
  },
  maxConnectionsPerIp: {
    flag: 'max-connections-per-ip',
    arg: 'N',
    env: 'KEELSON_MAX_CONNECTIONS_PER_IP',
    help: `open connections per client IP; past it, 429 (default ${DEFAULTS.maxConnectionsPerIp})`,
    fallback: DEFAULTS.maxConnectionsPerIp,
    read: integer(1, 10_000_000),
  },
  maxTimeTravel: {
    flag: 'max-time-travel',
    arg: 'N',
    env: 'KEELSON_MAX_TIME_TRAVEL',
    help: `snapshot reads and playbacks replaying at once; past it, 429 (default ${DEFAULTS.maxTimeTravel})`,
    fallback: DEFAULTS.maxTimeTravel,
    read: integer(1, 100_000),
  },
  maxLoginAttempts: {
    flag: 'max-login-attempts',
    arg: 'N',
    env: 'KEELSON_MAX_LOGIN_ATTEMPTS',
    help: `login attempts per client IP and window; past it, 429 (default ${DEFAULTS.maxLoginAttempts})`,
    fallback: DEFAULTS.maxLoginAttempts,
    read: integer(1, 1_000_000),
  },
  loginWindowMs: {
    flag: 'login-window',
    arg: 'MS',
    env: 'KEELSON_LOGIN_WINDOW_MS',
    help: `the window of --max-login-attempts (default ${DEFAULTS.loginWindowMs})`,
    fallback: DEFAULTS.loginWindowMs,
    read: integer(1000, MAX_PERIOD_MS),
  },
  tlsCert: {
    flag: 'tls-cert',
    arg: 'FILE',
    env: 'KEELSON_TLS_CERT',
    help: 'PEM certificate: serve HTTPS and WSS (with --tls-key)',
    fallback: undefined,
    read: text,
  },
  tlsKey: {
    flag: 'tls-key',
    arg: 'FILE',
    env: 'KEELSON_TLS_KEY',
    help: 'PEM private key of --tls-cert',
    fallback: undefined,
    read: text,
  },
  corsOrigins: {
    flag: 'cors-origin',
    arg: 'ORIGIN',
    shape: 'list',
    env: 'KEELSON_CORS_ORIGIN',
    help: 'allow writes from this browser origin; repeatable (default none)',
    fallback: DEFAULTS.corsOrigins,
    read: listOf(origin),
  },
  hostNames: {
    flag: 'host-name',
    arg: 'NAME',
    shape: 'list',
    env: 'KEELSON_HOST_NAMES',
    help: 'a Host name writes may use while no users exist; repeatable',
    fallback: DEFAULTS.hostNames,
    read: listOf((raw, name) =>
      matching(
        /^(\[[0-9a-f:.]+\]|[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?)$/i,
        'a host name without a port, like boat.local',
      )(raw, name).toLowerCase(),
    ),
  },
  trustProxy: {
    flag: 'trust-proxy',
    arg: 'PROXY',
    shape: 'list',
    env: 'KEELSON_TRUST_PROXY',
    help: 'a trusted reverse proxy, whose X-Forwarded-For/-Proto/-Host count: loopback, an IP or a CIDR; repeatable or comma-separated (default none)',
    fallback: DEFAULTS.trustProxy,
    read: (raw, name) => {
      // A flag may carry a comma list too, as express's own `trust proxy` string does.
      const entries = listOf(text)(raw, name)
        .flatMap((entry) => entry.split(','))
        .map((entry) => entry.trim())
        .filter((entry) => entry !== '')
      try {
        compileProxyTrust(entries)
      } catch (err) {
        throw new ConfigError(
          `${name} must be loopback, linklocal, uniquelocal, an IP address or a CIDR range ` +
            `like 10.0.0.0/8 (${(err as Error).message.slice(0, 200)})`,
        )
      }
      return entries
    },
  },
  mmsi: {
    flag: 'mmsi',
    arg: 'MMSI',
    env: 'KEELSON_MMSI',
    help: "the self vessel's MMSI (default a UUID kept in the state dir)",
    fallback: undefined,
    read: matching(/^\d{9}$/, '9 digits'),
  },
  securityFile: {
    flag: 'security',
    arg: 'FILE',
    env: 'KEELSON_SECURITY',
    help: 'the security file: users, ACLs and the token secret (default security.json in the state dir)',
    fallback: undefined,
    read: text,
  },
  fleetFile: {
    flag: 'fleet',
    arg: 'FILE',
    env: 'KEELSON_FLEET',
    help: 'fleet telemetry: JSON mapping unit and vehicle ids to vessel contexts, reloaded on change (default: unit ids are MMSIs)',
    fallback: undefined,
    read: text,
  },
  pingIntervalMs: {
    flag: 'ping-interval',
    arg: 'MS',
    env: 'KEELSON_PING_INTERVAL_MS',
    help: `fleet telemetry ping period (default ${DEFAULTS.pingIntervalMs})`,
    fallback: DEFAULTS.pingIntervalMs,
    read: integer(1, MAX_PERIOD_MS),
  },
  pongTimeoutMs: {
    flag: 'pong-timeout',
    arg: 'MS',
    env: 'KEELSON_PONG_TIMEOUT_MS',
    help: `close a fleet telemetry stream with no pong for this long (default ${DEFAULTS.pongTimeoutMs})`,
    fallback: DEFAULTS.pongTimeoutMs,
    read: integer(1, MAX_PERIOD_MS),
  },
  stateDir: {
    flag: 'state-dir',
    arg: 'DIR',
    env: 'KEELSON_STATE_DIR',
    help: 'where keelson keeps its identity and security file (default ~/.local/state/keelson)',
    fallback: undefined,
    read: text,
  },
  replay: {
    flag: 'replay',
    arg: 'FILE',
    env: 'KEELSON_REPLAY',
    help: 'replay an NMEA 0183 log file',
    fallback: undefined,
    read: text,
  },
  replayRate: {
    flag: 'replay-rate',
    arg: 'N',
    env: 'KEELSON_REPLAY_RATE',
    help: "replay at N lines per second (default the log's own timing)",
    fallback: undefined,
    read: integer(1, 10_000_000),
  },
  loop: {
    flag: 'loop',
    shape: 'on',
    env: 'KEELSON_LOOP',
    help: 'replay in a loop',
    fallback: false,
    read: boolean,
  },
  nmeaUdp: {
    flag: 'nmea-udp',
    arg: '[PORT]',
    env: 'KEELSON_NMEA_UDP',
    help: `listen for NMEA 0183 over UDP (port ${DEFAULT_NMEA_UDP_PORT} when none is given)`,
    fallback: undefined,
    read: integer(0, 65535),
    bare: DEFAULT_NMEA_UDP_PORT,
  },
  nmeaTcp: {
    flag: 'nmea-tcp',
    arg: 'HOST:PORT',
    shape: 'list',
    env: 'KEELSON_NMEA_TCP',
    help: 'connect to an NMEA 0183 TCP gateway; repeatable',
    fallback: [],
    read: listOf((raw, name) => {
      const gateway = matching(/^[^\s:]+:\d{1,5}$/, 'HOST:PORT')(raw, name)
      integer(0, 65535)(gateway.slice(gateway.lastIndexOf(':') + 1), `the port of ${name}`)
      return gateway
    }),
  },
  logLevel: {
    flag: 'log-level',
    arg: 'LEVEL',
    env: 'LOG_LEVEL',
    help: 'fatal, error, warn, info, debug, trace or silent (default info)',
    fallback: undefined,
    read: oneOf([...Object.keys(pino.levels.values), 'silent']),
  },
  dataDir: {
    flag: 'data-dir',
    arg: 'DIR',
    env: 'KEELSON_DATA_DIR',
    help: 'keep the tree, its journal, identity and security file here: survives restarts and kill -9',
    fallback: undefined,
    read: text,
  },
  journal: {
    flag: 'journal',
    arg: 'MODE',
    env: 'KEELSON_JOURNAL',
    help: `with --data-dir: sync answers writes once on disk, async fsyncs every second and can lose up to a second (default ${DEFAULTS.journal})`,
    fallback: DEFAULTS.journal,
    read: oneOf(['sync', 'async']) as Reader<'sync' | 'async'>,
  },
  retentionMs: {
    flag: 'retention',
    arg: 'DURATION',
    env: 'KEELSON_RETENTION',
    help: 'with --data-dir: how long the past is kept for time travel, e.g. 7d, 12h (default 7d)',
    fallback: DEFAULTS.retentionMs,
    read: duration(1000, 3650 * 86_400_000),
  },
  redis: {
    flag: 'redis',
    arg: 'URL',
    env: 'KEELSON_REDIS',
    help: 'cluster on Redis Streams: every node on one Redis (redis://[:password@]host:port[/db]) shares its writes, ids and resume; no demo voyage',
    fallback: undefined,
    read: text,
  },
}
