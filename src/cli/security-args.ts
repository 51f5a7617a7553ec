/**
 * What the `keelson user ...` and `keelson access ...` commands (SPEC §8)
 * share: their options (`--security FILE`, `--state-dir DIR`, the same
 * environment variables as the server's, from src/cli/settings.ts), their
 * `--help`, and opening the security file for one change, unwatched.
 * The security modules are loaded only when a command runs, so `keelson
 * --help` does not compile them.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { KeelsonError } from '../core/errors.js'
import type { SecurityStore } from '../security/store.js'
import type { UserType } from '../security/types.js'
import { OPTIONS } from './settings.js'
import { ConfigError, oneOf } from './values.js'

/** A parsed command line of a security command. */
export interface SecurityArgs {
  /** The words that are not options (`alice` of `user add alice`). */
  words: string[]
  /** `--type`, checked, when the command takes it and it was given. */
  type?: UserType
  /** `--help` or `-h` was given: print the usage, do nothing else. */
  help: boolean
  /** `--security` (or its variable), if given. */
  securityFile?: string
  /** `--state-dir` (or its variable), if given. */
  stateDir?: string
}

/** How a security command is called. */
export interface SecurityUsage {
  /** The command's words, `user add`. */
  name: string
  /** Its positional words, `NAME`. */
  words: string[]
  /** Whether it takes `--type TYPE`. */
  type?: 'required' | 'optional'
  /** What it does, for `--help`. */
  description: string
}

const readType = oneOf(['readonly', 'readwrite', 'admin']) as (
  raw: unknown,
  name: string,
) => UserType

/** The `--help` of one security command. */
export function usageOf(usage: SecurityUsage): string {
  const type = usage.type === 'required' ? ' --type TYPE' : usage.type ? ' [--type TYPE]' : ''
  const lines = [
    `Usage: keelson ${usage.name}${usage.words.map((w) => ` ${w}`).join('')}${type} [--security FILE | --data-dir DIR | --state-dir DIR]`,
    '',
    usage.description,
    '',
    'Options:',
  ]
  if (usage.type) lines.push('  --type TYPE        readonly, readwrite or admin')
  lines.push(
    `  --security FILE    ${OPTIONS.securityFile.help} (env ${OPTIONS.securityFile.env})`,
    `  --data-dir DIR     the server's --data-dir: its security file is there (env ${OPTIONS.dataDir.env})`,
    `  --state-dir DIR    ${OPTIONS.stateDir.help} (env ${OPTIONS.stateDir.env})`,
    '  --help, -h         show this help',
  )
  return `${lines.join('\n')}\n`
}

/**
 * Reads the arguments of a security command; throws {@link ConfigError} for
 * an unknown option, a missing or extra word, a bad `--type`.
 */
export function readSecurityArgs(
  args: readonly string[],
  usage: SecurityUsage,
  env: NodeJS.ProcessEnv = process.env,
): SecurityArgs {
  const options: NonNullable<ParseArgsConfig['options']> = {
    security: { type: 'string' },
    'state-dir': { type: 'string' },
    'data-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  }
  if (usage.type) options.type = { type: 'string' }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true })
  } catch (err) {
    const option = /'(-[^' ]*)/.exec((err as Error).message)?.[1]
    if (option?.startsWith('--password')) {
      throw new ConfigError(
        `keelson ${usage.name} never takes a password as an option (it would stay in the shell history): ` +
          'give it on the first line of stdin, or run on a terminal to be asked',
      )
    }
    throw new ConfigError(
      option
        ? `keelson ${usage.name}: unknown or incomplete option "${option}" (see keelson ${usage.name} --help)`
        : `keelson ${usage.name}: ${(err as Error).message}`,
    )
  }
  const { values, positionals } = parsed
  const help = values.help === true
  const given = (
    flag: 'security' | 'state-dir' | 'data-dir',
    key: 'securityFile' | 'stateDir' | 'dataDir',
  ) => {
    const option = OPTIONS[key]
    const raw = values[flag] ?? (env[option.env] || undefined)
    if (raw === undefined) return undefined
    return option.read(raw, values[flag] !== undefined ? `--${flag}` : option.env)
  }
  const securityFile = given('security', 'securityFile')
  // As the server: with a data dir, the security file lives there (SPEC §9).
  const stateDir = given('data-dir', 'dataDir') ?? given('state-dir', 'stateDir')
  const where = {
    ...(securityFile !== undefined && { securityFile }),
    ...(stateDir !== undefined && { stateDir }),
  }
  if (help) return { words: positionals, help, ...where }
  if (positionals.length !== usage.words.length) {
    const expected = usage.words.length === 0 ? 'no words' : usage.words.join(' ')
    throw new ConfigError(
      positionals.length < usage.words.length
        ? `keelson ${usage.name} needs ${expected} (see keelson ${usage.name} --help)`
        : `keelson ${usage.name} takes ${expected}, got an extra "${positionals[usage.words.length]}"`,
    )
  }
  const raw = values.type
  if (usage.type === 'required' && raw === undefined) {
    throw new ConfigError(
      `keelson ${usage.name} needs --type readonly, readwrite or admin (see keelson ${usage.name} --help)`,
    )
  }
  const result: SecurityArgs = { words: positionals, help, ...where }
  if (raw !== undefined) result.type = readType(raw, '--type')
  return result
}

/**
 * Opens the security file `args` name for a one-shot command (unwatched,
 * warnings to stderr) and runs `job` with it and its path. A refusal of the
 * store (a bad name, an unknown user, a file that does not check) becomes a
 * {@link ConfigError}: printed, exit 2.
 */
export async function withSecurityFile(
  args: Pick<SecurityArgs, 'securityFile' | 'stateDir'>,
  job: (store: SecurityStore, file: string) => Promise<void>,
): Promise<void> {
  const [{ default: pino }, { SecurityStore, securityFilePath }, { SecurityFileError }] =
    await Promise.all([
      import('pino'),
      import('../security/store.js'),
      import('../security/security-file.js'),
    ])
  const file = securityFilePath(args)
  const log = pino({ level: 'warn', base: null }, pino.destination({ dest: 2, sync: true }))
  try {
    const store = await SecurityStore.open(file, log, { watch: false })
    await job(store, file)
  } catch (err) {
    if (err instanceof KeelsonError || err instanceof SecurityFileError) {
      throw new ConfigError(err.message)
    }
    throw err
  }
}
