/**
 * Starting the bench's child processes: every child runs under
 * `bash -c 'ulimit -n …; exec node …'` so that 10,000 sockets fit (the
 * soft limit is raised to 65,536, or to the hard limit when that is lower), and
 * `exec` keeps the pid the one /proc is read from. Children talk back over
 * an IPC channel (a `{ type: 'ready' }` message and results).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { openSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** File descriptors asked for every child; capped at the hard limit (`ulimit -Hn`). */
export const NOFILE = 65_536

/** The bench folder, absolute. */
export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url))

/** A message from a child. */
export interface ChildMessage {
  type: string
  [key: string]: unknown
}

/** A running child with a queue of its messages. */
export class Child {
  private readonly inbox: ChildMessage[] = []
  private waiter: ((m: ChildMessage | undefined) => void) | undefined
  exited = false

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    proc.on('message', (m) => this.push(m as ChildMessage))
    proc.on('exit', () => {
      this.exited = true
      this.waiter?.(undefined)
      this.waiter = undefined
    })
  }

  get pid(): number {
    return this.proc.pid!
  }

  /** Sends a message to the child. */
  send(message: ChildMessage): void {
    if (!this.exited) this.proc.send(message)
  }

  /** The next message of `type`, or an error after `timeoutMs` or when the child exits. */
  async next(type: string, timeoutMs: number): Promise<ChildMessage> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const at = this.inbox.findIndex((m) => m.type === type || m.type === 'error')
      if (at >= 0) {
        const m = this.inbox.splice(at, 1)[0]!
        if (m.type === 'error') throw new Error(`${this.name}: ${String(m.message)}`)
        return m
      }
      if (this.exited) throw new Error(`${this.name} exited before '${type}'`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`${this.name}: no '${type}' within ${timeoutMs} ms`)
      await new Promise<ChildMessage | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), left)
        this.waiter = (m) => {
          clearTimeout(timer)
          resolve(m)
        }
      })
    }
  }

  /** Ends the child (SIGTERM, then SIGKILL after `graceMs`). */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exited) return
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()))
    this.proc.kill('SIGTERM')
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs)
    await gone
    clearTimeout(timer)
  }

  private push(m: ChildMessage): void {
    this.inbox.push(m)
    const w = this.waiter
    this.waiter = undefined
    w?.(m)
  }
}

/** Options of {@link startChild}. */
export interface ChildOptions {
  /** Extra arguments for node before the script (`--cpu-prof`, `-r preload`). */
  nodeArgs?: string[]
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Show the child's stdout (default: stderr only; BENCH_CHILD_STDOUT=1 shows every child's). */
  verbose?: boolean
  /** Send the child's stderr to this file instead of the bench's. */
  stderrFile?: string
}

/** Starts `node [nodeArgs] script args…` with a raised file limit and an IPC channel. */
export function startChild(
  name: string,
  script: string,
  args: string[],
  options: ChildOptions = {},
): Child {
  const argv = ['node', ...(options.nodeArgs ?? []), script, ...args].map(shellQuote).join(' ')
  const proc = spawn(
    'bash',
    ['-c', `ulimit -n ${NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec ${argv}`],
    {
      cwd: options.cwd ?? BENCH_DIR,
      env: { ...process.env, ...options.env },
      stdio: [
        'ignore',
        options.verbose || process.env.BENCH_CHILD_STDOUT ? 'inherit' : 'ignore',
        options.stderrFile ? openSync(options.stderrFile, 'a') : 'inherit',
        'ipc',
      ],
    },
  )
  return new Child(name, proc)
}

/** Starts a TypeScript file of bench/ through tsx's loader, in one process. */
export function startTsChild(
  name: string,
  file: string,
  args: string[],
  options: ChildOptions = {},
): Child {
  return startChild(name, `${BENCH_DIR}${file}`, args, {
    ...options,
    nodeArgs: ['--import', 'tsx', ...(options.nodeArgs ?? [])],
  })
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`
}
