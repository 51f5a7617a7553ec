import { type ChildProcess, spawn } from 'node:child_process'
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

/** A `keelson` process listening on 127.0.0.1 (see {@link startKeelson}). */
export interface ListeningKeelson {
  /** `http://127.0.0.1:PORT` */
  url: string
  /** Its cluster node id (`--redis`), from its log. */
  nodeId: string | undefined
  child: ChildProcess
}

/**
 * Starts `keelson ...args --port 0 --host 127.0.0.1 --log-level info` and
 * resolves once it listens (a cluster node: once caught up), with the port
 * it logged; rejects with its output when it exits or says nothing in time.
 * The caller kills `child` (SIGKILL in an afterAll is enough).
 */
export async function startKeelson(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<ListeningKeelson> {
  const child = spawn(
    process.execPath,
    [BIN, '--port', '0', '--host', '127.0.0.1', '--log-level', 'info', ...args],
    { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const deadline = Date.now() + CLI_TIMEOUT_MS - 5000
  while (!/"port":(\d+)/.test(output) && child.exitCode === null && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 20))
  const port = /"port":(\d+)/.exec(output)?.[1]
  if (port === undefined) {
    child.kill('SIGKILL')
    throw new Error(`keelson did not start: ${output}`)
  }
  const nodeId = /"node":"([0-9a-f]+)"/.exec(output)?.[1]
  return { url: `http://127.0.0.1:${port}`, nodeId, child }
}
