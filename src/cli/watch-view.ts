/**
 * The terminal view of `keelson watch`: a folded Signal K subtree as rows of
 * `path  value unit (sailor's unit)`, redrawn in place with ANSI cursor
 * moves (cursor up, erase line), rows that just changed highlighted.
 *
 * @see https://invisible-island.net/xterm/ctlseqs/ctlseqs.html (CUU, EL, ED)
 */

const ESC = '\u001b['
/** Moves the cursor up `n` lines (CUU). */
export const cursorUp = (n: number): string => `${ESC}${n}A`
const ERASE_LINE = `${ESC}2K`
const ERASE_BELOW = `${ESC}J`
const HIGHLIGHT = `${ESC}1;33m`
const DIM = `${ESC}2m`
const RESET = `${ESC}0m`

/** How long a changed row stays highlighted, ms. */
export const HIGHLIGHT_MS = 1500

/** One row: a Signal K value (or a plain leaf) at a path relative to the watched URL. */
export interface Row {
  path: string
  value: unknown
  /** The value as JSON, to tell a change of value from a mere new timestamp. */
  fingerprint: string
}

const SK_FIELDS = new Set([
  'value',
  'values',
  'timestamp',
  '$source',
  'source',
  'sentence',
  'pgn',
  'meta',
])

function row(path: string, value: unknown): Row {
  return { path: path || '.', value, fingerprint: JSON.stringify(value) ?? '' }
}

/**
 * The rows of `state`: every Signal K leaf (an object with `value`) and every
 * plain leaf outside one, depth first, `meta` subtrees left out.
 */
export function rowsOf(state: unknown, prefix = ''): Row[] {
  if (state === null || typeof state !== 'object' || Array.isArray(state)) {
    return state === undefined ? [] : [row(prefix, state)]
  }
  const object = state as Record<string, unknown>
  if ('value' in object) return [row(prefix, object.value)]
  const rows: Row[] = []
  for (const key of Object.keys(object).sort()) {
    if (key === 'meta' || (SK_FIELDS.has(key) && key !== 'value' && prefix !== '')) continue
    rows.push(...rowsOf(object[key], prefix ? `${prefix}.${key}` : key))
  }
  return rows
}

const KNOTS_PER_MS = 3600 / 1852

/** `value` with its Signal K `units`, and in the unit a sailor reads when it differs. */
export function formatValue(value: unknown, units: string | undefined): string {
  if (typeof value !== 'number') {
    if (
      value !== null &&
      typeof value === 'object' &&
      'latitude' in value &&
      'longitude' in value
    ) {
      const { latitude, longitude } = value as { latitude: number; longitude: number }
      return `${latitude.toFixed(5)}, ${longitude.toFixed(5)}`
    }
    return JSON.stringify(value) ?? String(value)
  }
  const si = `${Number(value.toPrecision(6))}${units ? ` ${units}` : ''}`
  switch (units) {
    case 'm/s':
      return `${si}  (${(value * KNOTS_PER_MS).toFixed(1)} kn)`
    case 'rad':
      return `${si}  (${((value * 180) / Math.PI).toFixed(0)}°)`
    case 'K':
      return `${si}  (${(value - 273.15).toFixed(1)} °C)`
    default:
      return si
  }
}

/** Draws frames over the previous one on a terminal (or appends them elsewhere). */
export class TerminalView {
  private drawn = 0
  private readonly changedAt = new Map<string, number>()
  private readonly nodes = new Map<string, string>()

  constructor(
    private readonly write: (text: string) => void,
    /** Cursor moves and colours; off, each frame is appended as plain text. */
    private readonly ansi: boolean,
    private readonly columns: () => number = () => 100,
  ) {}

  /** Notes which rows changed since the last call (at `now`). */
  update(rows: readonly Row[], now: number): void {
    const seen = new Set<string>()
    for (const row of rows) {
      seen.add(row.path)
      if (this.nodes.has(row.path) && this.nodes.get(row.path) !== row.fingerprint) {
        this.changedAt.set(row.path, now)
      }
      this.nodes.set(row.path, row.fingerprint)
    }
    for (const path of [...this.nodes.keys()]) {
      if (!seen.has(path)) {
        this.nodes.delete(path)
        this.changedAt.delete(path)
      }
    }
  }

  /** True while some row is highlighted (the caller redraws to clear it). */
  highlighted(now: number): boolean {
    for (const at of this.changedAt.values()) if (now - at < HIGHLIGHT_MS) return true
    return false
  }

  /** Draws `header` and `rows`, each row's value formatted with `unitsOf(path)`. */
  draw(
    header: string,
    rows: readonly Row[],
    unitsOf: (path: string) => string | undefined,
    now: number,
  ): void {
    const width = Math.max(20, this.columns())
    const pathWidth = Math.min(48, Math.max(4, ...rows.map((row) => row.path.length)))
    const clip = (line: string) => (line.length > width - 1 ? `${line.slice(0, width - 2)}…` : line)
    const lines = [clip(header)]
    const marks: boolean[] = [false]
    for (const row of rows) {
      lines.push(
        clip(`${row.path.padEnd(pathWidth)}  ${formatValue(row.value, unitsOf(row.path))}`),
      )
      marks.push(now - (this.changedAt.get(row.path) ?? -Infinity) < HIGHLIGHT_MS)
    }
    if (rows.length === 0) {
      lines.push('(nothing at this path yet)')
      marks.push(false)
    }
    if (!this.ansi) {
      this.write(`${lines.join('\n')}\n\n`)
      return
    }
    let out = this.drawn > 0 ? cursorUp(this.drawn) : ''
    lines.forEach((line, i) => {
      const style = i === 0 ? DIM : marks[i] ? HIGHLIGHT : ''
      out += `\r${ERASE_LINE}${style}${line}${style ? RESET : ''}\n`
    })
    out += ERASE_BELOW
    this.drawn = lines.length
    this.write(out)
  }
}
