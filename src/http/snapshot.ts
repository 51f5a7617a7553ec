/**
 * The snapshot API (SPEC §9), named and answered as signalk-server's
 * history API: `GET /signalk/v1/api/snapshot/<path>?time=<ISO 8601>` is the
 * subtree at `<path>` as it was at that time, read from the journal, with
 * the path rules of a GET (SPEC §2: `self`, wildcards) and the reader's
 * view (SPEC §8). `snapshot` is reserved under the API, as it is in
 * signalk-server.
 *
 * Refusals: no or a bad `time`, or one in the future, 400; no journal
 * (no `--data-dir`), 501 as signalk-server answers without a history
 * provider; a time before the retained history, or a path missing at that
 * time, 404. The answer carries `X-Keelson-Event-Id`, the id of the
 * revision it shows: a stream opened with it as `Last-Event-ID` goes on
 * from that moment.
 *
 * @see https://signalk.org/specification/1.7.0/doc/rest_api.html
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { parse as parseQuery } from 'node:querystring'
import { Errors, KeelsonError } from '../core/errors.js'
import type { Json } from '../core/json.js'
import { parseUrlPath, readPath } from '../core/path.js'
import type { StateTree } from '../core/state-tree.js'
import type { Principal } from '../security/principal.js'
import { parseTime, type TimeTravelGate } from './time-query.js'

/** The first segment of the snapshot API under `/signalk/v1/api`. */
export const SNAPSHOT_PREFIX = '/snapshot'

/** True when `urlPath` (below `/signalk/v1/api`, still percent-encoded) is the snapshot API's. */
export function isSnapshotPath(urlPath: string): boolean {
  return (
    urlPath.startsWith(SNAPSHOT_PREFIX) &&
    (urlPath.length === SNAPSHOT_PREFIX.length || urlPath[SNAPSHOT_PREFIX.length] === '/')
  )
}

/** Answers one snapshot request. */
export type SnapshotReader = (
  req: IncomingMessage,
  res: ServerResponse,
  who: Principal,
  urlPath: string,
  search: string,
) => Promise<void>

/** The snapshot API over `gate`'s journal. */
export function createSnapshotReader(
  tree: StateTree,
  gate: TimeTravelGate,
  maxDepth: number,
): SnapshotReader {
  return async (req, res, who, urlPath, search) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      throw new KeelsonError(
        Errors.METHOD_NOT_ALLOWED,
        'The snapshot API only reads: GET /signalk/v1/api/snapshot/<path>?time=<ISO 8601>',
      )
    }
    const shown = urlPath.slice(SNAPSHOT_PREFIX.length) || '/'
    const path = parseUrlPath(shown, tree.selfKey, maxDepth)
    const query = search === '' ? {} : parseQuery(search)
    const time = parseTime(query.time, 'time')
    const journal = gate.journal()
    gate.checkRetained(journal, time)
    const release = gate.acquire()
    let value: Json | undefined
    let doc: Json | undefined
    let rev: number
    try {
      const past = await gate.stateAt(journal, time)
      rev = past.rev
      doc = readPath(past.root, path)
      value = who.view.full ? doc : who.view.read(path, doc)
    } finally {
      release()
    }
    const at = new Date(time).toISOString()
    if (value === undefined) {
      if (doc !== undefined) {
        throw new KeelsonError(Errors.FORBIDDEN, `You may not read ${shown}`)
      }
      throw new KeelsonError(Errors.PATH_NOT_FOUND, `Nothing was stored at ${shown} at ${at}`)
    }
    const body = JSON.stringify(value)
    res.setHeader('Content-Type', 'application/json; charset=utf-8')
    res.setHeader('Content-Length', Buffer.byteLength(body))
    res.setHeader('X-Keelson-Event-Id', tree.idOf(rev))
    res.setHeader('Cache-Control', 'no-cache')
    res.end(body)
  }
}
