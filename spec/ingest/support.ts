/**
 * Helpers of the ingest specs: loggers, a sink that writes to a real tree,
 * AIS static data split into fragments, a wait that works under fake timers, and small NMEA logs written to a
 * temporary directory.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino, { type Logger } from 'pino'
import { aisStaticData, aivdm } from '../../fixtures/nmea-encode.js'
import type { Json, JsonObject } from '../../src/core/json.js'
import { parseDotPath } from '../../src/core/path.js'
import type { StateTree } from '../../src/core/state-tree.js'
import type { DeltaSink } from '../../src/ingest/nmea-decoder.js'
import { applyDelta, type Delta } from '../../src/signalk/delta.js'

/** A logger that drops everything. */
export const silent: Logger = pino({ level: 'silent' })

/**
 * A sink that writes decoded deltas to `tree` as keelson's ingest does: the
 * one place the ingest specs write to a tree.
 */
export function treeSink(tree: StateTree): DeltaSink {
  return (delta) => void applyDelta(tree, delta as Delta, { builtInProcess: true })
}

/** A logger that keeps every record (parsed) in `records`. */
export function capturingLog(): { log: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = []
  const log = pino(
    { level: 'info' },
    { write: (line: string) => void records.push(JSON.parse(line)) },
  )
  return { log, records }
}

/**
 * Resolves when `predicate` holds, polling between I/O turns with
 * setImmediate, so it works whether or not timers are faked (the deadline is
 * read from the real monotonic clock). Rejects after `ms`.
 */
export async function until(predicate: () => boolean, ms = 3000): Promise<void> {
  const deadline = process.hrtime.bigint() + BigInt(ms) * 1_000_000n
  while (!predicate()) {
    if (process.hrtime.bigint() > deadline) throw new Error('timed out waiting for a condition')
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

/** A temporary directory removed by the returned function. */
export function tempDir(): {
  dir: string
  file(name: string, lines: string[]): string
  remove(): void
} {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-ingest-'))
  return {
    dir,
    file(name, lines) {
      const path = join(dir, name)
      writeFileSync(path, `${lines.join('\r\n')}\r\n`)
      return path
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}

/** What a vessel's AIS static and voyage data (type 5) says, as the specs read it back. */
export interface VesselStatic {
  mmsi: number
  name: string
  callsign: string
  /** Past 10 characters it runs into the second fragment of the message. */
  destination: string
}

/** A vessel whose destination runs into the second fragment of its static data. */
export const ALPHA: VesselStatic = {
  mmsi: 227_000_001,
  name: 'ALPHA ONE',
  callsign: 'FAAA1',
  destination: 'SAINT MALO ROADS',
}

/** Another, whose second fragment differs from {@link ALPHA}'s. */
export const BRAVO: VesselStatic = {
  mmsi: 227_000_002,
  name: 'BRAVO TWO',
  callsign: 'FBBB2',
  destination: 'LORIENT KEROMAN PORT',
}

/** What {@link vesselStatics} shows for `vessel`. */
export function shown({ name, callsign, destination }: VesselStatic): Omit<VesselStatic, 'mmsi'> {
  return { name, callsign, destination }
}

/** The `!AIVDM` fragments (two) of a type 5 message for `vessel`, with sequence id `sequence`. */
export function staticFragments(vessel: VesselStatic, sequence = 7, channel: 'A' | 'B' = 'A') {
  return aivdm(
    aisStaticData({
      ...vessel,
      imo: 0,
      shipType: 36,
      toBow: 5,
      toStern: 5,
      toPort: 1,
      toStarboard: 1,
      draught: 1.5,
      eta: { month: 1, day: 1, hour: 0, minute: 0 },
    }),
    channel,
    sequence,
  )
}

/** Name, call sign and destination of every vessel in `tree` that has a name, by MMSI. */
export function vesselStatics(tree: StateTree): Record<string, Omit<VesselStatic, 'mmsi'>> {
  const vessels = (tree.get(parseDotPath('vessels')) ?? {}) as JsonObject
  const out: Record<string, Omit<VesselStatic, 'mmsi'>> = {}
  for (const vessel of Object.values(vessels)) {
    const name = at(vessel, 'name')
    if (name === undefined) continue
    out[String(at(vessel, 'mmsi'))] = {
      name: String(name),
      callsign: String(at(vessel, 'communication', 'callsignVhf')),
      destination: String(at(vessel, 'navigation', 'destination', 'commonName', 'value')),
    }
  }
  return out
}

function at(node: Json | undefined, ...keys: string[]): Json | undefined {
  for (const key of keys) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined
    node = node[key]
  }
  return node
}
