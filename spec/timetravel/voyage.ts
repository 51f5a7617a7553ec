/**
 * A real keelson with a real data dir (SPEC §9) on 127.0.0.1 port 0, and a
 * recorded voyage: Signal K leaves written by PATCH at known moments, each
 * with the revision it made and a moment at which the journal holds it
 * and nothing later (taken after the write is answered, before the next
 * one starts).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { KeelsonOptions } from '../../src/options.js'
import { type Running, startServer } from '../support/server.js'

export const MMSI = '230099999'
export const SELF = `urn:mrn:imo:mmsi:${MMSI}`
export const CONTEXT = `vessels.${SELF}`

/** A server with a data dir; `close` also removes the dir, `stop` keeps it (a restart). */
export interface Recording extends Running {
  dir: string
  stop(): Promise<void>
}

export async function startRecording(options: Partial<KeelsonOptions> = {}): Promise<Recording> {
  const dir = await mkdtemp(join(tmpdir(), 'keelson-tt-'))
  const running = await startServer({ dataDir: dir, mmsi: MMSI, ...options })
  let stopped: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopped ??= running.close()
    return stopped
  }
  return {
    ...running,
    dir,
    stop,
    close: async () => {
      await stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** One recorded write. */
export interface Written {
  /** The event id the write answered with, and its revision. */
  id: string
  rev: number
  /** A moment (ms) at which the journal holds this write and no later one. */
  time: number
  /** The dot path below the self vessel, and the value written. */
  path: string
  value: unknown
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms))

/** Writes a Signal K leaf `{value, timestamp, $source}` at `path` (dots) of the self vessel. */
export async function writeLeaf(url: string, path: string, value: unknown): Promise<Written> {
  const res = await fetch(`${url}/signalk/v1/api/vessels/self/${path.split('.').join('/')}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/merge-patch+json' },
    body: JSON.stringify({ value, timestamp: new Date().toISOString(), $source: 'test.voyage' }),
  })
  if (!res.ok) throw new Error(`write failed: ${res.status} ${await res.text()}`)
  await res.arrayBuffer()
  const id = res.headers.get('x-keelson-event-id')!
  const time = Date.now()
  return { id, rev: Number(id.slice(id.lastIndexOf('.') + 1)), time, path, value }
}

/**
 * Records `count` writes `gapMs` apart: speed over ground every time, the
 * depth every third write, the heading once in the middle (so some changes
 * do not touch some paths).
 */
export async function recordVoyage(url: string, count: number, gapMs: number): Promise<Written[]> {
  const out: Written[] = []
  for (let i = 0; i < count; i++) {
    await sleep(gapMs)
    out.push(await writeLeaf(url, 'navigation.speedOverGround', Math.round(i * 37.1) / 10))
    if (i % 3 === 1) {
      await sleep(gapMs)
      out.push(await writeLeaf(url, 'environment.depth.belowTransducer', 10 + i))
    }
    if (i === Math.floor(count / 2)) {
      await sleep(gapMs)
      out.push(await writeLeaf(url, 'navigation.headingTrue', 1.25))
    }
  }
  return out
}

/** GET of the snapshot API: status, body and headers. */
export async function snapshot(
  url: string,
  path: string,
  time: string | number,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const at = typeof time === 'number' ? new Date(time).toISOString() : time
  const res = await fetch(`${url}/signalk/v1/api/snapshot${path}?time=${encodeURIComponent(at)}`, {
    headers,
  })
  const text = await res.text()
  return {
    status: res.status,
    body: text === '' ? undefined : JSON.parse(text),
    headers: res.headers,
  }
}
