/**
 * CLI configuration (SPEC §10): flags, then environment variables, then a
 * JSON config file, then defaults. `--help` prints {@link HELP}.
 */
import { readFileSync } from 'node:fs'
import { DEFAULT_NMEA_UDP_PORT, DEFAULT_PORT, DEFAULTS } from './options.js'

/** Everything the CLI can be told. */
export interface CliConfig {
  port: number
  host: string
  demo: boolean
  keepAliveMs: number
  stallTimeoutMs: number
  maxBodyBytes: number
  corsOrigins: string[]
  mmsi?: string
  logLevel: string
  /** NMEA 0183 log file to replay. */
  replay?: string
  /** Replay rate in lines per second; default real time from the sentences' timestamps. */
  replayRate?: number
  /** Replay the file in a loop. */
  loop: boolean
  /** UDP port to listen on for NMEA 0183 (`--nmea-udp [PORT]`, default port 10110). */
  nmeaUdp?: number
  /** NMEA 0183 TCP gateways (`HOST:PORT`) to connect to. */
  nmeaTcp: string[]
  dataDir?: string
  redis?: string
  help: boolean
  version: boolean
}


/** `keelson --help`. */
export const HELP = `keelson — live state server for boats and fleets (Signal K tree over REST, SSE and WebSocket)

Usage: keelson [options]        (from a clone: npm start -- [options])

Options (environment variable in brackets):
  --port N               HTTP port (default ${DEFAULT_PORT}) [PORT]
  --host ADDR            address to listen on (default all interfaces) [HOST]
  --config FILE          JSON config file with any of these options in camelCase [KEELSON_CONFIG]
  --no-demo              do not replay the demo voyage [KEELSON_NO_DEMO=1]
  --keep-alive MS        SSE keep-alive period (default ${DEFAULTS.keepAliveMs}) [KEELSON_KEEP_ALIVE_MS]
  --stall-timeout MS     close streams that do not drain for this long (default ${DEFAULTS.stallTimeoutMs}) [KEELSON_STALL_TIMEOUT_MS]
  --max-body BYTES       largest request body (default ${DEFAULTS.maxBodyBytes}) [KEELSON_MAX_BODY]
  --cors-origin ORIGIN   allow writes from this browser origin; repeatable [KEELSON_CORS_ORIGIN, comma-separated]
  --mmsi MMSI            the self vessel's MMSI (else a UUID kept in the state dir) [KEELSON_MMSI]
  --replay FILE          replay an NMEA 0183 log file [KEELSON_REPLAY]
  --replay-rate N        replay at N lines per second (default: the log's own timing) [KEELSON_REPLAY_RATE]
  --loop                 replay in a loop [KEELSON_LOOP=1]
  --nmea-udp [PORT]      listen for NMEA 0183 over UDP (default port ${DEFAULT_NMEA_UDP_PORT}) [KEELSON_NMEA_UDP]
  --nmea-tcp HOST:PORT   connect to an NMEA 0183 TCP gateway; repeatable [KEELSON_NMEA_TCP]
  --data-dir DIR         keep the tree across restarts (not available yet) [KEELSON_DATA_DIR]
  --redis URL            cluster on Redis Streams (not available yet) [KEELSON_REDIS]
  --log-level LEVEL      pino level: fatal, error, warn, info, debug, trace (default info) [LOG_LEVEL]
  --help                 show this help
  --version              show the version
`

type Source = Record<string, unknown>

/** Thrown for a bad flag or value; the CLI prints it with a hint to `--help`. */
export class ConfigError extends Error {}

/** Builds the configuration from argv (without node and script), env and the config file. */
export function loadConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): CliConfig {
  const flags = parseFlags(argv)
  const fromEnv = readEnv(env)
  const file = (flags.config ?? fromEnv.config) as string | undefined
  const fromFile = file ? readConfigFile(file) : {}
  const pick = (key: string): unknown => flags[key] ?? fromEnv[key] ?? fromFile[key]
  const config: CliConfig = {
    port: integer(pick('port') ?? DEFAULT_PORT, 'port', 0, 65535),
    host: string(pick('host') ?? '::', 'host'),
    demo: pick('demo') === undefined ? true : bool(pick('demo'), 'demo'),
    keepAliveMs: integer(pick('keepAliveMs') ?? DEFAULTS.keepAliveMs, 'keep-alive', 1, 86_400_000),
    stallTimeoutMs: integer(
      pick('stallTimeoutMs') ?? DEFAULTS.stallTimeoutMs,
      'stall-timeout',
      1,
      86_400_000,
    ),
    maxBodyBytes: integer(pick('maxBodyBytes') ?? DEFAULTS.maxBodyBytes, 'max-body', 1, 1 << 30),
    corsOrigins: list(pick('corsOrigins')),
    mmsi: optional(pick('mmsi'), (v) => string(v, 'mmsi')),
    logLevel: string(pick('logLevel') ?? 'info', 'log-level'),
    replay: optional(pick('replay'), (v) => string(v, 'replay')),
    replayRate: optional(pick('replayRate'), (v) => integer(v, 'replay-rate', 1, 10_000_000)),
    loop: pick('loop') === undefined ? false : bool(pick('loop'), 'loop'),
    nmeaUdp: optional(pick('nmeaUdp'), (v) => integer(v, 'nmea-udp', 0, 65535)),
    nmeaTcp: list(pick('nmeaTcp')),
    dataDir: optional(pick('dataDir'), (v) => string(v, 'data-dir')),
    redis: optional(pick('redis'), (v) => string(v, 'redis')),
    help: flags.help === true,
    version: flags.version === true,
  }
  if (config.mmsi !== undefined && !/^\d{9}$/.test(config.mmsi)) {
    throw new ConfigError(`--mmsi must be 9 digits, got "${config.mmsi}"`)
  }
  for (const gateway of config.nmeaTcp) {
    if (!/^[^\s:]+:\d{1,5}$/.test(gateway))
      throw new ConfigError(`--nmea-tcp must be HOST:PORT, got "${gateway}"`)
  }
  return config
}

const VALUE_FLAGS: Record<string, string> = {
  '--port': 'port',
  '--host': 'host',
  '--config': 'config',
  '--keep-alive': 'keepAliveMs',
  '--stall-timeout': 'stallTimeoutMs',
  '--max-body': 'maxBodyBytes',
  '--mmsi': 'mmsi',
  '--replay': 'replay',
  '--replay-rate': 'replayRate',
  '--data-dir': 'dataDir',
  '--redis': 'redis',
  '--log-level': 'logLevel',
}
const LIST_FLAGS: Record<string, string> = {
  '--cors-origin': 'corsOrigins',
  '--nmea-tcp': 'nmeaTcp',
}

function parseFlags(argv: readonly string[]): Source {
  const out: Source = {}
  for (let i = 0; i < argv.length; i++) {
    const [flag = '', inline] = argv[i]!.split(/=(.*)/s, 2)
    const next = (): string => {
      if (inline !== undefined) return inline
      const value = argv[++i]
      if (value === undefined || value.startsWith('--'))
        throw new ConfigError(`${flag} needs a value`)
      return value
    }
    if (flag in VALUE_FLAGS) out[VALUE_FLAGS[flag]!] = next()
    else if (flag in LIST_FLAGS) {
      const key = LIST_FLAGS[flag]!
      out[key] = [...((out[key] as string[] | undefined) ?? []), next()]
    } else if (flag === '--no-demo') out.demo = false
    else if (flag === '--demo') out.demo = true
    else if (flag === '--loop') out.loop = true
    else if (flag === '--help' || flag === '-h') out.help = true
    else if (flag === '--version') out.version = true
    else if (flag === '--nmea-udp') {
      // The port is optional: take the next word only when it is a number.
      const value = inline ?? (/^\d+$/.test(argv[i + 1] ?? '') ? argv[++i] : undefined)
      out.nmeaUdp = value ?? DEFAULT_NMEA_UDP_PORT
    } else throw new ConfigError(`Unknown option "${argv[i]}"`)
  }
  return out
}

function readEnv(env: NodeJS.ProcessEnv): Source {
  const out: Source = {}
  const map: Record<string, string> = {
    PORT: 'port',
    HOST: 'host',
    KEELSON_CONFIG: 'config',
    KEELSON_KEEP_ALIVE_MS: 'keepAliveMs',
    KEELSON_STALL_TIMEOUT_MS: 'stallTimeoutMs',
    KEELSON_MAX_BODY: 'maxBodyBytes',
    KEELSON_MMSI: 'mmsi',
    KEELSON_REPLAY: 'replay',
    KEELSON_REPLAY_RATE: 'replayRate',
    KEELSON_LOOP: 'loop',
    KEELSON_NMEA_UDP: 'nmeaUdp',
    KEELSON_DATA_DIR: 'dataDir',
    KEELSON_REDIS: 'redis',
    LOG_LEVEL: 'logLevel',
  }
  for (const [name, key] of Object.entries(map)) if (env[name]) out[key] = env[name]
  if (env.KEELSON_NO_DEMO) out.demo = !bool(env.KEELSON_NO_DEMO, 'KEELSON_NO_DEMO')
  if (env.KEELSON_CORS_ORIGIN)
    out.corsOrigins = env.KEELSON_CORS_ORIGIN.split(',').map((s) => s.trim())
  if (env.KEELSON_NMEA_TCP) out.nmeaTcp = env.KEELSON_NMEA_TCP.split(',').map((s) => s.trim())
  return out
}

function readConfigFile(file: string): Source {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`Cannot read config file ${file}: ${(err as Error).message}`)
  }
  try {
    const value = JSON.parse(text) as unknown
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new Error('not a JSON object')
    return value as Source
  } catch (err) {
    throw new ConfigError(`Config file ${file} is not valid: ${(err as Error).message}`)
  }
}

function integer(value: unknown, name: string, min: number, max: number): number {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d+$/.test(value)
        ? Number(value)
        : Number.NaN
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(
      `--${name} must be a whole number from ${min} to ${max}, got "${String(value)}"`,
    )
  }
  return n
}

function string(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '')
    throw new ConfigError(`--${name} must be a non-empty string`)
  return value
}

function bool(value: unknown, name: string): boolean {
  if (typeof value === 'boolean') return value
  if (value === '1' || value === 'true') return true
  if (value === '0' || value === 'false') return false
  throw new ConfigError(`${name} must be true or false, got "${String(value)}"`)
}

function list(value: unknown): string[] {
  if (value === undefined) return []
  if (Array.isArray(value)) return value.map(String)
  return [String(value)]
}

function optional<T>(value: unknown, parse: (value: unknown) => T): T | undefined {
  return value === undefined ? undefined : parse(value)
}
