import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../../bin/keelson.js', import.meta.url))

/** Starting node with tsx compiling src/ takes a few seconds on a busy machine. */
export const CLI_TIMEOUT_MS = 60_000

/** What a finished `keelson` command did. */
export interface CliOutcome {
  code: number | null
  stdout: string
  stderr: string
}

/** The environment without any keelson setting of the machine running the tests, plus `extra`. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(KEELSON_|PORT$|HOST$|LOG_LEVEL$|XDG_STATE_HOME$)/.test(name)) env[name] = value
  }
  return { ...env, ...extra }
}

/** Runs `keelson ...args` to its end with `stdin` as its input (then closed). */
export function runKeelson(
  args: readonly string[],
  options: { stdin?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: cleanEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.on('error', () => undefined)
    child.stdin.end(options.stdin ?? '')
  })
}
