/**
 * Signal K sources: the `$source` label of an update and the merge patch
 * that records the source under the tree's top-level `sources`, the way
 * signalk-server does it (`getSourceId`, `updateSource` in its FullSignalK).
 *
 * @see https://signalk.org/specification/1.7.0/doc/data_model_multiple_values.html
 */
import { Errors, KeelsonError } from '../core/errors.js'
import type { JsonObject } from '../core/json.js'
import { checkKey } from '../core/path.js'

/** The `source` object of a delta update (Signal K `definitions.json#/definitions/source`). */
export interface DeltaSource {
  /** The provider's label, e.g. `nmea0183-tcp`. */
  label: string
  /** `NMEA0183`, `NMEA2000`, `signalk`, ... */
  type?: string
  /** NMEA 0183 talker id, e.g. `GP`. */
  talker?: string
  /** NMEA 0183 sentence, e.g. `RMC`. */
  sentence?: string
  /** NMEA 2000 source address. */
  src?: string
  /** NMEA 2000 CAN name. */
  canName?: string
  /** NMEA 2000 PGN. */
  pgn?: number
  /** NMEA 2000 instance. */
  instance?: string
  [key: string]: unknown
}

/** The `$source` an update's values are labelled with when it has neither `source` nor `$source`. */
export const NO_SOURCE = 'no_source'

/**
 * The `$source` of a `source` object, as signalk-server derives it:
 * `<label>.<canName>` or `<label>.<src>` for NMEA 2000, `<label>.<talker>`
 * otherwise (`<label>.XX` when there is no talker).
 */
export function sourceId(source: DeltaSource | undefined): string {
  if (!source) return NO_SOURCE
  if (source.canName) return joinId(source.label, source.canName)
  if (source.src) return joinId(source.label, source.src)
  return joinId(source.label, source.talker ? source.talker : 'XX')
}

/**
 * `$source` strings already made, by label then second part. Handing out the
 * same string each time makes the tree's `$source` comparisons pointer
 * checks, and spares a new string per update (bench/ingest.ts). Cleared when
 * full, so odd input cannot grow it.
 */
const sourceIds = new Map<string, Map<string, string>>()
const MAX_SOURCE_IDS = 1000

function joinId(label: unknown, part: unknown): string {
  if (typeof label !== 'string' || typeof part !== 'string') return `${label}.${part}`
  let byPart = sourceIds.get(label)
  if (byPart === undefined) {
    if (sourceIds.size >= MAX_SOURCE_IDS) sourceIds.clear()
    byPart = new Map()
    sourceIds.set(label, byPart)
  }
  let id = byPart.get(part)
  if (id === undefined) {
    if (byPart.size >= MAX_SOURCE_IDS) byPart.clear()
    id = `${label}.${part}`
    byPart.set(part, id)
  }
  return id
}

/** Labels, talkers and sentences already checked; cleared when full. */
const checkedKeys = new Set<string>()
const MAX_CHECKED_KEYS = 10_000

/** A string or number that becomes a tree key, as that key, checked. */
function key(part: string | number): string {
  const text = String(part)
  if (checkedKeys.has(text)) return text
  checkKey(text)
  if (checkedKeys.size >= MAX_CHECKED_KEYS) checkedKeys.clear()
  checkedKeys.add(text)
  return text
}

/**
 * The part of the root patch's `sources` for one update, merged into
 * `sources` (the patch object under the root's `sources` key). `current`
 * is the tree's `sources` object, to know whether a label is new.
 */
export function addSource(
  sources: JsonObject,
  current: JsonObject | undefined,
  source: DeltaSource | undefined,
  dollarSource: string | undefined,
  timestamp: string,
): void {
  if (source === undefined) {
    if (dollarSource === undefined) return
    const parts = dollarSource.split('.')
    for (const part of parts) checkKey(part)
    let node = sources
    for (const part of parts) node = child(node, part)
    return
  }
  if (typeof source !== 'object' || source === null || typeof source.label !== 'string') {
    throw new KeelsonError(Errors.BAD_DELTA, 'An update source needs a string "label"')
  }
  const label = key(source.label)
  const labelled = child(sources, label)
  if (current?.[label] === undefined) {
    labelled.label = source.label
    if (typeof source.type === 'string') labelled.type = source.type
  }
  if (source.type === 'NMEA2000' || source.src) {
    const device = child(labelled, key(String(source.src)))
    const n2k = child(device, 'n2k')
    for (const name in source) {
      if (name === 'pgn' || name === 'label' || name === 'instance' || name === 'type') continue
      const value = source[name]
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        n2k[key(name)] = value
      }
    }
    if (source.pgn !== undefined) child(n2k, 'pgns')[key(source.pgn)] = timestamp
    if (source.instance) child(device, key(source.instance))
    return
  }
  if (source.type === 'NMEA0183' || source.sentence) {
    const talker = key(source.talker || 'II')
    const entry = child(labelled, talker)
    entry.talker = talker
    if (source.sentence) child(entry, 'sentences')[key(source.sentence)] = timestamp
    return
  }
  labelled.timestamp = timestamp
}

/** The object under `key` of a patch being built, created when missing. */
export function child(parent: JsonObject, key: string): JsonObject {
  const existing = parent[key]
  if (typeof existing === 'object' && existing !== null && !Array.isArray(existing)) return existing
  const created: JsonObject = {}
  parent[key] = created
  return created
}
