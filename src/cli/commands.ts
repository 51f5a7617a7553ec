/**
 * The subcommands of `keelson` (SPEC §10): `keelson [options]` serves,
 * `keelson <command> ...` runs an entry of {@link COMMANDS}. A command of
 * two words (`user add`) is one entry whose name holds both.
 */
import { ACCESS_COMMANDS } from './access.js'
import { JOURNAL_COMMANDS } from './journal.js'
import { USER_COMMANDS } from './user.js'
import { ConfigError } from './values.js'
import { WATCH_COMMAND } from './watch.js'

/** One subcommand. */
export interface Command {
  /** Its arguments and what it does, for `--help` (`NAME --type TYPE  add a user`). */
  readonly summary: string
  /**
   * Runs it with the words after its name. Throws {@link ConfigError} for
   * bad usage (the CLI prints it with a hint to `--help` and exits 2).
   */
  run(args: readonly string[]): Promise<void>
}

/** The subcommands by name: `user ...` and `access ...` (SPEC §8), `watch` (SPEC §10). */
export const COMMANDS: Readonly<Record<string, Command>> = {
  ...USER_COMMANDS,
  ...ACCESS_COMMANDS,
  ...JOURNAL_COMMANDS,
  watch: WATCH_COMMAND,
}

/** A command found in argv, with the words after its name. */
export interface FoundCommand {
  name: string
  command: Command
  args: readonly string[]
}

/**
 * The command `argv` starts with, undefined when it starts with an option
 * (or is empty): then keelson serves. Throws {@link ConfigError} for a first
 * word that names no command.
 */
export function findCommand(
  argv: readonly string[],
  commands: Readonly<Record<string, Command>> = COMMANDS,
): FoundCommand | undefined {
  const first = argv[0]
  if (first === undefined || first.startsWith('-')) return undefined
  let found: FoundCommand | undefined
  for (const [name, command] of Object.entries(commands)) {
    const words = name.split(' ')
    const matches = words.every((word, i) => argv[i] === word)
    if (matches && words.length > (found?.name.split(' ').length ?? 0)) {
      found = { name, command, args: argv.slice(words.length) }
    }
  }
  if (found) return found
  const group = Object.keys(commands).some((name) => name.startsWith(`${first} `))
  const asked = group && argv[1] !== undefined ? `${first} ${argv[1]}` : first
  throw new ConfigError(`unknown command "${asked}"`)
}

/** The "Commands:" section of `--help`, empty while there are none. */
export function commandsHelp(commands: Readonly<Record<string, Command>> = COMMANDS): string {
  const names = Object.keys(commands)
  if (names.length === 0) return ''
  const width = Math.max(...names.map((name) => name.length)) + 2
  const lines = names.map((name) => `  keelson ${name.padEnd(width)}${commands[name]!.summary}`)
  return `\nCommands:\n${lines.join('\n')}\n`
}
