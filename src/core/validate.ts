/**
 * Input checks every transport runs before a value reaches the tree
 * (SPEC §1): forbidden keys, nesting depth, nulls where the tree cannot hold them.
 */
import { Errors, KeelsonError } from './errors.js'
import type { Json } from './json.js'

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

/** Default nesting limit of input JSON: 64 levels accepted, 65 refused. */
export const DEFAULT_MAX_DEPTH = 64

/** Options of {@link validateValue}. */
export interface ValidateOptions {
  /** Deepest nesting of objects and arrays accepted. Default {@link DEFAULT_MAX_DEPTH}. */
  maxDepth?: number
  /** Whether an object member may be `null` (a merge patch: yes; a PUT body: no). Default true. */
  allowNullMembers?: boolean
}

/**
 * Throws a {@link KeelsonError} when `value` holds a forbidden key, nests
 * deeper than `maxDepth` (the top-level object or array is level 1), or holds
 * a null member where none is allowed. Nulls inside arrays are always allowed.
 */
export function validateValue(value: Json, options: ValidateOptions = {}): void {
  check(value, 0, options.maxDepth ?? DEFAULT_MAX_DEPTH, options.allowNullMembers ?? true)
}

function check(value: Json, depth: number, maxDepth: number, allowNull: boolean): void {
  if (typeof value !== 'object' || value === null) return
  if (depth + 1 > maxDepth) {
    throw new KeelsonError(Errors.TOO_DEEP, `The JSON nests deeper than ${maxDepth} levels`)
  }
  if (Array.isArray(value)) {
    for (const item of value) check(item, depth + 1, maxDepth, allowNull)
    return
  }
  for (const key in value) {
    if (isForbiddenKey(key)) {
      throw new KeelsonError(Errors.FORBIDDEN_KEY, `The key "${key}" is not allowed`)
    }
    const member = value[key]!
    if (member === null && !allowNull) {
      throw new KeelsonError(Errors.NULL_NOT_ALLOWED, `The member "${key}" is null`)
    }
    if (typeof member === 'object' && member !== null) check(member, depth + 1, maxDepth, allowNull)
  }
}

/**
 * Throws a {@link KeelsonError} (`FORBIDDEN_KEY`) when `value` holds a
 * forbidden key at any depth: {@link validateValue} with no depth limit,
 * nulls allowed, in one lighter walk. The state tree runs it on every write.
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
 * Parses JSON text and validates it. Bad JSON, forbidden keys and too deep
 * nesting all throw a {@link KeelsonError}.
 */
export function parseJson(text: string, options: ValidateOptions = {}): Json {
  let value: Json
  try {
    value = JSON.parse(text) as Json
  } catch (err) {
    throw new KeelsonError(Errors.BAD_JSON, `The body is not valid JSON: ${(err as Error).message}`)
  }
  validateValue(value, options)
  return value
}
