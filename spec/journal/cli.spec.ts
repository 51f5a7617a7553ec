import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HEADER_BYTES, segmentName } from '../../src/journal/format.js'
import { SseClient } from '../support/sse-client.js'
import { type CliProcess, type CompiledCli, cleanEnv, compileCli, startCli } from './cli-process.js'

let compiled: CompiledCli
const dirs: string[] = []

beforeAll(async () => {
  compiled = await compileCli()
}, 60_000)

afterAll(() => {
  compiled?.remove()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-journal-cli-'))
  dirs.push(dir)
  return dir
}

const PATH = '/signalk/v1/api/vessels/self/j'

function patch(server: CliProcess, value: unknown): Promise<Response> {
  return fetch(`${server.url}${PATH}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(value),
  })
}

/** Runs `keelson ...args` (compiled) to its end. */
function run(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [compiled.cli, ...args],
      { env: cleanEnv() },
      (err, stdout, stderr) => {
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : null) : 0,
          stdout,
          stderr,
        })
      },
    )
  })
}

const epochOf = (dir: string): string =>
  (JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { epoch: string }).epoch

describe('keelson --data-dir', () => {
  it('refuses a bad --journal or --retention, and a data dir that is a file', async () => {
    const file = join(tempDir(), 'file')
    writeFileSync(file, 'not a directory')
    for (const [args, message] of [
      [['--data-dir', tempDir(), '--journal', 'sometimes'], '--journal must be one of sync, async'],
      [['--data-dir', tempDir(), '--retention', '3x'], '--retention must be a duration'],
      [['--data-dir', tempDir(), '--retention', '0s'], '--retention must be a duration'],
      [['--data-dir', file], `keelson: cannot use the security file ${file}/security.json`],
    ] as const) {
      const out = await run('--no-demo', '--port', '0', '--host', '127.0.0.1', ...args)
      expect({ args, code: out.code }).toEqual({ args, code: 2 })
      expect(out.stderr).toContain(message)
    }
  }, 120_000)

  it('refuses to start on a damaged journal naming the file and offset; journal check shows it, repair cuts it', async () => {
    const dir = tempDir()
    const server = await startCli(compiled.cli, ['--no-demo', '--data-dir', dir])
    for (let i = 1; i <= 6; i++) expect((await patch(server, { i })).status).toBe(200)
    await server.kill('SIGTERM')
    const file = join(dir, segmentName(1))
    const bytes = readFileSync(file)
    let third = 0
    for (let n = 0; n < 2; n++) third += HEADER_BYTES + bytes.readUInt32LE(third)
    bytes[third + HEADER_BYTES + 5]! ^= 0x01
    writeFileSync(file, bytes)

    const refused = await startCli(compiled.cli, ['--no-demo', '--data-dir', dir]).catch(
      (err: Error) => err,
    )
    expect(refused).toBeInstanceOf(Error)
    expect((refused as Error).message).toContain(`exited (2)`)
    expect((refused as Error).message).toContain(
      `keelson: the journal is damaged: ${file} at offset ${third}: the record fails its CRC`,
    )

    const check = await run('journal', 'check', dir)
    expect(check.code).toBe(1)
    expect(check.stdout).toContain(`DAMAGED: ${file} at offset ${third}: the record fails its CRC`)

    const before = epochOf(dir)
    const repair = await run('journal', 'repair', dir)
    expect(repair.code).toBe(0)
    expect(repair.stdout).toContain(`cut ${file} at offset ${third}`)
    expect(repair.stdout).toContain('revisions from 3 on are lost')
    expect(epochOf(dir)).not.toBe(before)
    const again = await run('journal', 'check', dir)
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('revisions 1 to 2')

    const repaired = await startCli(compiled.cli, ['--no-demo', '--data-dir', dir])
    try {
      expect(await (await fetch(`${repaired.url}${PATH}`)).json()).toEqual({ i: 2 })
      expect(
        ((await (await fetch(`${repaired.url}/healthz`)).json()) as { revision: number }).revision,
      ).toBe(2)
    } finally {
      await repaired.kill()
    }
  }, 120_000)

  it('refuses writes with 503 once the journal cannot write (a real EFBIG past a file size limit); reads and streams go on', async () => {
    const dir = tempDir()
    // 64 blocks of 512 bytes: the segment reaches the limit after a few dozen writes of 1 KiB.
    const server = await startCli(compiled.cli, ['--no-demo', '--data-dir', dir], {
      shellPrefix: 'ulimit -f 64',
    })
    let acked = 0
    let refused: Response | undefined
    try {
      const stream = await SseClient.open(`${server.url}${PATH}`)
      for (let i = 1; i <= 200 && refused === undefined; i++) {
        const res = await patch(server, { i, pad: `${i}:${'p'.repeat(1024)}` })
        if (res.status === 200) {
          await res.arrayBuffer()
          acked = i
        } else refused = res
      }
      expect(acked).toBeGreaterThan(5)
      expect(refused?.status).toBe(503)
      expect(refused?.headers.get('content-type')).toContain('application/problem+json')
      const problem = (await refused!.json()) as { detail: string }
      expect(problem.detail).toContain('The journal cannot write to disk (EFBIG)')
      // Refused from now on, before anything is applied.
      const rev = ((await (await fetch(`${server.url}/healthz`)).json()) as { revision: number })
        .revision
      expect((await patch(server, { i: -1 })).status).toBe(503)
      expect(
        ((await (await fetch(`${server.url}/healthz`)).json()) as { revision: number }).revision,
      ).toBe(rev)
      // Reads and streams go on: a GET, the open stream, a new stream.
      expect((await fetch(`${server.url}${PATH}`)).status).toBe(200)
      expect(stream.closed).toBe(false)
      const late = await SseClient.open(`${server.url}${PATH}`)
      await late.until(() => late.messages.length === 1)
      late.close()
      stream.close()
      expect(server.output()).toContain('writes are refused (503) until keelson restarts')
    } finally {
      await server.kill()
    }
    // Restarted without the limit: every acknowledged write is there (the refused one's torn record is dropped).
    const restarted = await startCli(compiled.cli, ['--no-demo', '--data-dir', dir])
    try {
      const body = (await (await fetch(`${restarted.url}${PATH}`)).json()) as { i: number }
      expect(body.i).toBeGreaterThanOrEqual(acked)
      expect((await patch(restarted, { i: 0 })).status).toBe(200)
    } finally {
      await restarted.kill()
    }
  }, 120_000)

  it('in async mode keeps what was acknowledged over a second before a kill -9, and resets streams after it', async () => {
    const dir = tempDir()
    const server = await startCli(compiled.cli, [
      '--no-demo',
      '--data-dir',
      dir,
      '--journal',
      'async',
    ])
    const acks: { i: number; at: number }[] = []
    let lastId: string | undefined
    try {
      const stream = await SseClient.open(`${server.url}${PATH}`)
      const until = Date.now() + 1500
      for (let i = 1; Date.now() < until; i++) {
        const res = await patch(server, { i })
        await res.arrayBuffer()
        if (res.status === 200) acks.push({ i, at: Date.now() })
      }
      await stream.until(() => stream.lastEventId?.endsWith(`.${acks.length}`) === true)
      lastId = stream.lastEventId
      stream.close()
    } finally {
      server.child.kill('SIGKILL')
      await server.exited
    }
    const killedAt = Date.now()
    const before = epochOf(dir)
    const restarted = await startCli(compiled.cli, [
      '--no-demo',
      '--data-dir',
      dir,
      '--journal',
      'async',
    ])
    try {
      const body = (await (await fetch(`${restarted.url}${PATH}`)).json()) as { i: number }
      const due = acks.filter((a) => a.at < killedAt - 1000).at(-1)?.i ?? 0
      expect(acks.length).toBeGreaterThan(10)
      expect(body.i).toBeGreaterThanOrEqual(due)
      // An async run that did not close cleanly may have streamed what it lost: a new epoch, so a reset.
      expect(epochOf(dir)).not.toBe(before)
      const resumed = await SseClient.open(`${restarted.url}${PATH}`, { 'Last-Event-ID': lastId! })
      await resumed.until(() => resumed.messages.length >= 2)
      expect(resumed.messages[0]!.data).toBe('null')
      expect(JSON.parse(resumed.messages[1]!.data!)).toEqual(body)
      resumed.close()
    } finally {
      await restarted.kill()
    }
  }, 120_000)
})
