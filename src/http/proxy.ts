/**
 * The client of a request as a trusted reverse proxy saw it (the
 * `trustProxy` option, `--trust-proxy`): its address from
 * `X-Forwarded-For`, its scheme from `X-Forwarded-Proto` and the host it
 * asked for from `X-Forwarded-Host` (else `Host`), read only when the
 * direct peer is a trusted proxy; otherwise the socket's own, whatever the
 * headers say. Which peers are trusted is express's `trust proxy` setting,
 * compiled by express itself (proxy-addr), and the answers are those of
 * express's `req.ip`, `req.protocol` and `req.host`: here they serve the
 * plain node requests of the REST fast path and of WebSocket upgrades too.
 *
 * @see https://expressjs.com/en/guide/behind-proxies.html
 * @see https://www.rfc-editor.org/rfc/rfc7239#section-5.2 (the `for` chain X-Forwarded-For predates)
 */
import type { IncomingMessage } from 'node:http'
import type { TLSSocket } from 'node:tls'
import express from 'express'

/**
 * proxy-addr's trust function: true when `address`, `hop` hops away from
 * this server (0: the direct peer), is a trusted proxy.
 */
export type ProxyTrust = (address: string, hop: number) => boolean

/** Trusts no peer: forwarded headers are never read (the default). */
export const TRUST_NONE: ProxyTrust = () => false

/**
 * Compiles the `trustProxy` option as express's `trust proxy` does: each
 * entry `loopback`, `linklocal`, `uniquelocal`, an IP address or a CIDR
 * range (`10.0.0.0/8`, `fd00::/8`, `10.0.0.0/255.0.0.0`). Throws a
 * TypeError naming an entry that is none of these. Hop counts and `true`
 * (trust every peer) are not taken: a proxy is named by its address.
 */
export function compileProxyTrust(entries: readonly string[]): ProxyTrust {
  if (entries.length === 0) return TRUST_NONE
  // proxy-addr would read `1` as the address 0.0.0.1, where express's number 1 means one hop.
  const count = entries.find((entry) => /^\d+$/.test(entry))
  if (count !== undefined) throw new TypeError(`a hop count is not taken, name the proxy: ${count}`)
  // express compiles the setting when it is set (and throws there); its result is kept as 'trust proxy fn'.
  const settings = express()
  settings.set('trust proxy', [...entries])
  return settings.get('trust proxy fn') as ProxyTrust
}

/** True when the direct peer of `req` is a trusted proxy, so its forwarded headers count. */
export function fromTrustedProxy(req: IncomingMessage, trust: ProxyTrust): boolean {
  const peer = req.socket.remoteAddress
  return peer !== undefined && trust(peer, 0)
}

/**
 * The client's address: the direct peer's, or, from a trusted proxy, the
 * right-most `X-Forwarded-For` entry that is not itself a trusted proxy
 * (the left-most when all are): entries left of it were written by
 * whoever sent them and prove nothing. As proxy-addr, entries are split at
 * commas with spaces around them dropped, empty ones skipped.
 */
export function clientAddress(req: IncomingMessage, trust: ProxyTrust): string | undefined {
  let address = req.socket.remoteAddress
  if (address === undefined || !trust(address, 0)) return address
  const forwarded = req.headers['x-forwarded-for']
  if (typeof forwarded !== 'string') return address
  // Walked from the right, without splitting the whole header: only the trusted hops are read.
  let end = forwarded.length
  let hop = 0
  while (end > 0) {
    const comma = forwarded.lastIndexOf(',', end - 1)
    const entry = trimSpaces(forwarded.slice(comma + 1, end))
    end = Math.max(comma, 0)
    if (entry === '') continue
    hop++
    address = entry
    if (!trust(address, hop)) break
  }
  return address
}

/**
 * The scheme the client used: `https` on TLS; from a trusted proxy, its
 * `X-Forwarded-Proto` (the first of a list) when that is `http` or
 * `https`; else `http`.
 */
export function clientScheme(req: IncomingMessage, trust: ProxyTrust): 'http' | 'https' {
  const own = (req.socket as TLSSocket).encrypted ? 'https' : 'http'
  const header = req.headers['x-forwarded-proto']
  if (typeof header !== 'string' || !fromTrustedProxy(req, trust)) return own
  const comma = header.indexOf(',')
  const proto = (comma < 0 ? header : header.slice(0, comma)).trim().toLowerCase()
  return proto === 'https' || proto === 'http' ? proto : own
}

/**
 * The host (and port) the client asked for: from a trusted proxy, its
 * `X-Forwarded-Host` (the first of a list) when it sends one; else `Host`.
 */
export function clientHost(req: IncomingMessage, trust: ProxyTrust): string | undefined {
  const header = req.headers['x-forwarded-host']
  if (typeof header !== 'string' || header === '' || !fromTrustedProxy(req, trust)) {
    return req.headers.host || undefined
  }
  const comma = header.indexOf(',')
  return (comma < 0 ? header : header.slice(0, comma)).trimEnd() || undefined
}

/**
 * The port the client connected to: from a trusted proxy, the port of the
 * host it asked for, else its scheme's default (the proxy's listener);
 * otherwise this socket's local port.
 */
export function clientPort(req: IncomingMessage, trust: ProxyTrust): number | undefined {
  if (!fromTrustedProxy(req, trust)) return req.socket.localPort
  const port = /:(\d{1,5})$/.exec(clientHost(req, trust) ?? '')?.[1]
  if (port !== undefined) return Number(port)
  return clientScheme(req, trust) === 'https' ? 443 : 80
}

function trimSpaces(text: string): string {
  let start = 0
  let end = text.length
  while (start < end && text.charCodeAt(start) === 0x20) start++
  while (end > start && text.charCodeAt(end - 1) === 0x20) end--
  return text.slice(start, end)
}
