/**
 * Reading the CLI's option values (SPEC §10): each reader takes a flag's or
 * environment variable's text, or a config file's JSON value, checks it and
 * returns it typed, or throws a {@link ConfigError} that names where the
 * value came from and what is expected.
 */

/** Thrown for a bad flag, value or command; the CLI prints it with a hint to `--help` and exits 2. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

/**
 * Checks one value. `name` says where it came from, for the error:
 * `--max-depth`, `KEELSON_MAX_DEPTH (--max-depth)` or `"maxDepth" in FILE (--max-depth)`.
 */
export type Reader<T> = (raw: unknown, name: string) => T

const UNITS: Readonly<Record<string, number>> = { kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 }

/** `1048576` → `1 MiB`; a number of bytes that is not a whole number of KiB stays as it is. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`
  }
  return String(bytes)
}

function shown(raw: unknown): string {
  return typeof raw === 'string' ? `"${raw}"` : (JSON.stringify(raw) ?? String(raw))
}

/** A whole number from `min` to `max`: a JSON number or the text of one (digits only). */
export function integer(min: number, max: number): Reader<number> {
  return (raw, name) => {
    const n =
      typeof raw === 'number'
        ? raw
        : typeof raw === 'string' && /^\d+$/.test(raw)
          ? Number(raw)
          : NaN
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new ConfigError(
        `${name} must be a whole number from ${min} to ${max}, got ${shown(raw)}`,
      )
    }
    return n
  }
}

/**
 * A number of bytes from `min` to `max`: a whole number, or one with a
 * `KiB`, `MiB` or `GiB` suffix (powers of 1024, any case, e.g. `64MiB`).
 */
export function bytes(min: number, max: number): Reader<number> {
  return (raw, name) => {
    let n = typeof raw === 'number' ? raw : NaN
    const match = typeof raw === 'string' ? /^(\d+)\s*([kmg]ib)?$/i.exec(raw.trim()) : null
    if (match) n = Number(match[1]) * (match[2] ? UNITS[match[2].toLowerCase()]! : 1)
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new ConfigError(
        `${name} must be a number of bytes from ${formatBytes(min)} to ${formatBytes(max)} ` +
          `(a whole number, or with a KiB, MiB or GiB suffix), got ${shown(raw)}`,
      )
    }
    return n
  }
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
}

/**
 * A duration in ms from `min` to `max`: a whole number with a unit, `ms`,
 * `s`, `m`, `h` or `d` (`7d`, `12h`, `90s`), or a bare number of ms.
 */
export function duration(min: number, max: number): Reader<number> {
  return (raw, name) => {
    let n = typeof raw === 'number' ? raw : NaN
    const match = typeof raw === 'string' ? /^(\d+)\s*(ms|s|m|h|d)?$/i.exec(raw.trim()) : null
    if (match) n = Number(match[1]) * DURATION_UNITS[(match[2] ?? 'ms').toLowerCase()]!
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new ConfigError(
        `${name} must be a duration from ${min} ms to ${max / 86_400_000} days ` +
          `(a whole number with ms, s, m, h or d, e.g. 7d), got ${shown(raw)}`,
      )
    }
    return n
  }
}

/** A non-empty string. */
export const text: Reader<string> = (raw, name) => {
  if (typeof raw !== 'string' || raw === '') {
    throw new ConfigError(`${name} must be a non-empty string, got ${shown(raw)}`)
  }
  return raw
}

/** A non-empty string matching `pattern`; `expected` describes it for the error. */
export function matching(pattern: RegExp, expected: string): Reader<string> {
  return (raw, name) => {
    const value = text(raw, name)
    if (!pattern.test(value))
      throw new ConfigError(`${name} must be ${expected}, got ${shown(raw)}`)
    return value
  }
}

/** One of `choices`. */
export function oneOf(choices: readonly string[]): Reader<string> {
  return (raw, name) => {
    if (typeof raw !== 'string' || !choices.includes(raw)) {
      throw new ConfigError(`${name} must be one of ${choices.join(', ')}, got ${shown(raw)}`)
    }
    return raw
  }
}

/** true or false: a JSON boolean, or `1`/`true`/`0`/`false` in an environment variable. */
export const boolean: Reader<boolean> = (raw, name) => {
  if (typeof raw === 'boolean') return raw
  if (raw === '1' || raw === 'true') return true
  if (raw === '0' || raw === 'false') return false
  throw new ConfigError(`${name} must be true or false (or 1 or 0), got ${shown(raw)}`)
}

/** A list (a repeatable flag, a comma-separated variable or a JSON array), each item read by `item`. */
export function listOf(item: Reader<string>): Reader<string[]> {
  return (raw, name) => (Array.isArray(raw) ? raw : [raw]).map((value) => item(value, name))
}

/** A browser origin as the `Origin` header carries it: scheme, host and port, no path. */
export const origin: Reader<string> = (raw, name) => {
  const value = text(raw, name)
  let normal: string | undefined
  try {
    normal = new URL(value).origin
  } catch {
    // Not a URL: refused below.
  }
  if (normal !== value) {
    const hint = normal && normal !== 'null' ? `; did you mean "${normal}"?` : ''
    throw new ConfigError(
      `${name} must be an origin like https://chart.example:8443 (no path), got ${shown(raw)}${hint}`,
    )
  }
  return value
}
