/**
 * The fleet map (SPEC §6): which vessel context a unit id stands for, and
 * which unit is a vehicle's primary one.
 *
 * By default a unit id is a vessel's MMSI: the vessel keyed
 * `urn:mrn:imo:mmsi:<id>`, else the vessel whose `mmsi` field is `<id>` —
 * so AIS targets (and the self vessel, with an MMSI) are units out of the
 * box. A fleet file (`--fleet FILE`) adds other ids:
 *
 * ```json
 * {
 *   "units": {
 *     "1": "vessels.urn:mrn:imo:mmsi:230099999",
 *     "tender": { "context": "vessels.self" },
 *     "buoy-7": ["atons", "urn:mrn:imo:mmsi:992351000"]
 *   },
 *   "vehicles": { "42": { "primary": "1" }, "dinghy": "tender" }
 * }
 * ```
 *
 * A context is a Signal K context (`vessels.<key>`, `vessels.self`: the
 * first dot splits the context from the key) or an array of tree keys.
 * A vehicle names its primary unit (a fleet unit id or an MMSI). The file
 * is polled and reloaded when it changes, with a log line; a file that
 * cannot be read or is malformed is refused with a message saying why, and
 * the previous mapping stays.
 *
 * The poll compares the file with the one last read, not with its own last
 * look: `fs.watchFile` takes its first look some time after start, so a file
 * changed between the first read and that look was never reloaded (the
 * telemetry contract suite, which rewrites the file right after start, hit it).
 * A changed file is read once two polls in a row find it the same, so a file
 * caught half written (truncated, then written) is not read and refused.
 */
import { readFileSync, type Stats, stat, statSync } from 'node:fs'
import type { Logger } from 'pino'
import { isObject, type Json } from '../core/json.js'
import { pathOf, type TreePath } from '../core/path.js'
import type { StateTree } from '../core/state-tree.js'

/** The MMSI key prefix of Signal K vessel contexts. */
export const MMSI_PREFIX = 'urn:mrn:imo:mmsi:'

/** A fleet file, checked: unit ids to tree keys, vehicle ids to unit ids. */
export interface FleetMapping {
  readonly units: ReadonlyMap<string, readonly string[]>
  readonly vehicles: ReadonlyMap<string, string>
}

const EMPTY: FleetMapping = { units: new Map(), vehicles: new Map() }

/** Where a unit lives in the tree. */
export interface UnitTarget {
  unitId: string
  path: TreePath
}

/** Parses a fleet file's text; throws an Error saying what is wrong. */
export function parseFleet(text: string): FleetMapping {
  let doc: Json
  try {
    doc = JSON.parse(text) as Json
  } catch (err) {
    throw new Error(`it is not JSON (${(err as Error).message})`)
  }
  if (!isObject(doc)) throw new Error('it must be a JSON object {"units":{...},"vehicles":{...}}')
  for (const key of Object.keys(doc)) {
    if (key !== 'units' && key !== 'vehicles') {
      throw new Error(`unknown member "${key}": only "units" and "vehicles" are read`)
    }
  }
  const units = new Map<string, readonly string[]>()
  const vehicles = new Map<string, string>()
  if (doc.units !== undefined) {
    if (!isObject(doc.units)) throw new Error('"units" must be an object of unit id to context')
    for (const [id, value] of Object.entries(doc.units)) {
      units.set(checkId(id, 'unit'), contextKeys(id, value))
    }
  }
  if (doc.vehicles !== undefined) {
    if (!isObject(doc.vehicles)) {
      throw new Error('"vehicles" must be an object of vehicle id to {"primary": unit id}')
    }
    for (const [id, value] of Object.entries(doc.vehicles)) {
      const primary =
        typeof value === 'string' ? value : isObject(value) ? value.primary : undefined
      if (typeof primary !== 'string' || primary === '') {
        throw new Error(`vehicle "${id}" must name its primary unit: {"primary": "<unit id>"}`)
      }
      vehicles.set(checkId(id, 'vehicle'), primary)
    }
  }
  return { units, vehicles }
}

function checkId(id: string, what: string): string {
  if (id === '' || id.length > 128 || id.includes('/')) {
    throw new Error(`${what} id ${JSON.stringify(id)} must be 1 to 128 characters without "/"`)
  }
  return id
}

function contextKeys(id: string, value: Json): readonly string[] {
  const context = isObject(value) ? value.context : value
  let keys: string[] | undefined
  if (typeof context === 'string') {
    const dot = context.indexOf('.')
    if (dot > 0 && dot < context.length - 1) keys = [context.slice(0, dot), context.slice(dot + 1)]
  } else if (
    Array.isArray(context) &&
    context.length > 0 &&
    context.every((k) => typeof k === 'string')
  ) {
    keys = context as string[]
  }
  if (keys === undefined) {
    throw new Error(
      `unit "${id}" must map to a context like "vessels.urn:mrn:imo:mmsi:230099999" or an array of tree keys`,
    )
  }
  try {
    if (pathOf(keys).starAt >= 0) throw new Error('a unit names one context: "*" is not a key')
  } catch (err) {
    throw new Error(`unit "${id}": ${(err as Error).message}`)
  }
  return keys
}

/** What identifies one version of a file: a change to any of these is a new version. */
interface FileStamp {
  mtimeMs: number
  size: number
  ino: number
}

const NO_FILE: FileStamp = { mtimeMs: -1, size: -1, ino: -1 }

function stampOf(stats: Stats): FileStamp {
  return { mtimeMs: stats.mtimeMs, size: stats.size, ino: stats.ino }
}

function sameFile(a: FileStamp, b: FileStamp): boolean {
  return a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino
}

/** The unit ids of the tree and of a fleet file, kept current. */
export class Fleet {
  private mapping: FleetMapping = EMPTY
  /** The file as it was when last read (loaded or refused); NO_FILE while it is gone. */
  private seen: FileStamp = NO_FILE
  /** A change found by the last poll, read when the next finds the file still so. */
  private changing: FileStamp | undefined
  private timer: NodeJS.Timeout | undefined
  private polling = false

  constructor(
    private readonly tree: StateTree,
    private readonly log: Logger,
    /** The fleet file; none: units are MMSIs only. */
    readonly file?: string,
    pollMs = 1000,
  ) {
    if (file === undefined) return
    try {
      // Stamped before reading: a change during the read is seen as a change by the next poll.
      this.seen = stampOf(statSync(file))
      this.mapping = parseFleet(readFileSync(file, 'utf8'))
    } catch (err) {
      throw new Error(`cannot use the fleet file ${file}: ${(err as Error).message}`)
    }
    log.info(
      { file, units: this.mapping.units.size, vehicles: this.mapping.vehicles.size },
      'fleet file loaded',
    )
    this.timer = setInterval(() => this.poll(), pollMs)
    this.timer.unref()
  }

  /** The current mapping of the fleet file (empty without one). */
  get current(): FleetMapping {
    return this.mapping
  }

  /** Re-reads the fleet file; false (the old mapping kept, logged) when it is refused. */
  reload(): boolean {
    if (this.file === undefined) return false
    try {
      this.mapping = parseFleet(readFileSync(this.file, 'utf8'))
    } catch (err) {
      this.log.error(
        { file: this.file, reason: (err as Error).message },
        `fleet file refused, the previous mapping is kept: ${(err as Error).message}`,
      )
      return false
    }
    this.log.info(
      { file: this.file, units: this.mapping.units.size, vehicles: this.mapping.vehicles.size },
      'fleet file reloaded',
    )
    return true
  }

  /** Where unit `unitId` lives now; undefined when it is unknown. */
  unit(unitId: string): UnitTarget | undefined {
    const keys = this.mapping.units.get(unitId)
    if (keys !== undefined) {
      const path = pathOf(keys, this.tree.selfKey)
      return { unitId, path }
    }
    const key = this.vesselKeyOf(unitId)
    return key === undefined ? undefined : { unitId, path: pathOf(['vessels', key]) }
  }

  /** Stops watching the file. */
  close(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** The key of the vessel whose MMSI is `mmsi` (by its key, else its `mmsi` field). */
  private vesselKeyOf(mmsi: string): string | undefined {
    if (!/^\d{1,15}$/.test(mmsi)) return undefined
    const vessels = this.tree.get(VESSELS)
    if (!isObject(vessels)) return undefined
    const key = MMSI_PREFIX + mmsi
    if (Object.hasOwn(vessels, key)) return key
    for (const k in vessels) {
      const vessel = vessels[k]
      if (isObject(vessel) && mmsiOf(vessel.mmsi) === mmsi) return k
    }
    return undefined
  }

  /** Reloads the file when it is not the one last read and has settled; one look at a time. */
  private poll(): void {
    if (this.polling || this.file === undefined) return
    this.polling = true
    stat(this.file, (err, stats) => {
      this.polling = false
      if (this.timer === undefined) return
      if (err) {
        if (this.seen !== NO_FILE) {
          this.log.error({ file: this.file }, 'fleet file removed, the previous mapping is kept')
        }
        this.seen = NO_FILE
        return
      }
      const now = stampOf(stats)
      if (sameFile(now, this.seen)) {
        this.changing = undefined
        return
      }
      if (this.changing === undefined || !sameFile(now, this.changing)) {
        this.changing = now
        return
      }
      this.changing = undefined
      this.seen = now
      this.reload()
    })
  }
}

const VESSELS: TreePath = { segments: ['vessels'], starAt: -1 }

/** A vessel's `mmsi` member as text, whether stored plain or as `{value}`. */
function mmsiOf(member: Json | undefined): string | undefined {
  const value = isObject(member) ? member.value : member
  if (typeof value === 'string') return value
  if (typeof value === 'number') return String(value)
  return undefined
}
