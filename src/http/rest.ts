/**
 * The REST API over the tree (SPEC §3): `GET` at any path (or an SSE stream
 * when asked for), conditional GET by ETag, and `PATCH`/`PUT`/`DELETE` writes.
 */
import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { parse as parseQuery } from 'node:querystring'
import express, { type NextFunction, type Request, type Response, type Router } from 'express'
import { Errors, KeelsonError } from '../core/errors.js'
import { isObject, type Json } from '../core/json.js'
import { parseUrlPath, type TreePath } from '../core/path.js'
import type { Change, StateTree } from '../core/state-tree.js'
import { readThrough } from '../core/view.js'
import type { WritePort } from '../core/write-port.js'
import { MAX_PERIOD_MS } from '../options.js'
import type { Principal, PrincipalOf } from '../security/principal.js'
import { isPutRequest, type PutRequests } from '../signalk/put-request.js'
import { type RequestReply, replyJson } from '../signalk/requests.js'
import { wantsEventStream } from './accept.js'
import { readJsonBody } from './body.js'
import { API_ALLOW } from './guard.js'
import { PROBLEM_TYPE, problemOf } from './problem.js'
import { clientAddress, type ProxyTrust, TRUST_NONE } from './proxy.js'
import { isSnapshotPath, type SnapshotReader } from './snapshot.js'
import type { SseTransport } from './sse.js'
import type { SsePlayback } from './sse-playback.js'

/** Limits of request bodies. */
export interface BodyLimits {
  /** Largest request body, bytes. Default 1 MiB. */
  maxBodyBytes: number
  /** Deepest level a write or a path may reach from the root of the tree. Default 64. */
  maxDepth: number
}

const PATCH_TYPES = ['application/merge-patch+json', 'application/json']
const PUT_TYPES = ['application/json']
const JSON_TYPE = 'application/json; charset=utf-8'

/** The time-travel routes under the API (SPEC §9). */
export interface TimeTravelRoutes {
  /** `GET snapshot/<path>?time=` (./snapshot.ts). */
  readonly snapshot: SnapshotReader
  /** SSE streams asked for with `?startTime=` (./sse-playback.ts). */
  readonly playback: SsePlayback
}

/** The API on plain `node:http` objects: shared by the fast path and the router. */
export interface Api {
  /**
   * Answers a request at `urlPath` (below `/signalk/v1/api`, `/` for its
   * root; still percent-encoded); `search` is the raw query string without
   * `?`. `GET`/`HEAD`: the JSON with its ETag, a 304, or an SSE stream when a
   * `GET` asks for one. `PATCH`/`PUT`/`DELETE`: the write, answered with the
   * path's new ETag. Throws (or, for a write, rejects with) a
   * {@link KeelsonError} for any refusal, nothing applied.
   */
  handle(
    req: IncomingMessage,
    res: ServerResponse,
    urlPath: string,
    search: string,
  ): undefined | Promise<void>
}

/**
 * Builds the {@link Api} of `tree`, writing through `port`; `principalOf`
 * tells who each request acts for (SPEC §8: what it reads, whether and
 * where it writes).
 */
export function createApi(
  port: WritePort,
  sse: SseTransport,
  /** Body limits, and which peers are trusted proxies (src/http/proxy.ts) for PUT requests' source labels. */
  limits: BodyLimits & { readonly proxyTrust?: ProxyTrust },
  principalOf: PrincipalOf,
  timeTravel?: TimeTravelRoutes,
  /** Makes the Signal K PUT requests among the PUTs (SPEC §11); without it every PUT is a subtree PUT. */
  putRequests?: PutRequests,
): Api {
  const tree = port.tree
  const bodyOptions = { limit: limits.maxBodyBytes, maxDepth: limits.maxDepth }

  function read(
    req: IncomingMessage,
    res: ServerResponse,
    who: Principal,
    path: TreePath,
    urlPath: string,
  ): void {
    const view = who.view
    const value = readThrough(tree, path, view)
    if (value === undefined) {
      if (!view.full && tree.get(path) !== undefined) {
        throw new KeelsonError(Errors.FORBIDDEN, `You may not read ${urlPath}`)
      }
      throw new KeelsonError(Errors.PATH_NOT_FOUND, `Nothing is stored at ${urlPath}`)
    }
    let etag = view.full ? versionTag(tree, path, value) : undefined
    let body: string | undefined
    if (etag === undefined) {
      body = JSON.stringify(value)
      etag = contentTag(body)
    }
    res.setHeader('ETag', etag)
    res.setHeader('X-Keelson-Event-Id', tree.eventId)
    res.setHeader('Cache-Control', 'no-cache')
    if (matches(req.headers['if-none-match'], etag)) {
      res.statusCode = 304
      res.end()
      return
    }
    body ??= JSON.stringify(value)
    sendJson(res, body)
  }

  function openStream(
    req: IncomingMessage,
    res: ServerResponse,
    who: Principal,
    path: TreePath,
    search: string,
  ): undefined | Promise<void> {
    // The same parser as express's default "simple" query parser: a repeated key is an array.
    const query = search === '' ? {} : parseQuery(search)
    const minPeriod = parseMinPeriod(query.minPeriod)
    const header = req.headers['last-event-id']
    const fromQuery = query.lastEventId
    const lastEventId =
      typeof header === 'string' ? header : typeof fromQuery === 'string' ? fromQuery : undefined
    if (query.startTime !== undefined && timeTravel !== undefined) {
      // SSE playback (SPEC §9): the same stream from a past moment on.
      const { startTime, playbackRate } = query
      const request = { path, startTime, playbackRate, lastEventId, minPeriod, principal: who }
      return timeTravel.playback.open(req, res, request)
    }
    sse.open(req, res, { path, lastEventId, minPeriod, principal: who })
  }

  async function patch(
    req: IncomingMessage,
    res: ServerResponse,
    who: Principal,
    path: TreePath,
  ): Promise<void> {
    checkWriter(who)
    const body = await readJsonBody(req, {
      ...bodyOptions,
      types: PATCH_TYPES,
      allowNullMembers: true,
    })
    const change = await port.submit(
      { kind: 'merge', path: writable(path), value: body },
      who.authorize,
    )
    written(res, who, path, change)
  }

  async function put(
    req: IncomingMessage,
    res: ServerResponse,
    who: Principal,
    path: TreePath,
  ): Promise<void> {
    checkWriter(who)
    // Nulls are read here and refused by the port for a subtree PUT: `{"value":null}` is a PUT request.
    const body = await readJsonBody(req, {
      ...bodyOptions,
      types: PUT_TYPES,
      allowNullMembers: true,
    })
    if (putRequests !== undefined && path.starAt < 0 && isPutRequest(path.segments, body)) {
      const { value, source } = body as { value: Json; source?: Json }
      const client = clientAddress(req, limits.proxyTrust ?? TRUST_NONE)
      const address = (client ?? 'unknown').replace(/[.:]/g, '_')
      const { reply, error } = await putRequests.answer(
        {
          context: path.segments.slice(0, 2),
          path: path.segments.slice(2),
          value,
          ...(source !== undefined && { source }),
        },
        who,
        `http.${address}`,
      )
      sendReply(res, reply, error)
      return
    }
    const change = await port.submit(
      { kind: 'put', path: writable(path), value: body },
      who.authorize,
    )
    written(res, who, path, change)
  }

  /** The answer to a write: the path's new value and ETag, or 204 when it is gone. */
  function written(
    res: ServerResponse,
    who: Principal,
    path: TreePath,
    change: Change | undefined,
  ): void {
    const view = who.view
    const value = readThrough(tree, path, view)
    res.setHeader('X-Keelson-Event-Id', tree.idOf(change?.rev ?? tree.rev))
    if (value === undefined) {
      res.statusCode = 204
      res.end()
      return
    }
    const body = JSON.stringify(value)
    res.setHeader(
      'ETag',
      (view.full ? versionTag(tree, path, value) : undefined) ?? contentTag(body),
    )
    sendJson(res, body)
  }

  async function remove(res: ServerResponse, who: Principal, path: TreePath): Promise<void> {
    checkWriter(who)
    const change = await port.submit({ kind: 'delete', path: writable(path) }, who.authorize)
    res.setHeader('X-Keelson-Event-Id', tree.idOf(change?.rev ?? tree.rev))
    res.statusCode = 204
    res.end()
  }

  function dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    who: Principal,
    path: TreePath,
    urlPath: string,
    search: string,
  ): undefined | Promise<void> {
    switch (req.method) {
      case 'GET':
      case 'HEAD':
        if (req.method === 'GET' && wantsEventStream(req.headers.accept))
          return openStream(req, res, who, path, search)
        read(req, res, who, path, urlPath)
        return
      case 'PATCH':
        return patch(req, res, who, path)
      case 'PUT':
        return put(req, res, who, path)
      case 'DELETE':
        return remove(res, who, path)
      default:
        res.setHeader('Allow', API_ALLOW)
        throw new KeelsonError(
          Errors.METHOD_NOT_ALLOWED,
          `${req.method} is not supported on the API`,
        )
    }
  }

  return {
    handle(req, res, urlPath, search) {
      if (timeTravel !== undefined && isSnapshotPath(urlPath)) {
        const snapshot = timeTravel.snapshot
        const who = principalOf(req)
        if (!(who instanceof Promise)) return snapshot(req, res, who, urlPath, search)
        return who.then((principal) => snapshot(req, res, principal, urlPath, search))
      }
      const path = parseUrlPath(urlPath, tree.selfKey, limits.maxDepth)
      const who = principalOf(req)
      if (!(who instanceof Promise)) return dispatch(req, res, who, path, urlPath, search)
      return who.then((principal) => dispatch(req, res, principal, path, urlPath, search))
    },
  }
}

/** Throws when `who` may not write at all (per path: its `authorize`). */
function checkWriter(who: Principal): void {
  if (who.writeRefusal !== undefined) throw who.writeRefusal
}

/** The segments of a path a write may address: no `*`. */
function writable(path: TreePath): readonly string[] {
  if (path.starAt >= 0) throw new KeelsonError(Errors.WILDCARD_WRITE)
  return path.segments
}

/**
 * The router mounted at `/signalk/v1/api`, for the requests the fast path
 * leaves to express (URLs it does not parse the way express does): the same
 * {@link Api}.
 */
export function createApiRouter(api: Api): Router {
  const router = express.Router()
  // `use`, not a `/{*rest}` route: express would decode the route's parameter itself and
  // answer a malformed percent-encoding with a 500; parseUrlPath answers it with BAD_PATH.
  router.use((req: Request, res: Response, next: NextFunction) => {
    const q = req.url.indexOf('?')
    try {
      api.handle(req, res, req.path, q < 0 ? '' : req.url.slice(q + 1))?.catch(next)
    } catch (err) {
      next(err)
    }
  })
  return router
}

/**
 * The answer to a PUT request (SPEC §11): its status and Signal K reply; a
 * refusal is problem details too (RFC 9457 §3.2 extension members), so both
 * Signal K clients (`statusCode`, `message`) and problem readers understand it.
 */
function sendReply(res: ServerResponse, reply: RequestReply, error?: KeelsonError): void {
  const json = replyJson(reply)
  const body =
    error === undefined
      ? JSON.stringify(json)
      : JSON.stringify({ ...JSON.parse(problemOf(error).body), ...json })
  res.statusCode = reply.statusCode
  res.setHeader('Content-Type', error === undefined ? JSON_TYPE : PROBLEM_TYPE)
  res.setHeader('Content-Length', Buffer.byteLength(body))
  res.end(body)
}

/** `body` (JSON text) as a 200 `application/json` answer; node sends no body for HEAD. */
function sendJson(res: ServerResponse, body: string): void {
  res.setHeader('Content-Type', JSON_TYPE)
  res.setHeader('Content-Length', Buffer.byteLength(body))
  res.end(body)
}

/** ETag from the subtree's version: cheap, and no serialisation needed for a 304. */
function versionTag(tree: StateTree, path: TreePath, value: Json): string | undefined {
  if (path.starAt >= 0 || !isObject(value)) return undefined
  const version = tree.versionOf(value)
  return version === undefined ? undefined : `"${tree.epoch}.${version}"`
}

/** ETag from the body itself, for leaves and wildcard reads. */
function contentTag(body: string): string {
  return `"h${createHash('sha1').update(body).digest('base64url').slice(0, 20)}"`
}

/** `If-None-Match` per RFC 9110 §13.1.2: weak comparison, a list, or `*`. */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false
  return header.split(',').some((tag) => {
    const t = tag.trim()
    return t === '*' || t === etag || t === `W/${etag}`
  })
}

function parseMinPeriod(raw: unknown): number {
  if (raw === undefined) return 0
  const value = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : Number.NaN
  if (!(value <= MAX_PERIOD_MS)) {
    throw new KeelsonError(
      Errors.BAD_QUERY,
      `minPeriod must be a whole number of ms from 0 to ${MAX_PERIOD_MS}`,
    )
  }
  return value
}
