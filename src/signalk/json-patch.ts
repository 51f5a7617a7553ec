/**
 * JSON Patch (RFC 6902) with JSON Pointers (RFC 6901), for application data
 * (SPEC §11): `add`, `remove`, `replace`, `move`, `copy` and `test`, applied
 * all or nothing. The operations work on a copy of the document, so a
 * failing one (or a failed `test`) leaves the stored document as it was.
 *
 * Reads of a member use own properties only: a pointer to `toString` finds
 * nothing rather than `Object.prototype`'s function, and the keys
 * `__proto__`, `constructor` and `prototype` are refused in any pointer, as
 * everywhere in keelson (SPEC §1).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6902
 * @see https://www.rfc-editor.org/rfc/rfc6901
 */
import { Errors, KeelsonError } from '../core/errors.js'
import { deepEqual, isObject, type Json, type JsonObject } from '../core/json.js'
import { isForbiddenKey } from '../core/validate.js'

const OPS: ReadonlySet<string> = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test'])
/** An array index in a pointer: no leading zeros, no sign (RFC 6901 §4). */
const INDEX = /^(?:0|[1-9][0-9]{0,8})$/

/** Operations one patch may hold. */
export const MAX_PATCH_OPERATIONS = 10_000

/** Options of {@link applyJsonPatch}. */
export interface JsonPatchOptions {
  /**
   * Bytes (as JSON) that `copy` operations may duplicate in one patch: each
   * `copy` of the whole document would double it, so a few dozen would
   * fill any memory. Default 1 MiB.
   */
  maxCopyBytes?: number
}

/**
 * Applies `operations` (a JSON Patch document: an array of operation
 * objects) to `document` and returns the result; `document` itself is never
 * changed. Throws `BAD_JSON_PATCH` (400) for a malformed operation or one
 * that cannot apply, `PATCH_TEST_FAILED` (409) when a `test` fails, and
 * `TOO_LARGE` (413) past {@link MAX_PATCH_OPERATIONS} or
 * {@link JsonPatchOptions.maxCopyBytes}.
 */
export function applyJsonPatch(
  document: Json,
  operations: Json,
  options: JsonPatchOptions = {},
): Json {
  if (!Array.isArray(operations)) {
    throw bad('A JSON Patch is an array of operations')
  }
  if (operations.length > MAX_PATCH_OPERATIONS) {
    throw new KeelsonError(
      Errors.TOO_LARGE,
      `A JSON Patch holds at most ${MAX_PATCH_OPERATIONS} operations`,
    )
  }
  const maxCopyBytes = options.maxCopyBytes ?? 1024 * 1024
  let copied = 0
  let root = structuredClone(document)
  for (let i = 0; i < operations.length; i++) {
    const operation = operations[i]!
    if (!isObject(operation) || typeof operation.op !== 'string' || !OPS.has(operation.op)) {
      throw bad(`Operation ${i}: "op" is one of add, remove, replace, move, copy, test`)
    }
    const at = pointer(operation.path, i, 'path')
    switch (operation.op) {
      case 'add':
        root = add(root, at, operationValue(operation, i), i)
        break
      case 'remove':
        root = remove(root, at, i).root
        break
      case 'replace':
        if (at.length === 0) {
          root = operationValue(operation, i)
          break
        }
        root = remove(root, at, i).root
        root = add(root, at, operationValue(operation, i), i)
        break
      case 'move': {
        const from = pointer(operation.from, i, 'from')
        if (at.length > from.length && from.every((key, k) => key === at[k])) {
          throw bad(`Operation ${i}: cannot move a value into itself`)
        }
        const taken = remove(root, from, i)
        root = add(taken.root, at, taken.value, i)
        break
      }
      case 'copy': {
        const from = pointer(operation.from, i, 'from')
        const value = get(root, from, i)
        // Counted before it is copied: the copies of one patch together stay within the bound.
        copied += Buffer.byteLength(JSON.stringify(value))
        if (copied > maxCopyBytes) {
          throw new KeelsonError(
            Errors.TOO_LARGE,
            `The "copy" operations of this patch would duplicate more than ${maxCopyBytes} bytes`,
          )
        }
        root = add(root, at, structuredClone(value), i)
        break
      }
      case 'test':
        if (!deepEqual(get(root, at, i), operationValue(operation, i))) {
          throw new KeelsonError(
            Errors.PATCH_TEST_FAILED,
            `Operation ${i}: the value at "${operation.path}" is not the one tested; nothing applied`,
          )
        }
        break
    }
  }
  return root
}

function bad(detail: string): KeelsonError {
  return new KeelsonError(Errors.BAD_JSON_PATCH, detail)
}

function operationValue(operation: JsonObject, i: number): Json {
  if (!Object.hasOwn(operation, 'value'))
    throw bad(`Operation ${i}: "${operation.op}" needs a "value"`)
  return structuredClone(operation.value!)
}

/** The reference tokens of a JSON Pointer (RFC 6901 §3, §4), each checked. */
function pointer(text: Json | undefined, i: number, member: string): string[] {
  if (typeof text !== 'string')
    throw bad(`Operation ${i}: "${member}" must be a JSON Pointer string`)
  if (text === '') return []
  if (text[0] !== '/') throw bad(`Operation ${i}: the pointer "${text}" must start with "/"`)
  return text
    .slice(1)
    .split('/')
    .map((token) => {
      if (/~(?![01])/.test(token))
        throw bad(`Operation ${i}: "~" must be "~0" or "~1" in "${text}"`)
      const key = token.replace(/~1/g, '/').replace(/~0/g, '~')
      if (isForbiddenKey(key)) {
        throw new KeelsonError(Errors.FORBIDDEN_KEY, `The key "${key}" is not allowed in a pointer`)
      }
      return key
    })
}

/** The value at `path`; throws when there is none. */
function get(root: Json, path: readonly string[], i: number): Json {
  let node = root
  for (const key of path) {
    const next = child(node, key)
    if (next === undefined) throw bad(`Operation ${i}: nothing is at "/${path.join('/')}"`)
    node = next
  }
  return node
}

function child(node: Json, key: string): Json | undefined {
  if (Array.isArray(node)) return INDEX.test(key) ? node[Number(key)] : undefined
  if (isObject(node) && Object.hasOwn(node, key)) return node[key]
  return undefined
}

/** The container of `path`'s last key; throws when it is missing or not a container. */
function parentOf(root: Json, path: readonly string[], i: number): Json[] | JsonObject {
  const parent = get(root, path.slice(0, -1), i)
  if (!Array.isArray(parent) && !isObject(parent)) {
    throw bad(`Operation ${i}: "/${path.slice(0, -1).join('/')}" holds no object or array`)
  }
  return parent
}

/** RFC 6902 §4.1: the root replaced, a member set, or an element inserted (`-` appends). */
function add(root: Json, path: readonly string[], value: Json, i: number): Json {
  if (path.length === 0) return value
  const parent = parentOf(root, path, i)
  const key = path[path.length - 1]!
  if (Array.isArray(parent)) {
    const index = key === '-' ? parent.length : INDEX.test(key) ? Number(key) : -1
    if (index < 0 || index > parent.length) throw bad(`Operation ${i}: no array index "${key}"`)
    parent.splice(index, 0, value)
  } else {
    parent[key] = value
  }
  return root
}

/** RFC 6902 §4.2: the value at `path` taken out (it must exist); the root cannot be removed. */
function remove(root: Json, path: readonly string[], i: number): { root: Json; value: Json } {
  if (path.length === 0) throw bad(`Operation ${i}: the whole document cannot be removed`)
  const value = get(root, path, i)
  const parent = parentOf(root, path, i)
  const key = path[path.length - 1]!
  if (Array.isArray(parent)) parent.splice(Number(key), 1)
  else delete parent[key]
  return { root, value }
}
