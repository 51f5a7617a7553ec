import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ConfigError, HELP, loadConfig } from '../src/config.js'
import { DEFAULT_NMEA_UDP_PORT, DEFAULT_PORT, DEFAULTS } from '../src/options.js'

const dir = mkdtempSync(join(tmpdir(), 'keelson-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let files = 0
/** A config file holding `content` (JSON.stringify'd unless a string). */
function configFile(content: unknown): string {
  const file = join(dir, `config-${++files}.json`)
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content))
  return file
}

/** The ConfigError that `load` throws. */
function refusal(load: () => unknown): ConfigError {
  try {
    load()
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return err as ConfigError
  }
  throw new Error('expected a ConfigError')
}

/** Every limit of KeelsonOptions: flag, variable, config key, a good value as text and as read, and bad ones. */
const LIMITS = [
  ['--max-depth', 'KEELSON_MAX_DEPTH', 'maxDepth', '12', 12, ['0', '1001', 'deep', '-1', '1.5']],
  ['--history-size', 'KEELSON_HISTORY_SIZE', 'historySize', '500', 500, ['0', '1000001', 'x']],
  [
    '--history-bytes',
    'KEELSON_HISTORY_BYTES',
    'historyBytes',
    '2MiB',
    2 * 1024 * 1024,
    ['1023', '65GiB', '10MB', 'lots'],
  ],
  [
    '--max-subscriptions',
    'KEELSON_MAX_SUBSCRIPTIONS',
    'maxSubscriptions',
    '20',
    20,
    ['0', '1000001', 'many'],
  ],
  ['--high-water', 'KEELSON_HIGH_WATER', 'highWaterBytes', '4096', 4096, ['0', '2GiB', '4k']],
  [
    '--max-connection-bytes',
    'KEELSON_MAX_CONNECTION_BYTES',
    'maxConnectionBytes',
    '16MiB',
    16 * 1024 * 1024,
    ['0', '2GiB', 'big'],
  ],
  ['--max-body', 'KEELSON_MAX_BODY', 'maxBodyBytes', '2048', 2048, ['0', '2GiB', '1.5']],
  ['--keep-alive', 'KEELSON_KEEP_ALIVE_MS', 'keepAliveMs', '5000', 5000, ['0', '86400001', 'x']],
  [
    '--stall-timeout',
    'KEELSON_STALL_TIMEOUT_MS',
    'stallTimeoutMs',
    '9000',
    9000,
    ['0', '86400001', '1s'],
  ],
  [
    '--max-connections',
    'KEELSON_MAX_CONNECTIONS',
    'maxConnections',
    '500',
    500,
    ['0', '10000001', 'lots'],
  ],
  [
    '--max-connections-per-ip',
    'KEELSON_MAX_CONNECTIONS_PER_IP',
    'maxConnectionsPerIp',
    '5',
    5,
    ['0', '10000001', '1.5'],
  ],
  [
    '--max-login-attempts',
    'KEELSON_MAX_LOGIN_ATTEMPTS',
    'maxLoginAttempts',
    '10',
    10,
    ['0', '1000001', 'many'],
  ],
  [
    '--login-window',
    'KEELSON_LOGIN_WINDOW_MS',
    'loginWindowMs',
    '60000',
    60000,
    ['999', '86400001', '10m'],
  ],
] as const

describe('loadConfig', () => {
  it('takes every default from src/options.ts', () => {
    const config = loadConfig([], {})
    expect(config).toMatchObject({
      port: DEFAULT_PORT,
      keepAliveMs: DEFAULTS.keepAliveMs,
      stallTimeoutMs: DEFAULTS.stallTimeoutMs,
      maxBodyBytes: DEFAULTS.maxBodyBytes,
      maxDepth: DEFAULTS.maxDepth,
      historySize: DEFAULTS.historySize,
      historyBytes: DEFAULTS.historyBytes,
      maxSubscriptions: DEFAULTS.maxSubscriptions,
      highWaterBytes: DEFAULTS.highWaterBytes,
      maxConnectionBytes: DEFAULTS.maxConnectionBytes,
      detachStreams: DEFAULTS.detachStreams,
      maxConnections: DEFAULTS.maxConnections,
      maxConnectionsPerIp: DEFAULTS.maxConnectionsPerIp,
      maxLoginAttempts: DEFAULTS.maxLoginAttempts,
      loginWindowMs: DEFAULTS.loginWindowMs,
      corsOrigins: DEFAULTS.corsOrigins,
      hostNames: DEFAULTS.hostNames,
      trustProxy: DEFAULTS.trustProxy,
      demo: true,
      loop: false,
      nmeaTcp: [],
      help: false,
      version: false,
    })
    expect(config.host).toBeUndefined()
    expect(config.nmeaUdp).toBeUndefined()
    expect(config.logLevel).toBeUndefined()
  })

  it('takes a flag over an environment variable, that over the config file, that over the default', () => {
    const file = configFile({ port: 4001, maxDepth: 30, historySize: 300, mmsi: '230000003' })
    const env = { KEELSON_CONFIG: file, PORT: '4002', KEELSON_MAX_DEPTH: '20' }
    const config = loadConfig(['--port', '4003'], env)
    expect(config).toMatchObject({
      config: file,
      port: 4003,
      maxDepth: 20,
      historySize: 300,
      mmsi: '230000003',
      maxSubscriptions: DEFAULTS.maxSubscriptions,
    })
    expect(loadConfig(['--config', file], { PORT: '4002' })).toMatchObject({ port: 4002 })
    expect(loadConfig(['--config', file], {})).toMatchObject({ port: 4001 })
  })

  it('reads --config over KEELSON_CONFIG', () => {
    const mine = configFile({ maxDepth: 11 })
    const theirs = configFile({ maxDepth: 22 })
    expect(loadConfig(['--config', mine], { KEELSON_CONFIG: theirs }).maxDepth).toBe(11)
  })

  it.each(LIMITS)('reads %s, %s and the "%s" key', (flag, env, key, text, value) => {
    expect(loadConfig([flag, text], {})[key]).toBe(value)
    expect(loadConfig([`${flag}=${text}`], {})[key]).toBe(value)
    expect(loadConfig([], { [env]: text })[key]).toBe(value)
    expect(loadConfig(['--config', configFile({ [key]: text })], {})[key]).toBe(value)
    expect(loadConfig(['--config', configFile({ [key]: value })], {})[key]).toBe(value)
  })

  it.each(LIMITS)(
    'refuses %s out of bounds or not a number, naming the flag',
    (flag, env, key, _text, _value, bad) => {
      for (const text of bad) {
        expect(refusal(() => loadConfig([`${flag}=${text}`], {})).message).toMatch(
          new RegExp(`^${flag} must be .*, got "${text}"`),
        )
        expect(refusal(() => loadConfig([], { [env]: text })).message).toContain(`${env} (${flag})`)
        const file = configFile({ [key]: text })
        expect(refusal(() => loadConfig(['--config', file], {})).message).toContain(
          `"${key}" in ${file} (${flag})`,
        )
      }
    },
  )

  it('reads byte sizes as whole numbers or with a KiB, MiB or GiB suffix', () => {
    const read = (text: string) => loadConfig(['--history-bytes', text], {}).historyBytes
    expect(read('1048576')).toBe(1024 ** 2)
    expect(read('1KiB')).toBe(1024)
    expect(read('64MiB')).toBe(64 * 1024 ** 2)
    expect(read('2 gib')).toBe(2 * 1024 ** 3)
    expect(refusal(() => read('64MB')).message).toMatch(/KiB, MiB or GiB suffix/)
  })

  it('refuses a high-water mark above the most a connection may queue', () => {
    const message = refusal(() =>
      loadConfig(['--high-water', '2MiB', '--max-connection-bytes', '1MiB'], {}),
    ).message
    expect(message).toContain('--high-water')
    expect(message).toContain('--max-connection-bytes')
    expect(
      loadConfig(['--high-water', '1MiB', '--max-connection-bytes', '1MiB'], {}),
    ).toMatchObject({ highWaterBytes: 1024 ** 2, maxConnectionBytes: 1024 ** 2 })
  })

  it('turns detaching off with --no-detach, KEELSON_NO_DETACH=1 or "detachStreams": false', () => {
    expect(loadConfig(['--no-detach'], {}).detachStreams).toBe(false)
    expect(loadConfig([], { KEELSON_NO_DETACH: '1' }).detachStreams).toBe(false)
    expect(loadConfig([], { KEELSON_NO_DETACH: '0' }).detachStreams).toBe(true)
    const file = configFile({ detachStreams: false })
    expect(loadConfig(['--config', file], {}).detachStreams).toBe(false)
    expect(loadConfig(['--config', file, '--detach'], {}).detachStreams).toBe(true)
    expect(refusal(() => loadConfig([], { KEELSON_NO_DETACH: 'yes' })).message).toContain(
      'KEELSON_NO_DETACH (--no-detach)',
    )
  })

  it('lets the last of --demo and --no-demo win, over KEELSON_NO_DEMO', () => {
    expect(loadConfig(['--no-demo'], {}).demo).toBe(false)
    expect(loadConfig(['--no-demo', '--demo'], {}).demo).toBe(true)
    expect(loadConfig(['--demo', '--no-demo'], {}).demo).toBe(false)
    expect(loadConfig([], { KEELSON_NO_DEMO: '1' }).demo).toBe(false)
    expect(loadConfig(['--demo'], { KEELSON_NO_DEMO: '1' }).demo).toBe(true)
    expect(loadConfig(['--config', configFile({ demo: false })], {}).demo).toBe(false)
  })

  it('reads --loop, KEELSON_LOOP=1 and "loop": true', () => {
    expect(loadConfig(['--loop'], {}).loop).toBe(true)
    expect(loadConfig([], { KEELSON_LOOP: '1' }).loop).toBe(true)
    expect(loadConfig(['--config', configFile({ loop: true })], {}).loop).toBe(true)
  })

  it('reads --host-name repeated, KEELSON_HOST_NAMES as a comma list and "hostNames" as an array', () => {
    expect(
      loadConfig(['--host-name', 'boat.local', '--host-name=Nav.Example'], {}).hostNames,
    ).toEqual(['boat.local', 'nav.example'])
    expect(loadConfig([], { KEELSON_HOST_NAMES: 'boat.local, 192.168.1.5,,' }).hostNames).toEqual([
      'boat.local',
      '192.168.1.5',
    ])
    const file = configFile({ hostNames: ['[fe80::1]', 'boat'] })
    expect(loadConfig(['--config', file], {}).hostNames).toEqual(['[fe80::1]', 'boat'])
    expect(refusal(() => loadConfig(['--host-name', 'boat.local:3000'], {})).message).toMatch(
      /^--host-name must be a host name without a port/,
    )
  })

  it('reads --trust-proxy repeated or as a comma list, KEELSON_TRUST_PROXY and "trustProxy" as express takes them', () => {
    expect(DEFAULTS.trustProxy).toEqual([])
    expect(
      loadConfig(['--trust-proxy', 'loopback', '--trust-proxy=10.0.0.0/8, fd00::1'], {}).trustProxy,
    ).toEqual(['loopback', '10.0.0.0/8', 'fd00::1'])
    expect(
      loadConfig([], { KEELSON_TRUST_PROXY: '192.168.1.5, uniquelocal,,' }).trustProxy,
    ).toEqual(['192.168.1.5', 'uniquelocal'])
    const file = configFile({ trustProxy: ['linklocal', '10.0.0.0/255.0.0.0'] })
    expect(loadConfig(['--config', file], {}).trustProxy).toEqual([
      'linklocal',
      '10.0.0.0/255.0.0.0',
    ])
  })

  it('refuses a --trust-proxy that express would not take, naming the entry', () => {
    for (const [bad, entry] of [
      ['localhost', 'localhost'],
      ['loopback,10.0.0.300', '10.0.0.300'],
      ['10.0.0.0/33', '10.0.0.0/33'],
      ['true', 'true'],
      ['1', '1'],
      ['*', '*'],
    ] as const) {
      const err = refusal(() => loadConfig(['--trust-proxy', bad], {}))
      expect(err.message).toMatch(/^--trust-proxy must be loopback, linklocal, uniquelocal, an IP/)
      expect(err.message).toContain(entry)
    }
    const huge = refusal(() => loadConfig([], { KEELSON_TRUST_PROXY: 'x'.repeat(100_000) }))
    expect(huge.message).toMatch(/^KEELSON_TRUST_PROXY \(--trust-proxy\) must be/)
    expect(huge.message.length).toBeLessThan(400)
    for (const raw of [true, 1, 'loopback', [['loopback']], [{}]]) {
      const file = configFile({ trustProxy: raw })
      const load = () => loadConfig(['--config', file], {})
      if (raw === 'loopback') expect(load().trustProxy).toEqual(['loopback'])
      else expect(refusal(load).message).toMatch(/"trustProxy" in .* must be/)
    }
  })

  it('reads --cors-origin and --nmea-tcp repeated, and their variables as comma lists', () => {
    const config = loadConfig(
      [
        '--cors-origin',
        'https://a.example',
        '--cors-origin=http://b.example:8080',
        '--nmea-tcp',
        '10.0.0.1:10110',
        '--nmea-tcp',
        'gw:2000',
      ],
      {},
    )
    expect(config.corsOrigins).toEqual(['https://a.example', 'http://b.example:8080'])
    expect(config.nmeaTcp).toEqual(['10.0.0.1:10110', 'gw:2000'])
    const fromEnv = loadConfig([], {
      KEELSON_CORS_ORIGIN: 'https://a.example, https://b.example',
      KEELSON_NMEA_TCP: 'gw:1,gw:2',
    })
    expect(fromEnv.corsOrigins).toEqual(['https://a.example', 'https://b.example'])
    expect(fromEnv.nmeaTcp).toEqual(['gw:1', 'gw:2'])
  })

  it('refuses a CORS origin with a path, suggesting the origin', () => {
    expect(refusal(() => loadConfig(['--cors-origin', 'https://a.example/'], {})).message).toBe(
      '--cors-origin must be an origin like https://chart.example:8443 (no path), got "https://a.example/"; did you mean "https://a.example"?',
    )
  })

  it('refuses an NMEA TCP gateway that is not HOST:PORT', () => {
    expect(refusal(() => loadConfig(['--nmea-tcp', 'gw'], {})).message).toBe(
      '--nmea-tcp must be HOST:PORT, got "gw"',
    )
    expect(refusal(() => loadConfig(['--nmea-tcp', 'gw:70000'], {})).message).toMatch(
      /--nmea-tcp must be a whole number from 0 to 65535/,
    )
  })

  it('listens for NMEA over UDP on port 10110 with --nmea-udp alone, on the port given after it or with =', () => {
    expect(loadConfig(['--nmea-udp'], {}).nmeaUdp).toBe(DEFAULT_NMEA_UDP_PORT)
    expect(loadConfig(['--nmea-udp', '10111'], {}).nmeaUdp).toBe(10111)
    expect(loadConfig(['--nmea-udp=10111'], {}).nmeaUdp).toBe(10111)
    expect(loadConfig(['--nmea-udp', '0'], {}).nmeaUdp).toBe(0)
    expect(loadConfig([], { KEELSON_NMEA_UDP: '2000' }).nmeaUdp).toBe(2000)
    expect(loadConfig(['--config', configFile({ nmeaUdp: 2001 })], {}).nmeaUdp).toBe(2001)
  })

  it('leaves the word after --nmea-udp to the next option when it is not a port', () => {
    const config = loadConfig(['--nmea-udp', '--loop', '--port', '4000'], {})
    expect(config).toMatchObject({ nmeaUdp: DEFAULT_NMEA_UDP_PORT, loop: true, port: 4000 })
    expect(loadConfig(['--port', '4000', '--nmea-udp'], {}).nmeaUdp).toBe(DEFAULT_NMEA_UDP_PORT)
    expect(refusal(() => loadConfig(['--nmea-udp=70000'], {})).message).toMatch(/^--nmea-udp must/)
    expect(refusal(() => loadConfig(['--nmea-udp', 'x'], {})).message).toBe('unknown command "x"')
  })

  it('refuses an unknown option, naming it', () => {
    expect(refusal(() => loadConfig(['--bogus'], {})).message).toBe('unknown option "--bogus"')
    expect(refusal(() => loadConfig(['--port', '1', '--bogus=2'], {})).message).toBe(
      'unknown option "--bogus"',
    )
    expect(refusal(() => loadConfig(['-x'], {})).message).toBe('unknown option "-x"')
  })

  it('refuses a missing value, a value on a switch and a stray word', () => {
    expect(refusal(() => loadConfig(['--max-depth'], {})).message).toBe('--max-depth needs a value')
    expect(refusal(() => loadConfig(['--replay', '--loop'], {})).message).toBe(
      '--replay needs a value',
    )
    expect(refusal(() => loadConfig(['--port', '-1'], {})).message).toMatch(
      /^--port needs a value \(write --port=-1/,
    )
    expect(refusal(() => loadConfig(['--loop=yes'], {})).message).toBe(
      '--loop takes no value, got "yes"',
    )
    expect(refusal(() => loadConfig(['serve'], {})).message).toBe('unknown command "serve"')
  })

  it('refuses a config file that is missing, not JSON, not an object, or has an unknown key', () => {
    expect(refusal(() => loadConfig(['--config', join(dir, 'nope.json')], {})).message).toMatch(
      /^cannot read the config file/,
    )
    expect(refusal(() => loadConfig(['--config', configFile('{port:')], {})).message).toMatch(
      /is not valid JSON/,
    )
    expect(refusal(() => loadConfig(['--config', configFile([1])], {})).message).toMatch(
      /must hold a JSON object/,
    )
    const file = configFile({ maxDepht: 3 })
    expect(refusal(() => loadConfig(['--config', file], {})).message).toMatch(
      new RegExp(`^"maxDepht" in ${file} is not an option`),
    )
  })

  it('refuses an MMSI that is not 9 digits and an unknown log level', () => {
    expect(refusal(() => loadConfig(['--mmsi', '12345'], {})).message).toBe(
      '--mmsi must be 9 digits, got "12345"',
    )
    expect(refusal(() => loadConfig([], { LOG_LEVEL: 'loud' })).message).toMatch(
      /^LOG_LEVEL \(--log-level\) must be one of .*info/,
    )
    expect(loadConfig(['--log-level', 'silent'], {}).logLevel).toBe('silent')
  })

  it('reads --data-dir and --redis (the CLI refuses them), --help, -h and --version', () => {
    expect(loadConfig(['--data-dir', '/var/keelson', '--redis', 'redis://r'], {})).toMatchObject({
      dataDir: '/var/keelson',
      redis: 'redis://r',
    })
    expect(loadConfig(['--help'], {}).help).toBe(true)
    expect(loadConfig(['-h'], {}).help).toBe(true)
    expect(loadConfig(['--version'], {}).version).toBe(true)
  })
})

/** Every flag, environment variable and config key the CLI has. */
const FLAGS = [
  ['--port', 'PORT', 'port'],
  ['--host', 'HOST', 'host'],
  ['--config', 'KEELSON_CONFIG', undefined],
  ['--no-demo', 'KEELSON_NO_DEMO', 'demo'],
  ['--keep-alive', 'KEELSON_KEEP_ALIVE_MS', 'keepAliveMs'],
  ['--stall-timeout', 'KEELSON_STALL_TIMEOUT_MS', 'stallTimeoutMs'],
  ['--max-body', 'KEELSON_MAX_BODY', 'maxBodyBytes'],
  ['--max-depth', 'KEELSON_MAX_DEPTH', 'maxDepth'],
  ['--history-size', 'KEELSON_HISTORY_SIZE', 'historySize'],
  ['--history-bytes', 'KEELSON_HISTORY_BYTES', 'historyBytes'],
  ['--max-subscriptions', 'KEELSON_MAX_SUBSCRIPTIONS', 'maxSubscriptions'],
  ['--high-water', 'KEELSON_HIGH_WATER', 'highWaterBytes'],
  ['--max-connection-bytes', 'KEELSON_MAX_CONNECTION_BYTES', 'maxConnectionBytes'],
  ['--no-detach', 'KEELSON_NO_DETACH', 'detachStreams'],
  ['--max-connections', 'KEELSON_MAX_CONNECTIONS', 'maxConnections'],
  ['--max-connections-per-ip', 'KEELSON_MAX_CONNECTIONS_PER_IP', 'maxConnectionsPerIp'],
  ['--max-time-travel', 'KEELSON_MAX_TIME_TRAVEL', 'maxTimeTravel'],
  ['--max-login-attempts', 'KEELSON_MAX_LOGIN_ATTEMPTS', 'maxLoginAttempts'],
  ['--login-window', 'KEELSON_LOGIN_WINDOW_MS', 'loginWindowMs'],
  ['--tls-cert', 'KEELSON_TLS_CERT', 'tlsCert'],
  ['--tls-key', 'KEELSON_TLS_KEY', 'tlsKey'],
  ['--cors-origin', 'KEELSON_CORS_ORIGIN', 'corsOrigins'],
  ['--host-name', 'KEELSON_HOST_NAMES', 'hostNames'],
  ['--trust-proxy', 'KEELSON_TRUST_PROXY', 'trustProxy'],
  ['--mmsi', 'KEELSON_MMSI', 'mmsi'],
  ['--security', 'KEELSON_SECURITY', 'securityFile'],
  ['--state-dir', 'KEELSON_STATE_DIR', 'stateDir'],
  ['--fleet', 'KEELSON_FLEET', 'fleetFile'],
  ['--ping-interval', 'KEELSON_PING_INTERVAL_MS', 'pingIntervalMs'],
  ['--pong-timeout', 'KEELSON_PONG_TIMEOUT_MS', 'pongTimeoutMs'],
  ['--replay', 'KEELSON_REPLAY', 'replay'],
  ['--replay-rate', 'KEELSON_REPLAY_RATE', 'replayRate'],
  ['--loop', 'KEELSON_LOOP', 'loop'],
  ['--nmea-udp', 'KEELSON_NMEA_UDP', 'nmeaUdp'],
  ['--nmea-tcp', 'KEELSON_NMEA_TCP', 'nmeaTcp'],
  ['--log-level', 'LOG_LEVEL', 'logLevel'],
  ['--data-dir', 'KEELSON_DATA_DIR', 'dataDir'],
  ['--journal', 'KEELSON_JOURNAL', 'journal'],
  ['--retention', 'KEELSON_RETENTION', 'retentionMs'],
  ['--redis', 'KEELSON_REDIS', 'redis'],
  ['--help', undefined, undefined],
  ['--version', undefined, undefined],
] as const

describe('--help', () => {
  it('lists every flag with its environment variable and config key', () => {
    for (const [flag, env, key] of FLAGS) {
      expect(HELP).toMatch(new RegExp(`^  ${flag}\\b`, 'm'))
      if (env) expect(HELP).toMatch(new RegExp(`env ${env}\\b`))
      if (key) expect(HELP).toMatch(new RegExp(`key ${key}$`, 'm'))
    }
    const listed = HELP.match(/^ {2}--[a-z-]+/gm)?.map((line) => line.trim())
    expect(listed?.sort()).toEqual(FLAGS.map(([flag]) => flag).sort())
  })

  it('shows the defaults of src/options.ts', () => {
    expect(HELP).toContain(`(default ${DEFAULT_PORT})`)
    expect(HELP).toContain(`(default ${DEFAULTS.maxDepth})`)
    expect(HELP).toContain('(default 64 MiB)')
    expect(HELP).toContain(`port ${DEFAULT_NMEA_UDP_PORT} when none is given`)
  })
})

describe('the README', () => {
  it('names every flag, environment variable and config key in its Configuration table', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    const section = readme.slice(readme.indexOf('## Configuration'))
    const table = section.slice(0, section.indexOf('\n## '))
    for (const [flag, env, key] of FLAGS) {
      expect(table).toContain(`\`${flag}`)
      if (env) expect(table).toContain(`\`${env}`)
      if (key) expect(table).toContain(`\`${key}\``)
    }
  })
})
