/**
 * `keelson user add|remove|list` (SPEC §8): the users of the security file.
 * A password is read from the first line of stdin, or asked twice with the
 * echo off on a terminal; never from a flag, which would leave it in the
 * shell history and the process list. A running keelson picks the change up
 * within seconds; a removed user's tokens stop working and its streams end.
 */
import type { Readable, Writable } from 'node:stream'
import type { Command } from './commands.js'
import { readSecurityArgs, type SecurityUsage, usageOf, withSecurityFile } from './security-args.js'
import { ConfigError } from './values.js'

const ADD: SecurityUsage = {
  name: 'user add',
  words: ['NAME'],
  type: 'required',
  description:
    'Adds a user to the security file. The password is the first line of stdin\n' +
    '(echo "$PASSWORD" | keelson user add ...), or asked twice on a terminal.',
}
const REMOVE: SecurityUsage = {
  name: 'user remove',
  words: ['NAME'],
  description: 'Removes a user; its tokens stop working and its streams end.',
}
const LIST: SecurityUsage = {
  name: 'user list',
  words: [],
  description: 'Lists the users and their types (never their password hashes).',
}

/** The first line of a non-terminal `input`, without its line ending. */
export function readFirstLine(input: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    const done = (error?: Error) => {
      input.off('data', onData)
      input.off('end', onEnd)
      input.off('error', done)
      input.pause()
      if (error) return reject(error)
      const newline = text.indexOf('\n')
      const line = newline < 0 ? text : text.slice(0, newline)
      resolve(line.endsWith('\r') ? line.slice(0, -1) : line)
    }
    const onData = (chunk: Buffer | string) => {
      text += String(chunk)
      if (text.includes('\n')) done()
    }
    const onEnd = () => done()
    input.on('data', onData)
    input.once('end', onEnd)
    input.once('error', done)
    input.resume()
  })
}

/** A terminal's input: a readable stream that can turn its echo off. */
export interface TerminalInput extends Readable {
  setRawMode(mode: boolean): unknown
}

/** Asks `prompt` on `output` and reads a line from the terminal `input` without echoing it. */
export function promptHidden(
  input: TerminalInput,
  output: Writable,
  prompt: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let value = ''
    output.write(prompt)
    input.setRawMode(true)
    const finish = (error?: Error) => {
      input.off('data', onData)
      input.setRawMode(false)
      input.pause()
      output.write('\n')
      if (error) reject(error)
      else resolve(value)
    }
    const onData = (chunk: Buffer | string) => {
      for (const char of String(chunk)) {
        if (char === '\r' || char === '\n') return finish()
        if (char === '\u0003') return finish(new ConfigError('cancelled'))
        if (char === '\u0004' && value === '') return finish(new ConfigError('cancelled'))
        if (char === '\u007f' || char === '\b') value = Array.from(value).slice(0, -1).join('')
        else if (char >= ' ') value += char
      }
    }
    input.on('data', onData)
    input.resume()
  })
}

/** The new user's password: stdin's first line, or asked twice on a terminal. */
async function readNewPassword(): Promise<string> {
  const stdin = process.stdin
  let password: string
  if (stdin.isTTY) {
    password = await promptHidden(stdin, process.stderr, 'Password: ')
    const again = await promptHidden(stdin, process.stderr, 'Password again: ')
    if (again !== password) throw new ConfigError('the two passwords differ; nothing was changed')
  } else {
    password = await readFirstLine(stdin)
    stdin.destroy()
  }
  if (password === '') {
    throw new ConfigError(
      'the password is empty: give it on the first line of stdin, or run on a terminal to be asked',
    )
  }
  return password
}

async function add(args: readonly string[]): Promise<void> {
  const parsed = readSecurityArgs(args, ADD)
  if (parsed.help) return void process.stdout.write(usageOf(ADD))
  const [name] = parsed.words as [string]
  const type = parsed.type!
  const password = await readNewPassword()
  await withSecurityFile(parsed, async (store, file) => {
    await store.addUser(name, type, password)
    process.stdout.write(`added user "${name}" (${type}) to ${file}\n`)
  })
}

async function remove(args: readonly string[]): Promise<void> {
  const parsed = readSecurityArgs(args, REMOVE)
  if (parsed.help) return void process.stdout.write(usageOf(REMOVE))
  const [name] = parsed.words as [string]
  await withSecurityFile(parsed, async (store, file) => {
    await store.removeUser(name)
    process.stdout.write(`removed user "${name}" from ${file}\n`)
  })
}

async function list(args: readonly string[]): Promise<void> {
  const parsed = readSecurityArgs(args, LIST)
  if (parsed.help) return void process.stdout.write(usageOf(LIST))
  await withSecurityFile(parsed, async (store, file) => {
    const { users } = store.current
    if (users.length === 0) return void process.stderr.write(`no users in ${file}\n`)
    const width = Math.max(...users.map((user) => user.username.length)) + 2
    const rows = users.map((user) => `${user.username.padEnd(width)}${user.type}\n`)
    process.stdout.write(rows.join(''))
  })
}

/** The `user` commands, for src/cli/commands.ts. */
export const USER_COMMANDS: Readonly<Record<string, Command>> = {
  'user add': { summary: 'NAME --type TYPE  add a user (password from stdin)', run: add },
  'user remove': { summary: 'NAME  remove a user', run: remove },
  'user list': { summary: 'list the users and their types', run: list },
}
