/**
 * A real redis-server (Debian's) on 127.0.0.1 and a free port, in its own
 * temp dir, for cluster specs and the bench: start, stop (SIGTERM or
 * SIGKILL), start again on the same port with its data (append-only file,
 * fsynced on every write, so every acknowledged append survives a kill) or
 * empty.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** One redis-server the caller owns. */
export interface RedisServer {
  readonly port: number
  /** `redis://127.0.0.1:PORT` */
  readonly url: string
  /** The server process's id while it runs (its CPU time for the bench). */
  readonly pid: number | undefined
  /** Stops it (SIGTERM, or SIGKILL when `kill`) and waits for its exit. */
  stop(kill?: boolean): Promise<void>
  /** Starts it again on the same port: with its data, or with none when `empty`. */
  restart(empty?: boolean): Promise<void>
  /** Stops it and removes its dir. */
  close(): Promise<void>
}

/** Options of {@link startRedis}. */
export interface RedisServerOptions {
  /** Keep an append-only file fsynced at every write (default true); false: memory only (bench). */
  durable?: boolean
}

/** Starts redis-server on a free port; `close()` it in afterAll. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort()
  const base = mkdtempSync(join(tmpdir(), 'keelson-redis-'))
  let generation = 0
  let child: ChildProcess | undefined
  const durable = options.durable ?? true

  const launch = async (empty: boolean): Promise<void> => {
    if (empty) generation++
    const dir = join(base, String(generation))
    mkdirSync(dir, { recursive: true })
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--daemonize',
      'no',
      '--protected-mode',
      'no',
      ...(durable ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    ]
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    child = proc
    await new Promise<void>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(
        () => reject(new Error(`redis-server did not start: ${out}`)),
        15_000,
      )
      proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer)
          resolve()
        }
      })
      proc.on('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`redis-server exited with ${code}: ${out}`))
      })
      proc.on('error', reject)
    })
    proc.stdout!.resume()
    proc.stderr!.resume()
  }

  const stop = async (kill = false): Promise<void> => {
    const proc = child
    child = undefined
    if (proc === undefined || proc.exitCode !== null) return
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
    proc.kill(kill ? 'SIGKILL' : 'SIGTERM')
    await exited
  }

  await launch(false)
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid
    },
    stop,
    restart: (empty = false) => launch(empty),
    close: async () => {
      await stop(true)
      rmSync(base, { recursive: true, force: true })
    },
  }
}

/** A TCP port free right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}
