/**
 * Signal K metadata: the units and descriptions of `@signalk/signalk-schema`
 * merged with the `meta` stored in the tree (from deltas' `meta[]`), served
 * at `GET /signalk/v1/api/<context>/<path>/meta` and sent with `sendMeta=all`.
 *
 * @see https://signalk.org/specification/1.7.0/doc/data_model_metadata.html
 */
import { createRequire } from 'node:module'
import type { RequestHandler } from 'express'
import { isObject, type JsonObject } from '../core/json.js'
import { getAt, parseUrlPath } from '../core/path.js'
import type { StateTree } from '../core/state-tree.js'
import { readThrough } from '../core/view.js'
import { wantsEventStream } from '../http/accept.js'
import type { PrincipalOf } from '../security/principal.js'

const schema = createRequire(import.meta.url)('@signalk/signalk-schema') as {
  getMetadata(path: string): JsonObject | undefined
}

/**
 * Schema lookups already made, those that found metadata. Bounded: a path
 * of random keys must not grow it (GET .../<random>/meta), so misses and
 * long keys are not kept and it is cleared when full (a schema pattern with
 * a `*` level matches random instance names).
 */
const cache = new Map<string, JsonObject | null>()
const MAX_CACHED = 5000
const MAX_CACHED_KEY = 256

/** Entries in the schema lookup cache (for tests of its bound). @internal */
export function schemaMetaCacheSize(): number {
  return cache.size
}

/** The schema's metadata of `path` in a context of `group` (`vessels`, `atons`...), or undefined. */
export function schemaMeta(group: string, path: readonly string[]): JsonObject | undefined {
  const key = `${group}.${path.join('.')}`
  let meta = cache.get(key)
  if (meta === undefined) {
    // The schema keys its table by `/<group>/*/<path>`; any id stands for `*`.
    const found = schema.getMetadata(`${group}.id.${path.join('.')}`)
    meta = found ? structuredClone(found) : null
    // Only what the schema knows is kept: paths of random keys (GET .../<random>/meta) are not.
    if (meta !== null && key.length <= MAX_CACHED_KEY) {
      if (cache.size >= MAX_CACHED) cache.clear()
      cache.set(key, meta)
    }
  }
  return meta ?? undefined
}

/** The metadata of a path: schema metadata with the tree's `meta` on top; undefined when neither exists. */
export function metaOf(
  tree: StateTree,
  context: readonly string[],
  path: readonly string[],
): JsonObject | undefined {
  const fromSchema = schemaMeta(context[0]!, path)
  const stored = getAt(tree.get({ segments: [], starAt: -1 }), [...context, ...path, 'meta'])
  if (!isObject(stored)) return fromSchema
  return fromSchema ? { ...fromSchema, ...stored } : stored
}

/**
 * `GET <context>/<path>/meta` below `/signalk/v1/api`, as signalk-server
 * answers it. Anything else (and a path with no metadata at all) passes on
 * to the REST router.
 */
export function metaRoute(
  tree: StateTree,
  maxDepth: number,
  principalOf: PrincipalOf,
): RequestHandler {
  return async (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next()
    if (!/\/meta\/?$/.test(req.path) || wantsEventStream(req.headers.accept)) return next()
    const { segments, starAt } = parseUrlPath(req.path, tree.selfKey, maxDepth)
    if (segments.length < 4 || starAt >= 0) return next()
    // Meta of a path the reader may not read is answered as the path itself is (403 or 404).
    const { view } = await principalOf(req)
    if (
      !view.full &&
      readThrough(tree, { segments: segments.slice(0, -1), starAt: -1 }, view) === undefined
    ) {
      return next()
    }
    const meta = metaOf(tree, segments.slice(0, 2), segments.slice(2, -1))
    if (!meta) return next()
    res.set('Cache-Control', 'no-cache').json(meta)
  }
}
