import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { findCommand } from '../../src/cli/commands.js'
import { ConfigError } from '../../src/cli/values.js'
import { verifyPassword } from '../../src/security/passwords.js'
import { SecurityStore } from '../../src/security/store.js'
import type { SecurityFile } from '../../src/security/types.js'
import { CLI_TIMEOUT_MS, runKeelson } from '../support/keelson-cli.js'

let dir: string
let file: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keelson-user-'))
  file = join(dir, 'security.json')
})

afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function written(): Promise<SecurityFile> {
  return JSON.parse(await readFile(file, 'utf8')) as SecurityFile
}

describe('keelson user', () => {
  it(
    'adds a user with the password from the first line of stdin, and lists it without its hash',
    async () => {
      const added = await runKeelson(
        ['user', 'add', 'alice', '--type', 'readwrite', '--security', file],
        {
          stdin: 'sea breeze\nnot the password\n',
        },
      )
      expect(added).toEqual({
        code: 0,
        stdout: `added user "alice" (readwrite) to ${file}\n`,
        stderr: '',
      })
      expect((await stat(file)).mode & 0o777).toBe(0o600)
      const [alice] = (await written()).users
      expect(alice).toMatchObject({ username: 'alice', type: 'readwrite' })
      expect(await verifyPassword('sea breeze', alice!.password)).toBe(true)
      expect(await readFile(file, 'utf8')).not.toContain('sea breeze')

      const listed = await runKeelson(['user', 'list', '--security', file])
      expect(listed).toEqual({ code: 0, stdout: 'alice  readwrite\n', stderr: '' })
    },
    CLI_TIMEOUT_MS,
  )

  it(
    'removes a user',
    async () => {
      await runKeelson(['user', 'add', 'bob', '--type', 'admin', '--security', file], {
        stdin: 'pw\n',
      })
      const removed = await runKeelson(['user', 'remove', 'bob', '--security', file])
      expect(removed).toMatchObject({ code: 0, stdout: `removed user "bob" from ${file}\n` })
      expect((await written()).users).toEqual([])
      const listed = await runKeelson(['user', 'list', '--security', file])
      expect(listed).toEqual({ code: 0, stdout: '', stderr: `no users in ${file}\n` })
    },
    CLI_TIMEOUT_MS,
  )

  it(
    'keeps its file in the state dir given by --state-dir or KEELSON_STATE_DIR',
    async () => {
      const stateDir = join(dir, 'state')
      await runKeelson(['user', 'add', 'carol', '--type', 'readonly', '--state-dir', stateDir], {
        stdin: 'pw',
      })
      const listed = await runKeelson(['user', 'list'], { env: { KEELSON_STATE_DIR: stateDir } })
      expect(listed.stdout).toBe('carol  readonly\n')
      expect(
        JSON.parse(await readFile(join(stateDir, 'security.json'), 'utf8')).users,
      ).toHaveLength(1)
    },
    CLI_TIMEOUT_MS,
  )

  it(
    'finds the security file of a server run with --data-dir there, as the server does',
    async () => {
      const dataDir = join(dir, 'data')
      await runKeelson(['user', 'add', 'erin', '--type', 'admin', '--data-dir', dataDir], {
        stdin: 'pw',
      })
      const listed = await runKeelson(['user', 'list'], { env: { KEELSON_DATA_DIR: dataDir } })
      expect(listed.stdout).toBe('erin  admin\n')
      expect(JSON.parse(await readFile(join(dataDir, 'security.json'), 'utf8')).users).toHaveLength(
        1,
      )
    },
    CLI_TIMEOUT_MS,
  )

  it(
    'is seen by a running server watching the file within seconds',
    async () => {
      const server = await SecurityStore.open(file, pino({ level: 'silent' }), { pollMs: 50 })
      try {
        await runKeelson(['user', 'add', 'dave', '--type', 'readwrite', '--security', file], {
          stdin: 'pw\n',
        })
        await vi.waitFor(() => expect(server.findUser('dave')?.type).toBe('readwrite'), {
          timeout: 5000,
        })
      } finally {
        server.close()
      }
    },
    CLI_TIMEOUT_MS,
  )

  it(
    'exits 2 with a clear message and changes nothing when the store refuses',
    async () => {
      await runKeelson(['user', 'add', 'alice', '--type', 'readwrite', '--security', file], {
        stdin: 'pw\n',
      })
      const before = await readFile(file, 'utf8')
      const cases: [string[], string, RegExp][] = [
        [['user', 'add', 'alice', '--type', 'admin'], 'pw\n', /The user "alice" exists already/],
        [['user', 'add', 'erin', '--type', 'admin'], '', /the password is empty/],
        [['user', 'add', 'bad name', '--type', 'admin'], 'pw\n', /is not a user name/],
        [['user', 'remove', 'nobody'], '', /No user is called "nobody"/],
      ]
      const outcomes = await Promise.all(
        cases.map(([args, stdin]) => runKeelson([...args, '--security', file], { stdin })),
      )
      outcomes.forEach((outcome, i) => {
        const [args, , message] = cases[i]!
        expect(outcome.code, args.join(' ')).toBe(2)
        expect(outcome.stdout).toBe('')
        expect(outcome.stderr).toMatch(message)
      })
      expect(await readFile(file, 'utf8')).toBe(before)
    },
    CLI_TIMEOUT_MS,
  )

  it('refuses bad usage before reading a password or opening the file', async () => {
    const cases: [string[], RegExp][] = [
      [['user', 'add', 'erin'], /needs --type readonly, readwrite or admin/],
      [
        ['user', 'add', 'erin', '--type', 'captain'],
        /--type must be one of readonly, readwrite, admin, got "captain"/,
      ],
      [
        ['user', 'add', 'erin', '--type', 'admin', '--password', 'x'],
        /never takes a password as an option/,
      ],
      [['user', 'add', '--type', 'admin'], /needs NAME/],
      [['user', 'list', 'extra'], /takes no words, got an extra "extra"/],
      [['user', 'remove', 'alice', '--security'], /unknown or incomplete option "--security"/],
    ]
    for (const [argv, message] of cases) {
      const found = findCommand(argv)!
      await expect(found.command.run(found.args)).rejects.toThrow(message)
      await expect(found.command.run(found.args)).rejects.toBeInstanceOf(ConfigError)
    }
    expect(() => findCommand(['user', 'rename', 'alice'])).toThrow('unknown command "user rename"')
    await expect(stat(join(dir, 'security.json'))).rejects.toThrow(/ENOENT/)
  })

  it(
    'prints the usage of each subcommand with --help, and lists them in keelson --help',
    async () => {
      const help = await runKeelson(['user', 'add', '--help'])
      expect(help.code).toBe(0)
      expect(help.stdout).toMatch(/^Usage: keelson user add NAME --type TYPE/)
      expect(help.stdout).toContain('--security FILE')
      const all = await runKeelson(['--help'])
      for (const command of ['user add', 'user remove', 'user list']) {
        expect(all.stdout).toContain(`keelson ${command}`)
      }
      expect(all.stdout).toContain('--state-dir DIR')
    },
    CLI_TIMEOUT_MS,
  )
})
