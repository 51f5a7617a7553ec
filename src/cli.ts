/**
 * The `keelson` command (SPEC §10). `keelson [options]` serves (src/cli/serve.ts);
 * `keelson <command> ...` runs a subcommand of src/cli/commands.ts. A usage
 * error prints its message with a hint to `--help` and exits 2.
 */
import { COMMANDS, commandsHelp, findCommand } from './cli/commands.js'
import { ConfigError, HELP, loadConfig } from './config.js'
import { VERSION } from './version.js'

async function main(argv: readonly string[]): Promise<void> {
  const found = findCommand(argv, COMMANDS)
  if (found) return found.command.run(found.args)
  const config = loadConfig(argv)
  if (config.help) return void process.stdout.write(HELP + commandsHelp(COMMANDS))
  if (config.version) return void process.stdout.write(`${VERSION}\n`)
  if (config.redis !== undefined && config.dataDir !== undefined) {
    // In a cluster Redis is the log (SPEC §9): a node's own journal would be a second one.
    throw new ConfigError(
      '--redis and --data-dir cannot be combined: in a cluster Redis is the log.',
    )
  }
  // Loaded only to serve, so --help and usage errors answer without compiling the app.
  const { serve } = await import('./cli/serve.js')
  await serve(config)
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`keelson: ${err.message}\nRun "keelson --help" for the options.\n`)
    process.exit(2)
  }
  process.stderr.write(`keelson: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
