/**
 * Who may write (SPEC §3 CORS, §8): writes from a browser only from origins
 * listed with `--cors-origin`; with no users configured, writes only from a
 * loopback peer, from no page but this server's own on a loopback origin,
 * to a loopback or configured host name (no DNS rebinding). Token checks
 * join here when users exist.
 *
 * @see https://fetch.spec.whatwg.org/#http-cors-protocol
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { isIPv4 } from 'node:net'
import type { RequestHandler } from 'express'
import { Errors, KeelsonError } from '../core/errors.js'
import { API_PREFIX } from './fast-path.js'
import {
  clientAddress,
  clientHost,
  clientPort,
  clientScheme,
  type ProxyTrust,
  TRUST_NONE,
} from './proxy.js'

/** Write rules. */
export interface WritePolicy {
  /** Origins allowed to write from a browser (`--cors-origin`). Default none. */
  corsOrigins: readonly string[]
  /**
   * Host names, besides loopback names, that a write's `Host` header may
   * carry while no users exist (the `hostNames` option): a name matches with
   * any port, a `name:port` only that port. Default none.
   */
  hostNames?: readonly string[]
  /**
   * Which peers are trusted proxies (the compiled `trustProxy` option,
   * src/http/proxy.ts): from one, the client's address, scheme, host and
   * port below are those it forwards. Default none.
   */
  proxyTrust?: ProxyTrust
}

/** The methods of the REST API (RFC 9110 §10.2.1 `Allow`), as its 405 and OPTIONS answers list them. */
export const API_ALLOW = 'GET, HEAD, PATCH, PUT, DELETE, OPTIONS'

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  return v4.startsWith('127.') || address === '::1'
}

/**
 * Why `req` may not write, or `undefined` when it may. With no users (for
 * now, always) a write needs, in this order:
 *
 * - an `Origin`, when one is sent, that is a listed `corsOrigins` entry or a
 *   loopback origin of this very server: `localhost`, `127.x.x.x` or
 *   `[::1]`, with this server's scheme and local port (else 403 `CORS_ORIGIN`);
 * - a loopback peer (else 403 `WRITE_NOT_LOCAL`);
 * - a `Host` that is a loopback name (`localhost`, `127.x.x.x`, `[::1]`,
 *   with or without a port) or one of `hostNames` (else 403 `HOST_NOT_ALLOWED`).
 *
 * Behind a trusted proxy (`proxyTrust`) the peer is the client the proxy
 * forwards (`X-Forwarded-For`), and this server's scheme, host and port are
 * those the client asked the proxy for; from any other peer forwarded
 * headers are ignored.
 *
 * The Origin and Host rules stop DNS rebinding: a page of
 * `http://attacker.example:PORT` whose name now resolves to 127.0.0.1 sends
 * that origin and that Host, neither of which passes. Use it on every write
 * path: REST (through {@link checkWriteAllowed}) and the WebSocket upgrade
 * request of a client that sends deltas.
 */
export function writeRefusal(req: IncomingMessage, policy: WritePolicy): KeelsonError | undefined {
  const origin = req.headers.origin
  const trust = policy.proxyTrust ?? TRUST_NONE
  if (
    origin !== undefined &&
    !policy.corsOrigins.includes(origin) &&
    !isOwnLoopbackOrigin(req, origin, trust)
  ) {
    return new KeelsonError(
      Errors.CORS_ORIGIN,
      `Writes from origin ${origin} are not allowed; list it with --cors-origin`,
    )
  }
  if (!isLoopback(clientAddress(req, trust))) return new KeelsonError(Errors.WRITE_NOT_LOCAL)
  const host = clientHost(req, trust)
  if (host === undefined || !isAllowedHost(host, policy.hostNames ?? [])) {
    return new KeelsonError(
      Errors.HOST_NOT_ALLOWED,
      `Writes to host ${host ?? '(none)'} are not allowed; use localhost or a configured host name`,
    )
  }
  return undefined
}

/** Throws {@link writeRefusal}'s error when `req` may not write. */
export function checkWriteAllowed(req: IncomingMessage, policy: WritePolicy): void {
  const refusal = writeRefusal(req, policy)
  if (refusal) throw refusal
}

/**
 * True when `origin` is a page of this server on loopback: its exact
 * serialisation (so no path, user info or `null`), this server's scheme and
 * local port, and a loopback host.
 */
function isOwnLoopbackOrigin(req: IncomingMessage, origin: string, trust: ProxyTrust): boolean {
  let url: URL
  try {
    url = new URL(origin)
  } catch {
    return false
  }
  if (url.origin !== origin) return false
  const scheme = `${clientScheme(req, trust)}:`
  if (url.protocol !== scheme) return false
  const port = url.port === '' ? (scheme === 'https:' ? 443 : 80) : Number(url.port)
  return port === clientPort(req, trust) && isLoopbackName(url.hostname)
}

/** `localhost`, a dotted `127.x.x.x`, or a bracketed IPv6 loopback, lower case. */
function isLoopbackName(name: string): boolean {
  if (name === 'localhost') return true
  if (name.startsWith('[')) return name.endsWith(']') && isLoopback(name.slice(1, -1))
  return isIPv4(name) && name.startsWith('127.')
}

/** A `Host` header: a name or a bracketed IPv6 address, then an optional port (RFC 9110 §7.2). */
const HOST = /^(\[[0-9a-f:.]+\]|[^:[\]/@\s]+)(?::\d{0,5})?$/i

function isAllowedHost(host: string, hostNames: readonly string[]): boolean {
  const match = HOST.exec(host)
  if (!match) return false
  const lower = host.toLowerCase()
  let name = match[1]!.toLowerCase()
  // The URL parser writes an IPv6 address the one way (`[0:0::1]` is `[::1]`).
  if (name.startsWith('[')) name = canonicalIPv6(name) ?? name
  if (isLoopbackName(name)) return true
  return hostNames.some((allowed) => {
    const entry = allowed.toLowerCase()
    return entry === name || entry === lower
  })
}

function canonicalIPv6(bracketed: string): string | undefined {
  try {
    return new URL(`http://${bracketed}/`).hostname
  } catch {
    return undefined
  }
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

/** True for the REST API's mount and anything below it. */
function isApiPath(path: string): boolean {
  return path === API_PREFIX || path.startsWith(`${API_PREFIX}/`)
}

/**
 * CORS: reads (GET, SSE) from any origin; writes only from listed origins.
 * Answers preflights itself, and every `OPTIONS` under the REST API: 204
 * with `Allow` ({@link API_ALLOW}, RFC 9110 §9.3.7), with or without `Origin`.
 */
export function cors(policy: WritePolicy): RequestHandler {
  return (req, res, next) => {
    const origin = req.headers.origin
    const options = req.method === 'OPTIONS'
    if (options && isApiPath(req.path)) res.set('Allow', API_ALLOW)
    if (!origin) {
      if (!options || !isApiPath(req.path)) return next()
      res.status(204).end()
      return
    }
    const writer = setCorsHeaders(res, origin, policy)
    if (!options) return next()
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
