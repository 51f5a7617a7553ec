import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { Restartable } from '../client/restartable.js'
import { until } from '../client/until.js'

const BIN = fileURLToPath(new URL('../../bin/keelson.js', import.meta.url))
/** Starting node with tsx compiling src/ takes a few seconds on a busy machine. */
const START_MS = 15_000
const SCRIPT = '/usr/bin/script'

let server: Restartable | undefined
let child: ChildProcess | undefined

afterEach(async () => {
  // The child leads its own process group (detached): end the group it made, and only it.
  if (child?.pid !== undefined && child.exitCode === null) {
    try {
      process.kill(-child.pid, 'SIGTERM')
    } catch {
      // Already gone.
    }
  }
  child = undefined
  await server?.close()
  server = undefined
})

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(KEELSON_|PORT$|HOST$|LOG_LEVEL$)/.test(name)) env[name] = value
  }
  return env
}

/** Starts `command args`, collecting its stdout as text. */
function start(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { out: () => string } {
  let out = ''
  child = spawn(command, args, { env: { ...cleanEnv(), ...env }, detached: true })
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (chunk: string) => {
    out += chunk
  })
  child.stderr!.resume()
  return { out: () => out }
}

function write(path: string, value: unknown): void {
  server!.patch(`/vessels/self/${path.split('.').join('/')}`, {
    value: value as never,
    timestamp: new Date().toISOString(),
  })
}

/** `text` as a literal inside a RegExp. */
function literal(text: string): string {
  return text.replace(/[[\]\\^$.*+?()|{}]/g, '\\$&')
}

function run(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: cleanEnv() }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr })
    })
  })
}

describe('keelson watch', () => {
  it('prints its usage with --help and refuses a missing URL with exit 2', {
    timeout: 60_000,
  }, async () => {
    const help = await run('watch', '--help')
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/^Usage: keelson watch URL/)
    expect(help.stdout).toContain('--json')
    expect(help.stdout).toContain('--token')
    const missing = await run('watch')
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('watch needs one URL')
    const listed = await run('--help')
    expect(listed.stdout).toMatch(/keelson watch +URL/)
  })

  it('prints the snapshot and then each merge patch as one line of JSON with --json', {
    timeout: 60_000,
  }, async () => {
    server = await Restartable.start()
    write('navigation.speedOverGround', 3)
    const url = `${server.url}/signalk/v1/api/vessels/self/navigation`
    const { out } = start(process.execPath, [BIN, 'watch', url, '--json'])
    const lines = () => out().split('\n').filter(Boolean)
    await until(() => lines().length >= 1, START_MS, out)
    expect(JSON.parse(lines()[0]!)).toMatchObject({ speedOverGround: { value: 3 } })
    write('navigation.speedOverGround', 4.5)
    await until(() => lines().length >= 2, 3000, out)
    expect(JSON.parse(lines()[1]!)).toMatchObject({ speedOverGround: { value: 4.5 } })
    expect(lines().every((line) => JSON.parse(line) !== undefined)).toBe(true)
  })

  it.skipIf(!existsSync(SCRIPT))(
    'updates the live view in place under a pseudo-terminal, with units and the changed row highlighted',
    { timeout: 60_000 },
    async () => {
      server = await Restartable.start()
      write('navigation.speedOverGround', 3)
      write('navigation.headingTrue', Math.PI / 2)
      const url = `${server.url}/signalk/v1/api/vessels/self/navigation`
      const command = [process.execPath, BIN, 'watch', url].map((word) => `'${word}'`).join(' ')
      const { out } = start(SCRIPT, ['-q', '-c', command, '/dev/null'], { COLUMNS: '120' })
      await until(() => out().includes('(5.8 kn)'), START_MS, out)
      const first = out().length
      write('navigation.speedOverGround', 5)
      await until(
        () => out().slice(first).includes('(9.7 kn)'),
        3000,
        () => out().slice(first),
      )
      const frame = out().slice(first)
      // Three lines (header, headingTrue, speedOverGround) drawn over: cursor up 3, each line erased.
      expect(frame).toContain('\u001b[3A')
      expect(frame).toContain('\u001b[2K')
      const HIGHLIGHT = '\u001b[1;33m'
      expect(frame).toMatch(
        new RegExp(`${literal(HIGHLIGHT)}speedOverGround +5 m/s {2}\\(9\\.7 kn\\)`),
      )
      expect(frame).toMatch(/headingTrue +1\.5708 rad {2}\(90°\)/)
      expect(frame).not.toContain(`${HIGHLIGHT}headingTrue`)
    },
  )
})
