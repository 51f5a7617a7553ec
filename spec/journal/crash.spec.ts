import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CompiledCli, compileCli } from './cli-process.js'
import { crashLoop } from './crash-loop.js'

let compiled: CompiledCli
let dir: string

beforeAll(async () => {
  compiled = await compileCli()
  dir = mkdtempSync(join(tmpdir(), 'keelson-crash-'))
}, 60_000)

afterAll(() => {
  compiled?.remove()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('keelson --data-dir under kill -9 (sync journal)', () => {
  it('keeps every acknowledged write, never goes back a revision, and resumes streams exactly, over 20 kills', async () => {
    const stats = await crashLoop({ cli: compiled.cli, dir, kills: 20 })
    expect(stats.rounds).toBe(20)
    expect(stats.resumes).toBe(20)
    // The loop wrote something in every round: a run that acknowledged nothing proves nothing.
    expect(stats.acknowledged).toBeGreaterThan(20 * 4)
    expect(stats.lastRev).toBeGreaterThanOrEqual(stats.acknowledged)
  }, 240_000)
})
