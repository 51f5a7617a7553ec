import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { type Command, commandsHelp, findCommand } from '../src/cli/commands.js'
import { ConfigError } from '../src/config.js'

const BIN = fileURLToPath(new URL('../bin/keelson.js', import.meta.url))
/** Starting node with tsx compiling src/ takes a few seconds on a busy machine. */
const START_TIMEOUT_MS = 60_000

/** The environment without any keelson setting of the machine running the tests. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(KEELSON_|PORT$|HOST$|LOG_LEVEL$)/.test(name)) env[name] = value
  }
  return env
}

interface Outcome {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `keelson ...args` to its end. */
function keelson(...args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: cleanEnv() }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

describe('the keelson command', () => {
  it(
    'prints every option with --help and exits 0',
    async () => {
      const { code, stdout, stderr } = await keelson('--help')
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
      expect(stdout).toMatch(/^Usage: keelson \[options\]/m)
      for (const flag of [
        '--port',
        '--max-depth',
        '--history-bytes',
        '--no-detach',
        '--host-name',
      ]) {
        expect(stdout).toContain(`  ${flag}`)
      }
    },
    START_TIMEOUT_MS,
  )

  it(
    'prints its version with --version',
    async () => {
      const { code, stdout } = await keelson('--version')
      expect(code).toBe(0)
      expect(stdout).toMatch(/^\d+\.\d+\.\d+\S*\n$/)
    },
    START_TIMEOUT_MS,
  )

  it(
    'exits 2 for an unknown option, naming it and pointing to --help',
    async () => {
      const { code, stdout, stderr } = await keelson('--bogus')
      expect({ code, stdout }).toEqual({ code: 2, stdout: '' })
      expect(stderr).toBe(
        'keelson: unknown option "--bogus"\nRun "keelson --help" for the options.\n',
      )
    },
    START_TIMEOUT_MS,
  )

  it(
    'exits 2 for an unknown command',
    async () => {
      const { code, stderr } = await keelson('frobnicate', '--port', '1')
      expect(code).toBe(2)
      expect(stderr).toMatch(/^keelson: unknown command "frobnicate"\nRun "keelson --help"/)
    },
    START_TIMEOUT_MS,
  )

  it(
    'exits 2 for a value out of bounds, naming the flag',
    async () => {
      const { code, stderr } = await keelson('--max-subscriptions', '0')
      expect(code).toBe(2)
      expect(stderr).toMatch(/^keelson: --max-subscriptions must be a whole number from 1 to /)
    },
    START_TIMEOUT_MS,
  )

  it(
    'refuses --data-dir with --redis: in a cluster Redis is the log',
    async () => {
      const { code, stderr } = await keelson('--data-dir', 'x', '--redis', 'redis://127.0.0.1:1')
      expect(code).toBe(2)
      expect(stderr).toMatch(/^keelson: --redis and --data-dir cannot be combined/)
    },
    START_TIMEOUT_MS,
  )
})

describe('keelson serving', () => {
  let child: ChildProcess | undefined

  afterEach(() => {
    child?.kill('SIGKILL')
    child = undefined
  })

  it(
    'passes its limits to the app and stops on SIGTERM',
    async () => {
      const args = ['--port', '0', '--host', '127.0.0.1', '--no-demo', '--mmsi', '230099999']
      const proc = spawn(
        process.execPath,
        [BIN, ...args, '--max-depth', '5', '--max-body', '200'],
        {
          env: cleanEnv(),
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
      child = proc
      let output = ''
      proc.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString()
      })
      proc.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString()
      })
      await expect
        .poll(() => /"port":(\d+)/.exec(output)?.[1], { timeout: START_TIMEOUT_MS - 10_000 })
        .toBeDefined()
      const port = /"port":(\d+)/.exec(output)![1]
      const patch = (body: unknown) =>
        fetch(`http://127.0.0.1:${port}/signalk/v1/api/vessels/self`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      // Past --max-depth 5 by the body's nesting alone; the shallow write is well within it.
      const deep = await patch({ a: { b: { c: { d: { e: { f: 1 } } } } } })
      expect(deep.status).toBe(400)
      expect(((await deep.json()) as { code: string }).code).toBe('KEELSON_ERR_TOO_DEEP')
      expect((await patch({ a: 1 })).status).toBe(200)
      expect((await patch({ a: 'x'.repeat(300) })).status).toBe(413)

      const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve))
      proc.kill('SIGTERM')
      expect(await exited).toBe(0)
      expect(output).toContain('shutting down')
    },
    START_TIMEOUT_MS,
  )
})

describe('findCommand', () => {
  const command = (summary: string): Command => ({ summary, run: async () => {} })
  const table = {
    watch: command('URL  follow a stream'),
    'user add': command('NAME --type TYPE  add a user'),
    'user list': command('list the users'),
  }

  it('finds no command when the words start with an option or there are none, so keelson serves', () => {
    expect(findCommand([], table)).toBeUndefined()
    expect(findCommand(['--port', '4000', 'watch'], table)).toBeUndefined()
  })

  it('finds a command of one or two words and hands it the words after its name', () => {
    expect(findCommand(['watch', 'http://boat', '--raw'], table)).toEqual({
      name: 'watch',
      command: table.watch,
      args: ['http://boat', '--raw'],
    })
    expect(findCommand(['user', 'add', 'ann', '--type', 'admin'], table)).toEqual({
      name: 'user add',
      command: table['user add'],
      args: ['ann', '--type', 'admin'],
    })
  })

  it('refuses a word that names no command, quoting what was asked', () => {
    expect(() => findCommand(['frobnicate'], table)).toThrow(ConfigError)
    expect(() => findCommand(['frobnicate'], table)).toThrow('unknown command "frobnicate"')
    expect(() => findCommand(['user', 'remove', 'ann'], table)).toThrow(
      'unknown command "user remove"',
    )
    expect(() => findCommand(['anything'])).toThrow('unknown command "anything"')
  })

  it('lists the commands for --help, and nothing while there are none', () => {
    expect(commandsHelp(table)).toBe(
      '\nCommands:\n' +
        '  keelson watch      URL  follow a stream\n' +
        '  keelson user add   NAME --type TYPE  add a user\n' +
        '  keelson user list  list the users\n',
    )
    expect(commandsHelp({})).toBe('')
  })
})
