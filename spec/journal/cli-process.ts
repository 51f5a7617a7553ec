/**
 * The real keelson CLI as a separate process, for the journal's crash
 * tests: started with flags, its port read from its log, killed with
 * SIGKILL. src/ is compiled once (esbuild, file by file, no bundling) into a
 * temporary folder, so a start takes node's time instead of tsx's (a start
 * through tsx took 4.5 s at load 10 on the 2-core test machine; 20 kills
 * must fit well under a minute). The compiled folder has src/'s layout, so
 * every file a module reads beside itself is where it expects it.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SRC = join(ROOT, 'src')

/** A compiled copy of src/; `cli` is its entry. Remove it with `remove()`. */
export interface CompiledCli {
  readonly cli: string
  remove(): void
}

/**
 * Compiles src/ into `<tmp>/keelson-cli-XXXXXX/src/`, beside links to the
 * repository's package.json, node_modules and fixtures, so `../package.json`,
 * packages and the demo voyage resolve as from src/ (outside the repository:
 * nothing else working in it can touch the copy while a loop runs).
 */
export async function compileCli(): Promise<CompiledCli> {
  const top = mkdtempSync(join(tmpdir(), 'keelson-cli-'))
  for (const name of ['package.json', 'node_modules', 'fixtures']) {
    symlinkSync(join(ROOT, name), join(top, name))
  }
  const out = join(top, 'src')
  const entryPoints = listTs(SRC)
  await build({
    entryPoints,
    outdir: out,
    outbase: SRC,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    bundle: false,
    logLevel: 'error',
  })
  // Files read at run time beside the code (web pages, display assets).
  cpSync(SRC, out, { recursive: true, filter: (source) => !source.endsWith('.ts') })
  return { cli: join(out, 'cli.js'), remove: () => rmSync(top, { recursive: true, force: true }) }
}

function listTs(dir: string): string[] {
  const files: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) files.push(...listTs(path))
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path)
  }
  return files
}

/** A running keelson process. */
export interface CliProcess {
  readonly child: ChildProcess
  readonly port: number
  readonly url: string
  /** Everything it wrote to stdout and stderr so far. */
  output(): string
  /** Resolves when it has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  kill(signal?: NodeJS.Signals): Promise<void>
}

/** The environment without any keelson setting of the machine running the tests. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(KEELSON_|PORT$|HOST$|LOG_LEVEL$|XDG_STATE_HOME$)/.test(name)) env[name] = value
  }
  return env
}

/**
 * Starts `node <cli> --port 0 --host 127.0.0.1 ...args` (through `sh -c
 * '<prefix>; exec node ...'` when `shellPrefix` is given, e.g. a `ulimit`)
 * and resolves once it listens; rejects with its output if it exits first.
 */
export function startCli(
  cli: string,
  args: readonly string[],
  options: { shellPrefix?: string; timeoutMs?: number } = {},
): Promise<CliProcess> {
  const argv = [cli, '--port', '0', '--host', '127.0.0.1', ...args]
  const child = options.shellPrefix
    ? spawn('sh', ['-c', `${options.shellPrefix}; exec "$0" "$@"`, process.execPath, ...argv], {
        env: cleanEnv(),
        cwd: ROOT,
      })
    : spawn(process.execPath, argv, { env: cleanEnv(), cwd: ROOT })
  let output = ''
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  )
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`keelson did not listen in time:\n${output}`))
    }, options.timeoutMs ?? 30_000)
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8')
      const m = /"port":(\d+),[^\n]*keelson listening/.exec(output)
      if (m) {
        clearTimeout(timer)
        child.stdout!.off('data', onData)
        child.stdout!.on('data', (more: Buffer) => (output += more.toString('utf8')))
        const port = Number(m[1])
        resolve({
          child,
          port,
          url: `http://127.0.0.1:${port}`,
          output: () => output,
          exited,
          async kill(signal = 'SIGKILL') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal)
            await exited
          },
        })
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`keelson exited (${code ?? signal}) before listening:\n${output}`))
    })
  })
}

/** A path relative to the repository, for messages. */
export function shown(path: string): string {
  return relative(ROOT, path)
}
