/**
 * Open connections in total and per client IP (SPEC §8 limits): counted
 * from TCP accept to close, and a connection past a limit answered `429
 * Too Many Connections` with `Retry-After` and `Connection: close` before
 * any work is done for its request.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6585#section-4
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
 */
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { Errors, KeelsonError } from '../core/errors.js'
import type { KeelsonOptions } from '../options.js'
import { PROBLEM_TYPE, problemOf } from './problem.js'

/** The options {@link ConnectionLimits} reads. */
export type ConnectionLimitOptions = Pick<KeelsonOptions, 'maxConnections' | 'maxConnectionsPerIp'>

/** Which limit refused a connection: the `reason` label of `keelson_connections_refused_total`. */
export type RefusalReason = 'total' | 'per_ip'

/** The figures `/metrics` reads from the limits of a server (src/http/metrics.ts `addConnections`). */
export interface ConnectionSource {
  /** Connections open now, refused ones still closing included. */
  readonly open: number
  /** Connections refused since the server started, by limit. */
  readonly refused: Readonly<Record<RefusalReason, number>>
  /** The limits themselves. */
  readonly limits: Readonly<Record<RefusalReason, number>>
}

/** Longest a refused connection may stay before it is destroyed: time to send its request and read the answer. */
const REFUSED_TIMEOUT_MS = 5000

/** `Retry-After` spreads over 1 to this many seconds, so refused clients do not all come back at once. */
const MAX_RETRY_AFTER_S = 5

/**
 * Counts a server's open connections, in total and per client IP.
 *
 * A connection is {@link track}ed at TCP accept and freed when its socket
 * closes, however it ends (answered, upgraded, a detached SSE stream,
 * reset). Whether it is refused is asked ({@link refusal}) when it begins
 * to carry HTTP: at accept on plain HTTP, after the handshake on TLS (a
 * 429 can only be read over TLS); a TLS connection still in its handshake
 * already counts against its IP. A refused connection counts until it
 * closes too, as it holds a socket; it is closed within 5 s at most.
 *
 * Per-IP counts live in a Map whose entries go when they reach zero, so its
 * size is the number of IPs with a connection open.
 */
export class ConnectionLimits implements ConnectionSource {
  open = 0
  readonly refused: Record<RefusalReason, number> = { total: 0, per_ip: 0 }
  readonly limits: Readonly<Record<RefusalReason, number>>
  private readonly perIp = new Map<string, number>()

  constructor(options: ConnectionLimitOptions) {
    this.limits = Object.freeze({
      total: options.maxConnections,
      per_ip: options.maxConnectionsPerIp,
    })
  }

  /** IPs with a connection open now. */
  get ips(): number {
    return this.perIp.size
  }

  /** Connections open now from `address`. */
  openFrom(address: string | undefined): number {
    return this.perIp.get(ipKey(address)) ?? 0
  }

  /** Counts `socket` (a TCP connection just accepted) until it closes. */
  track(socket: Socket): void {
    const ip = ipKey(socket.remoteAddress)
    this.open++
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1)
    socket.once('close', () => {
      this.open--
      const left = (this.perIp.get(ip) ?? 1) - 1
      if (left > 0) this.perIp.set(ip, left)
      else this.perIp.delete(ip)
    })
  }

  /**
   * The limit a tracked connection from `address` is past now, if any, and
   * counts it as refused. The per-IP limit is named first: it says more.
   */
  refusal(address: string | undefined): RefusalReason | undefined {
    const reason =
      this.openFrom(address) > this.limits.per_ip
        ? 'per_ip'
        : this.open > this.limits.total
          ? 'total'
          : undefined
    if (reason !== undefined) this.refused[reason]++
    return reason
  }
}

/** IPv4 clients of a dual-stack listener arrive as `::ffff:a.b.c.d`: one client, one key. */
function ipKey(address: string | undefined): string {
  if (address === undefined) return ''
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}

/**
 * Answers a refused connection on its socket and closes it; node's HTTP
 * server never sees it, so nothing is parsed, routed, read or upgraded.
 *
 * The answer is written once the client's first bytes arrive (its request,
 * or an upgrade request: a WebSocket client reads a plain 429 too), not at
 * accept: an HTTP client reads an answer to a request it sent, and one that
 * came before could be taken for a broken connection. What the client sends
 * is read and dropped, and the socket is left to close when the client
 * closes its side (so no unread bytes turn the close into a reset that
 * could lose the answer), or destroyed after 5 s.
 */
export function refuseConnection(socket: Socket, reason: RefusalReason): void {
  socket.on('error', () => {})
  const timer = setTimeout(() => socket.destroy(), REFUSED_TIMEOUT_MS)
  timer.unref()
  socket.once('close', () => clearTimeout(timer))
  let answered = false
  socket.once('data', () => {
    answered = true
    if (socket.writable) socket.end(tooManyConnections(reason))
  })
  // A client gone before asking needs no answer; once answered, the socket closes by itself
  // when both sides have ended (node's autoDestroy), after the answer is out.
  socket.once('end', () => {
    if (!answered) socket.destroy()
  })
  // Flowing: the request is read (and dropped) even when nothing else listens.
  socket.resume()
}

/** The whole HTTP/1.1 answer to a refused connection. */
export function tooManyConnections(reason: RefusalReason): string {
  const detail =
    reason === 'per_ip'
      ? 'Too many connections are open from your address; close some or retry later'
      : 'The server holds as many connections as it allows; retry later'
  const { status, body } = problemOf(new KeelsonError(Errors.TOO_MANY_CONNECTIONS, detail))
  const retryAfter = 1 + Math.floor(Math.random() * MAX_RETRY_AFTER_S)
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    `Content-Type: ${PROBLEM_TYPE}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `Retry-After: ${retryAfter}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  )
}
