/**
 * The Signal K v2 resources API over HTTP (SPEC §11), in signalk-server's
 * shapes, so Freeboard-SK and other plotters save and show their routes,
 * waypoints, notes, regions, charts and custom types:
 *
 * - `GET /signalk/v2/api/resources`: the types served, `{"<type>":{"description"}}`.
 * - `GET .../<type>[?position=[lon,lat]&distance=m&bbox=[...]&limit=n&href=...&group=...]`:
 *   `{"<id>":{...resource,"timestamp","$source"}}`.
 * - `POST .../<type>`: 201 `{"state":"COMPLETED","statusCode":201,"id"}` (a new UUID;
 *   a chart's `identifier` when it is a valid chart id).
 * - `GET|PUT|DELETE .../<type>/<id>`; `GET .../<type>/<id>/<member>/...`: `{"value"}`.
 * - `POST /plugins/resources-provider/_config/<type>` registers a custom type,
 *   `DELETE` unregisters it (its files stay), `GET /plugins/resources-provider/_config`
 *   lists them (signalk-server's resources-provider).
 *
 * Refusals are problem+json (src/http/problem.ts). Reads go through the
 * caller's view and writes through its ACL check on `resources.<type>.<id>`
 * (SPEC §8).
 *
 * @see https://github.com/SignalK/signalk-server/blob/master/src/api/resources/index.ts
 */
import { randomUUID } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import express, { type NextFunction, type Request, type Response, type Router } from 'express'
import { Errors, KeelsonError } from '../core/errors.js'
import { isObject, type Json } from '../core/json.js'
import { checkKey, decodeSegment } from '../core/path.js'
import { readJsonBody } from '../http/body.js'
import type { KeelsonOptions } from '../options.js'
import type { Principal, PrincipalOf } from '../security/principal.js'
import { parseListQuery } from './filter.js'
import { isValidId } from './schema.js'
import { LEVELS_ABOVE_BODY, RESOURCE_SOURCE, type ResourceStore, STANDARD_TYPES } from './store.js'

/** Where the v2 resources API is served. */
export const RESOURCES_API_PATH = '/signalk/v2/api/resources'

/** Where signalk-server's built-in resources provider takes its configuration. */
export const PROVIDER_CONFIG_PATH = `/plugins/${RESOURCE_SOURCE}/_config`

const JSON_TYPES = ['application/json']
const JSON_TYPE = 'application/json; charset=utf-8'

/** The router of the resources API and of the provider's `_config`; mount it at the root. */
export function resourcesRouter(
  store: ResourceStore,
  principalOf: PrincipalOf,
  options: Pick<KeelsonOptions, 'maxBodyBytes' | 'maxDepth'>,
): Router {
  const bodyOptions = {
    types: JSON_TYPES,
    limit: options.maxBodyBytes,
    maxDepth: options.maxDepth - LEVELS_ABOVE_BODY,
    // Resources are not tree writes: a null member is dropped, as the tree's copy drops it.
    allowNullMembers: true,
  }

  async function api(req: Request, res: Response, keys: string[]): Promise<void> {
    const method = req.method
    const [type, id, ...rest] = keys
    if (type === undefined) {
      allow(res, method, 'GET, HEAD')
      send(res, 200, typesOf(store))
      return
    }
    const who = await principalOf(req)
    if (id === undefined) {
      if (method === 'GET' || method === 'HEAD') {
        const query = parseListQuery(searchOf(req), STANDARD_TYPES.includes(type))
        send(res, 200, store.list(type, query, who.view))
        return
      }
      allow(res, method, 'GET, HEAD, POST')
      checkWriter(who)
      store.requireType(type)
      const body = await readJsonBody(req, bodyOptions)
      const newId = idForNew(type, body)
      await store.set(type, newId, body, who.authorize)
      send(res, 201, { state: 'COMPLETED', statusCode: 201, id: newId })
      return
    }
    if (id === '_providers') {
      allow(res, method, 'GET, HEAD')
      store.requireType(type)
      if (rest.length === 0) send(res, 200, [RESOURCE_SOURCE])
      else if (rest.length === 1 && rest[0] === '_default') send(res, 200, RESOURCE_SOURCE)
      else throw new KeelsonError(Errors.NOT_FOUND, `No endpoint at ${req.originalUrl}`)
      return
    }
    if (rest.length > 0) {
      allow(res, method, 'GET, HEAD')
      let value: Json | undefined = store.read(type, id, who.view)
      for (const key of rest) {
        checkKey(key)
        value = isObject(value) && Object.hasOwn(value, key) ? value[key] : undefined
      }
      if (value === undefined) {
        throw new KeelsonError(Errors.RESOURCE_NOT_FOUND, `Resource not found! (${rest.join('/')})`)
      }
      send(res, 200, { value })
      return
    }
    switch (method) {
      case 'GET':
      case 'HEAD':
        send(res, 200, store.read(type, id, who.view))
        return
      case 'PUT': {
        checkWriter(who)
        store.requireType(type)
        const body = await readJsonBody(req, bodyOptions)
        await store.set(type, id, body, who.authorize)
        send(res, 200, { state: 'COMPLETED', statusCode: 200, id, message: id })
        return
      }
      case 'DELETE':
        checkWriter(who)
        await store.delete(type, id, who.authorize)
        send(res, 200, { state: 'COMPLETED', statusCode: 200, id, message: id })
        return
      default:
        allow(res, method, 'GET, HEAD, PUT, DELETE')
    }
  }

  async function config(req: Request, res: Response, keys: string[]): Promise<void> {
    const [name, ...rest] = keys
    if (name === undefined) {
      allow(res, req.method, 'GET, HEAD')
      const standard = Object.fromEntries(STANDARD_TYPES.map((t) => [t, true]))
      send(res, 200, { standard, custom: store.customTypes() })
      return
    }
    if (rest.length > 0)
      throw new KeelsonError(Errors.NOT_FOUND, `No endpoint at ${req.originalUrl}`)
    allow(res, req.method, 'POST, DELETE')
    const who = await principalOf(req)
    checkWriter(who)
    if (req.method === 'DELETE') {
      await store.unregisterType(name, who.authorize)
      send(res, 200, { state: 'COMPLETED', statusCode: 200, message: 'OK' })
      return
    }
    const body = hasBody(req) ? await readJsonBody(req, bodyOptions) : {}
    const description =
      isObject(body) && typeof body.description === 'string' ? body.description : ''
    await store.registerType(name, description, who.authorize)
    send(res, 200, { state: 'COMPLETED', statusCode: 200, message: 'OK' })
  }

  const router = express.Router()
  // `use`, not routes with parameters: express would decode parameters itself and answer a
  // malformed percent-encoding with a 500; keysOf answers it with BAD_PATH.
  router.use(RESOURCES_API_PATH, handler(api))
  router.use(PROVIDER_CONFIG_PATH, handler(config))
  return router
}

type Handler = (req: Request, res: Response, keys: string[]) => Promise<void>

function handler(run: Handler) {
  return (req: Request, res: Response, next: NextFunction): void => {
    let keys: string[]
    try {
      keys = keysOf(req.path)
    } catch (err) {
      next(err)
      return
    }
    run(req, res, keys).catch(next)
  }
}

/** The percent-decoded segments of a path below the mount point; a trailing `/` is ignored. */
function keysOf(path: string): string[] {
  const parts = path.split('/').slice(1)
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop()
  if (parts.length > 8) throw new KeelsonError(Errors.NOT_FOUND, 'No endpoint this deep')
  return parts.map((part) => checkKey(decodeSegment(part)))
}

/** The id of a new resource: a UUID, or a chart's own valid `identifier` (as signalk-server). */
function idForNew(type: string, body: Json): string {
  if (type === 'charts' && isObject(body) && typeof body.identifier === 'string') {
    if (isValidId('charts', body.identifier, true)) return body.identifier
  }
  return randomUUID()
}

function typesOf(store: ResourceStore): Record<string, { description: string }> {
  const out: Record<string, { description: string }> = {}
  for (const type of store.types()) {
    // signalk-server's wording: "Path containing route resources".
    out[type] = {
      description: `Path containing ${type.endsWith('s') ? type.slice(0, -1) : type} resources`,
    }
  }
  return out
}

/** Throws 405 (with `Allow`) unless `method` is one of `allowed`. */
function allow(res: Response, method: string, allowed: string): void {
  if (allowed.split(', ').includes(method)) return
  res.setHeader('Allow', allowed)
  throw new KeelsonError(Errors.METHOD_NOT_ALLOWED, `${method} is not supported here`)
}

function checkWriter(who: Principal): void {
  if (who.writeRefusal !== undefined) throw who.writeRefusal
}

function searchOf(req: Request): URLSearchParams {
  const q = req.originalUrl.indexOf('?')
  return new URLSearchParams(q < 0 ? '' : req.originalUrl.slice(q + 1))
}

function hasBody(req: Request): boolean {
  const length = req.headers['content-length']
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value)
  res.statusCode = status
  res.setHeader('Content-Type', JSON_TYPE)
  res.setHeader('Content-Length', Buffer.byteLength(body))
  res.setHeader('Cache-Control', 'no-cache')
  res.end(body)
}
