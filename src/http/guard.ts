/**
 * Who may write (SPEC §3 CORS, §8): writes from a browser only from origins
 * listed with `--cors-origin`; with no users configured, writes only from
 * loopback. Token checks join here when users exist.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import type { RequestHandler } from 'express'
import { Errors, KeelsonError } from '../core/errors.js'

/** Write rules. */
export interface WritePolicy {
  /** Origins allowed to write from a browser (`--cors-origin`). Default none. */
  corsOrigins: readonly string[]
}

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  return v4.startsWith('127.') || address === '::1'
}

/** Throws when `req` may not write. */
export function checkWriteAllowed(req: IncomingMessage, policy: WritePolicy): void {
  const origin = req.headers.origin
  if (origin && !policy.corsOrigins.includes(origin) && origin !== ownOrigin(req)) {
    throw new KeelsonError(Errors.CORS_ORIGIN, `Writes from origin ${origin} are not allowed`)
  }
  if (!isLoopback(req.socket.remoteAddress)) throw new KeelsonError(Errors.WRITE_NOT_LOCAL)
}

/** The origin the request was sent to, as express's `req.protocol` tells it with no proxy trusted. */
function ownOrigin(req: IncomingMessage): string {
  const scheme = (req.socket as TLSSocket).encrypted ? 'https' : 'http'
  return `${scheme}://${req.headers.host}`
}

const READ_HEADERS = 'Accept, Last-Event-ID, If-None-Match, Cache-Control'
const WRITE_HEADERS = 'Content-Type, Authorization, If-Match'

/**
 * The CORS headers of every answer to a request from `origin`: any origin
 * may read, a listed one is echoed. Returns true when `origin` may write.
 */
export function setCorsHeaders(res: ServerResponse, origin: string, policy: WritePolicy): boolean {
  const writer = policy.corsOrigins.includes(origin)
  res.setHeader('Vary', 'Origin')
  res.setHeader('Access-Control-Allow-Origin', writer ? origin : '*')
  res.setHeader('Access-Control-Expose-Headers', 'ETag, X-Keelson-Event-Id')
  return writer
}

/**
 * CORS: reads (GET, SSE) from any origin; writes only from listed origins.
 * Answers preflights itself.
 */
export function cors(policy: WritePolicy): RequestHandler {
  return (req, res, next) => {
    const origin = req.headers.origin
    if (!origin) return next()
    const writer = setCorsHeaders(res, origin, policy)
    if (req.method !== 'OPTIONS') return next()
    const wanted = String(req.headers['access-control-request-method'] ?? '').toUpperCase()
    if (wanted === 'GET' || wanted === 'HEAD') {
      res.set('Access-Control-Allow-Methods', 'GET, HEAD')
      res.set('Access-Control-Allow-Headers', READ_HEADERS)
    } else if (writer) {
      res.set('Access-Control-Allow-Methods', 'GET, HEAD, PATCH, PUT, DELETE')
      res.set('Access-Control-Allow-Headers', `${READ_HEADERS}, ${WRITE_HEADERS}`)
    } else {
      res.removeHeader('Access-Control-Allow-Origin')
    }
    res.set('Access-Control-Max-Age', '600')
    res.status(204).end()
  }
}
