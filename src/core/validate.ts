/**
 * Input checks every write runs before it reaches the tree (SPEC §1):
 * forbidden keys, non-finite numbers, nesting depth counted from the root
 * of the tree, nulls where the tree cannot hold them. Every walk here stops
 * at the depth limit, so no input depth can exhaust the stack.
 */
import { DEFAULTS } from '../options.js'
import { Errors, KeelsonError } from './errors.js'
import type { Json } from './json.js'
import { findForbiddenKey } from './json-keys.js'

/** Keys refused anywhere in any input: they could reach an object's prototype. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set([
  '__proto__',
  'constructor',
  'prototype',
])

const FORBIDDEN_LENGTHS = [...FORBIDDEN_KEYS].map((key) => key.length)
const SHORTEST_FORBIDDEN = Math.min(...FORBIDDEN_LENGTHS)
const LONGEST_FORBIDDEN = Math.max(...FORBIDDEN_LENGTHS)

/**
 * True when `key` is one of {@link FORBIDDEN_KEYS}. Most keys are ruled out
 * by their length alone, without hashing them (bench/ingest.ts checks every
 * key of every write).
 */
export function isForbiddenKey(key: string): boolean {
  return (
    key.length >= SHORTEST_FORBIDDEN && key.length <= LONGEST_FORBIDDEN && FORBIDDEN_KEYS.has(key)
  )
}

/** Default depth limit: 64 levels accepted, 65 refused ({@link DEFAULTS}). */
export const DEFAULT_MAX_DEPTH = DEFAULTS.maxDepth

/** Options of {@link validateValue}. */
export interface ValidateOptions {
  /** Deepest level accepted, counted from the root of the tree. Default {@link DEFAULT_MAX_DEPTH}. */
  maxDepth?: number
  /**
   * Levels above the value: the path segments it is written at (and, for a
   * Signal K value, its context and leaf keys). Default 0.
   */
  baseDepth?: number
  /**
   * Whether an object member may be `null` (a merge patch: yes; a PUT body:
   * no). Inside arrays nulls are always allowed: arrays are values. Default true.
   */
  allowNullMembers?: boolean
}

/** The error of a write deeper than `maxDepth`. */
export function tooDeep(maxDepth: number): KeelsonError {
  return new KeelsonError(
    Errors.TOO_DEEP,
    `The write reaches deeper than ${maxDepth} levels from the root of the tree (path segments plus nesting)`,
  )
}

/**
 * Throws a {@link KeelsonError} when `value` holds a forbidden key or a
 * non-finite number, reaches deeper than `maxDepth` (each object or array is
 * one level below `baseDepth`), or holds a null member where none is allowed.
 */
export function validateValue(value: Json, options: ValidateOptions = {}): void {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH
  const base = options.baseDepth ?? 0
  if (base > maxDepth) throw tooDeep(maxDepth)
  check(value, base, maxDepth, options.allowNullMembers ?? true)
}

function check(value: Json, depth: number, maxDepth: number, allowNull: boolean): void {
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'number' && !Number.isFinite(value)) throw notFinite()
    return
  }
  if (depth + 1 > maxDepth) throw tooDeep(maxDepth)
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) check(value[i]!, depth + 1, maxDepth, true)
    return
  }
  for (const key in value) {
    if (isForbiddenKey(key)) {
      throw new KeelsonError(Errors.FORBIDDEN_KEY, `The key "${key}" is not allowed`)
    }
    const member = value[key]!
    if (member === null) {
      if (!allowNull) throw new KeelsonError(Errors.NULL_NOT_ALLOWED, `The member "${key}" is null`)
    } else if (typeof member === 'object') check(member, depth + 1, maxDepth, allowNull)
    else if (typeof member === 'number' && !Number.isFinite(member)) throw notFinite()
  }
}

function notFinite(): KeelsonError {
  return new KeelsonError(Errors.NOT_FINITE)
}

/**
 * Throws a {@link KeelsonError} (`FORBIDDEN_KEY`) when `value` holds a
 * forbidden key at any depth: the state tree's own last check on every
 * write, in one light walk. Its input was validated first, so its depth is
 * bounded.
 */
export function assertNoForbiddenKeys(value: Json): void {
  if (typeof value !== 'object' || value === null) return
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) assertNoForbiddenKeys(value[i]!)
    return
  }
  for (const key in value) {
    if (isForbiddenKey(key)) {
      throw new KeelsonError(Errors.FORBIDDEN_KEY, `The key "${key}" is not allowed`)
    }
    const member = value[key]!
    if (typeof member === 'object' && member !== null) assertNoForbiddenKeys(member)
  }
}

/**
 * Parses JSON text and validates it. Bad JSON, forbidden keys (those in the
 * text too: a duplicate key that `JSON.parse` drops, an escaped spelling),
 * non-finite numbers (`1e999` parses as Infinity) and too deep nesting all
 * throw a {@link KeelsonError}.
 */
export function parseJson(text: string, options: ValidateOptions = {}): Json {
  let value: Json
  try {
    value = JSON.parse(text) as Json
  } catch (err) {
    throw new KeelsonError(Errors.BAD_JSON, `The JSON is not valid: ${(err as Error).message}`)
  }
  validateValue(value, options)
  const hidden = findForbiddenKey(text)
  if (hidden !== undefined) {
    throw new KeelsonError(Errors.FORBIDDEN_KEY, `The key "${hidden}" is not allowed`)
  }
  return value
}
