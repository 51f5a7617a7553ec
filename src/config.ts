/**
 * The CLI's configuration (SPEC §10): flags, then environment variables,
 * then a JSON config file (`--config FILE`, camelCase keys), then the
 * defaults of `src/options.ts`. The options themselves are the table of
 * src/cli/settings.ts; `--help` prints {@link HELP}.
 */
import { readFileSync } from 'node:fs'
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { type CliSettings, OPTIONS, type OptionDef } from './cli/settings.js'
import { boolean, ConfigError, formatBytes } from './cli/values.js'

export type { CliSettings } from './cli/settings.js'
export { ConfigError } from './cli/values.js'

/** Everything the CLI can be told. */
export interface CliConfig extends CliSettings {
  /** The config file that was read, if any (`--config`, `KEELSON_CONFIG`). */
  config?: string
  /** `--help` / `-h` was given. */
  help: boolean
  /** `--version` was given. */
  version: boolean
}

type Key = keyof CliSettings
const KEYS = Object.keys(OPTIONS) as Key[]

/** A value found for an option, with the name of its source for errors. */
interface Found {
  raw: unknown
  name: string
}

/** parseArgs' view of the options: the settings' flags plus `--config`, `--help`, `--version`. */
const PARSE_OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
}
for (const key of KEYS) {
  const { flag, shape } = OPTIONS[key]
  if (shape === 'on' || shape === 'off') PARSE_OPTIONS[flag] = { type: 'boolean' }
  else PARSE_OPTIONS[flag] = { type: 'string', multiple: shape === 'list' }
  if (shape === 'off') PARSE_OPTIONS[`no-${flag}`] = { type: 'boolean' }
}

/**
 * Builds the configuration from `argv` (the words after `keelson`), `env`
 * and the config file they name. Throws {@link ConfigError} for an unknown
 * option, a stray word, a missing or bad value.
 */
export function loadConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): CliConfig {
  const args = withBareValues(argv)
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(args, true)
  } catch (err) {
    throw new ConfigError(explainParseError(args, err as Error))
  }
  const { values, positionals } = parsed
  if (positionals.length > 0) throw new ConfigError(`unknown command "${positionals[0]}"`)

  const file = (values.config as string | undefined) ?? (env.KEELSON_CONFIG || undefined)
  const sources = [fromFlags(parsed), fromEnv(env), file ? fromFile(file) : {}]
  const settings: Record<string, unknown> = {}
  for (const key of KEYS) {
    const option = OPTIONS[key] as OptionDef<unknown>
    const found = sources.find((source) => source[key] !== undefined)?.[key]
    settings[key] = found ? option.read(found.raw, found.name) : option.fallback
  }
  const config = {
    ...(settings as unknown as CliSettings),
    config: file,
    help: values.help === true,
    version: values.version === true,
  }
  if (config.highWaterBytes > config.maxConnectionBytes) {
    throw new ConfigError(
      `--high-water (${formatBytes(config.highWaterBytes)}) must not be more than ` +
        `--max-connection-bytes (${formatBytes(config.maxConnectionBytes)})`,
    )
  }
  return config
}

function parse(args: string[], strict: boolean) {
  return parseArgs({ args, options: PARSE_OPTIONS, strict, allowPositionals: true, tokens: true })
}

/** `--nmea-udp` alone becomes `--nmea-udp=10110`; `--nmea-udp 10111` becomes `--nmea-udp=10111`. */
function withBareValues(argv: readonly string[]): string[] {
  const bare = new Map<string, number>()
  for (const key of KEYS) {
    const { flag, bare: value } = OPTIONS[key]
    if (value !== undefined) bare.set(`--${flag}`, value)
  }
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') {
      out.push(...argv.slice(i))
      break
    }
    const value = bare.get(arg)
    if (value === undefined) out.push(arg)
    else if (/^\d+$/.test(argv[i + 1] ?? '')) out.push(`${arg}=${argv[++i]}`)
    else out.push(`${arg}=${value}`)
  }
  return out
}

/** Says which word parseArgs refused and why, in keelson's words (parseArgs' messages are not an interface). */
function explainParseError(args: string[], err: Error): string {
  const { tokens } = parse(args, false)
  for (const token of tokens) {
    if (token.kind !== 'option') continue
    const type = PARSE_OPTIONS[token.name]?.type
    if (type === undefined) return `unknown option "${token.rawName}"`
    if (type === 'boolean' && token.value !== undefined) {
      return `${token.rawName} takes no value, got "${token.value}"`
    }
    if (type === 'string' && (token.value === undefined || !token.inlineValue)) {
      if (token.value === undefined) return `${token.rawName} needs a value`
      if (token.value.startsWith('-')) {
        if (isOption(token.value)) return `${token.rawName} needs a value`
        return `${token.rawName} needs a value (write ${token.rawName}=${token.value} for a value that starts with "-")`
      }
    }
  }
  return err.message
}

/** True when `word` is one of keelson's options (`--loop`, `--port=1`, `-h`). */
function isOption(word: string): boolean {
  const [name = ''] = word.split('=', 1)
  if (name.startsWith('--')) return Object.hasOwn(PARSE_OPTIONS, name.slice(2))
  return Object.values(PARSE_OPTIONS).some((option) => `-${option.short}` === name)
}

type Source = Partial<Record<Key, Found>>

function fromFlags({ values, tokens }: ReturnType<typeof parse>): Source {
  const out: Source = {}
  for (const key of KEYS) {
    const { flag, shape } = OPTIONS[key]
    if (shape === 'off') {
      // The last of --demo and --no-demo wins.
      for (const token of tokens) {
        if (token.kind === 'option' && (token.name === flag || token.name === `no-${flag}`)) {
          out[key] = { raw: token.name === flag, name: token.rawName }
        }
      }
    } else if (values[flag] !== undefined) {
      out[key] = { raw: values[flag], name: `--${flag}` }
    }
  }
  return out
}

function fromEnv(env: NodeJS.ProcessEnv): Source {
  const out: Source = {}
  for (const key of KEYS) {
    const { env: variable, flag, shape } = OPTIONS[key]
    const value = env[variable]
    if (value === undefined || value === '') continue
    const name = `${variable} (--${shape === 'off' ? 'no-' : ''}${flag})`
    if (shape === 'list') {
      const raw = value
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '')
      out[key] = { raw, name }
    } else if (shape === 'off') out[key] = { raw: !boolean(value, name), name }
    else out[key] = { raw: value, name }
  }
  return out
}

function fromFile(file: string): Source {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read the config file ${file}: ${(err as Error).message}`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`the config file ${file} is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`the config file ${file} must hold a JSON object`)
  }
  const out: Source = {}
  for (const [key, raw] of Object.entries(value)) {
    if (!Object.hasOwn(OPTIONS, key)) {
      throw new ConfigError(
        `"${key}" in ${file} is not an option; the keys are listed by keelson --help (e.g. "maxDepth")`,
      )
    }
    const { flag, shape } = OPTIONS[key as Key]
    out[key as Key] = {
      raw,
      name: `"${key}" in ${file} (--${shape === 'off' ? 'no-' : ''}${flag})`,
    }
  }
  return out
}

function helpText(): string {
  const rows: [string, string, string?][] = [
    ['--config FILE', 'JSON config file; its keys are shown below', 'env KEELSON_CONFIG'],
  ]
  for (const key of KEYS) {
    const { flag, arg, env, help, shape } = OPTIONS[key]
    const name = shape === 'off' ? `--no-${flag}` : `--${flag}`
    const envText =
      shape === 'list' ? `${env} (comma-separated)` : shape === undefined ? env : `${env}=1`
    rows.push([arg ? `${name} ${arg}` : name, help, `env ${envText}, key ${key}`])
  }
  rows.push(['--help, -h', 'show this help'], ['--version', 'show the version'])
  const width = Math.max(...rows.map(([left]) => left.length)) + 2
  const pad = ' '.repeat(width + 2)
  const lines = rows.map(
    ([left, help, where]) => `  ${left.padEnd(width)}${help}${where ? `\n${pad}${where}` : ''}`,
  )
  return `keelson — live state server for boats and fleets (Signal K tree over REST, SSE and WebSocket)

Usage: keelson [options]        (from a clone: npm start -- [options])

Every option is also an environment variable and a key of the JSON config file
(--config FILE). Flags win over the environment, the environment over the file,
the file over the defaults. BYTES is a whole number of bytes, or one with a KiB,
MiB or GiB suffix (64MiB). A --no-X switch has a --X form that turns it back on.

Options:
${lines.join('\n')}
`
}

/** `keelson --help`: every option, its variable, its config key and its default. */
export const HELP = helpText()
