/**
 * The API fast path (SPEC §3, §4): requests under `/signalk/v1/api` (reads,
 * SSE streams and writes) answered on node's own request and response
 * before express sees them. `OPTIONS` (CORS preflights), `GET .../meta`,
 * other routes and URLs it does not parse the way express does fall through
 * to express unchanged, and the answers are the same bytes express's route
 * gives: the same {@link Api}, CORS headers and problem writer.
 *
 * Why: in bench scenario (e) keelson's handler was ~2 % of a GET and
 * express's routing and per-request objects most of the rest; an open
 * stream kept those objects alive, 16 KiB of RSS per idle stream in (d);
 * express's own code was 8 % of the server's CPU in a (b2) profile, where
 * changes arrive as PATCHes (figures before and after in bench/RESULTS.md).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { wantsEventStream } from './accept.js'
import { setCorsHeaders, type WritePolicy } from './guard.js'
import { answerError } from './problem.js'
import type { Api } from './rest.js'

/** Where the REST API is mounted. */
export const API_PREFIX = '/signalk/v1/api'

/** Characters after which parseurl (express) stops its fast parse and reads the URL another way. */
const ODD_URL = /[\t\n\f\r #\u00a0\ufeff]/
/** What express's metadata route (src/signalk/meta.ts) answers before the REST router. */
const META = /\/meta\/?$/

/** Answers the request and returns true, or returns false and leaves it untouched. */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean

/** Builds the fast path of `api`. */
export function createApiFastPath(api: Api, policy: WritePolicy, log: Logger): FastPath {
  return (req, res) => {
    const method = req.method
    if (method === 'OPTIONS') return false
    const url = req.url ?? ''
    if (!url.startsWith(API_PREFIX)) return false
    const after = url.charCodeAt(API_PREFIX.length)
    // Only the mount itself or below it (`/signalk/v1/apix` is another route); NaN is the end.
    if (!(Number.isNaN(after) || after === 0x2f || after === 0x3f)) return false
    if (ODD_URL.test(url)) return false
    const q = url.indexOf('?', API_PREFIX.length)
    const rest = url.slice(API_PREFIX.length, q < 0 ? undefined : q)
    const urlPath = rest === '' ? '/' : rest
    const read = method === 'GET' || method === 'HEAD'
    if (read && META.test(urlPath) && !wantsEventStream(req.headers.accept)) return false
    const origin = req.headers.origin
    if (origin) setCorsHeaders(res, origin, policy)
    try {
      api.handle(req, res, urlPath, q < 0 ? '' : url.slice(q + 1))?.catch((err: unknown) => {
        answerError(err, req, res, log)
      })
    } catch (err) {
      answerError(err, req, res, log)
    }
    return true
  }
}
