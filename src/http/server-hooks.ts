/**
 * What node's HTTP server answers before any request handler runs, made to
 * answer as every other error does (SPEC §3: `application/problem+json`):
 * connections past the limits (SPEC §8, src/http/limits.ts), requests its
 * parser refuses (`clientError`) and `Expect: 100-continue`
 * (`checkContinue`).
 *
 * @see https://nodejs.org/docs/latest-v20.x/api/http.html#event-clienterror
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.1.1
 */
import { type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { Server as TlsServer } from 'node:tls'
import type { Logger } from 'pino'
import { Errors, KeelsonError } from '../core/errors.js'
import type { KeelsonOptions } from '../options.js'
import { tooLarge } from './body.js'
import { ConnectionLimits, refuseConnection } from './limits.js'
import type { Metrics } from './metrics.js'
import { PROBLEM_TYPE, problemOf, sendProblem } from './problem.js'

/** The options {@link hookServer} reads. */
export type ServerHookOptions = Pick<
  KeelsonOptions,
  'maxBodyBytes' | 'maxConnections' | 'maxConnectionsPerIp'
>

/** Servers already hooked, with their limits: a second {@link hookServer} call must not answer twice. */
const hooked = new WeakMap<Server, ConnectionLimits>()

/** How long a socket refused by the parser may take to flush its answer before it is destroyed. */
const FLUSH_TIMEOUT_MS = 2000

/**
 * Installs keelson's answers on `server` (once; later calls do nothing but
 * return the same limits). `server` is an `http.Server` or an
 * `https.Server` (then WebSocket upgrades run over TLS too).
 *
 * - Connection limits (`maxConnections`, default 100000;
 *   `maxConnectionsPerIp`, default 1000): every TCP connection is counted
 *   from accept to close; one past a limit is answered 429
 *   `TOO_MANY_CONNECTIONS` with `Retry-After` and `Connection: close` and
 *   never reaches node's HTTP server (see {@link limitConnections}). Its
 *   figures join `metrics` when given (`keelson_connections_*`).
 * - `clientError`: a request node's parser refuses gets a problem+json
 *   answer with `Connection: close`, then the socket is closed: 431
 *   `HEADERS_TOO_LARGE` for headers past node's limit, 413 `TOO_LARGE` for
 *   chunk extensions past it, 400 `BAD_REQUEST` for any other parse error
 *   (an unknown method, `Content-Length` with `Transfer-Encoding`, a
 *   duplicate `Content-Length`, bad chunk framing). A reset connection, a
 *   socket no longer writable, or one still answering an earlier pipelined
 *   request is only destroyed (see {@link mayAnswer}); a request timeout
 *   gets node's bare 408.
 * - `checkContinue` (`Expect: 100-continue`, RFC 9110 §10.1.1): a declared
 *   `Content-Length` over `maxBodyBytes` (default 1 MiB) is answered 413
 *   `TOO_LARGE` with `Connection: close` and no `100 Continue`, so the client
 *   never sends the body; any other request gets `100 Continue` and goes on
 *   as node would send it: `server.emit('request', req, res)`, to the
 *   server's own request listeners (the app given to `createServer`), so
 *   nothing else needs to be known here.
 */
export function hookServer(
  server: Server,
  options: ServerHookOptions,
  log: Logger,
  metrics?: Pick<Metrics, 'addConnections'>,
): ConnectionLimits {
  const known = hooked.get(server)
  if (known) return known
  const limits = new ConnectionLimits(options)
  hooked.set(server, limits)
  limitConnections(server, limits, log)
  metrics?.addConnections(limits)
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    answerClientError(err, socket, log)
  })
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers['content-length'])
    if (declared > options.maxBodyBytes) {
      // sendProblem closes the connection after a 413: the body was never asked for.
      sendProblem(res, tooLarge(options.maxBodyBytes))
      return
    }
    res.writeContinue()
    server.emit('request', req, res)
  })
  return limits
}

/**
 * Puts the limits in front of node's HTTP server: the listeners of the
 * event by which a connection reaches it (`connection` on `http.Server`,
 * `secureConnection` after the handshake on `https.Server`) are taken off
 * and called only for connections within the limits. A refused connection
 * is answered on its socket by {@link refuseConnection}: node's HTTP server
 * never sees it, so no request of it is parsed, routed, has its body read
 * or is upgraded, whatever listeners the app adds later.
 *
 * Why not answer in a `request` or `upgrade` listener: node calls every
 * listener of an event, and the app's own come first (`request`) or are
 * added after this hook (`upgrade`), so a listener here could answer but
 * not stop the app. Why not at TCP accept on TLS: the client reads only
 * TLS, so the 429 waits for the handshake; the connection counts from
 * accept all the same.
 */
function limitConnections(server: Server, limits: ConnectionLimits, log: Logger): void {
  const tls = server instanceof TlsServer
  const event = tls ? 'secureConnection' : 'connection'
  const forward = server.listeners(event) as ((this: Server, socket: Socket) => void)[]
  server.removeAllListeners(event)
  if (tls) server.prependListener('connection', (socket: Socket) => limits.track(socket))
  server.on(event, function (this: Server, socket: Socket) {
    if (!tls) limits.track(socket)
    const reason = limits.refusal(socket.remoteAddress)
    if (reason !== undefined) {
      log.debug({ reason, address: socket.remoteAddress }, 'connection refused: too many')
      refuseConnection(socket, reason)
      return
    }
    for (const listener of forward) listener.call(this, socket)
  })
}

/** Sockets already answered: node's parser reports every later chunk of a refused request again. */
const answered = new WeakSet<Duplex>()

function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, log: Logger): void {
  if (answered.has(socket)) return
  answered.add(socket)
  log.debug({ code: err.code, reason: (err as { reason?: string }).reason }, 'http client error')
  if (err.code === 'ECONNRESET' || !socket.writable || !mayAnswer(socket)) {
    socket.destroy()
    return
  }
  socket.end(rawAnswer(err))
  const timer = setTimeout(() => socket.destroy(), FLUSH_TIMEOUT_MS)
  timer.unref()
  socket.once('finish', () => {
    clearTimeout(timer)
    socket.destroy()
  })
  socket.once('close', () => clearTimeout(timer))
}

/**
 * Whether an answer written now is read as the answer to the refused
 * request: no answer is in flight on the socket, or the one in flight is for
 * this same request (its body's framing is what failed) and has not begun.
 * Else the refused request is pipelined behind one still being answered, and
 * an answer now would be read as that one's: the socket is only closed.
 * node's own rule is looser (any answer not begun), and then answers a
 * pipelined request's error in the place of the request before it.
 */
function mayAnswer(socket: Duplex): boolean {
  const current = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage
  return !current || (!current.headersSent && !current.req.complete)
}

/** The whole HTTP/1.1 answer to a request node's parser refused. */
function rawAnswer(err: NodeJS.ErrnoException): string {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    // No entry of the error table has status 408; node's own bare answer.
    return 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n'
  }
  const { status, body } = problemOf(clientErrorOf(err))
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    `Content-Type: ${PROBLEM_TYPE}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  )
}

/** The table error of a parse error, with llhttp's reason as the detail. */
function clientErrorOf(err: NodeJS.ErrnoException): KeelsonError {
  const reason = (err as { reason?: string }).reason ?? err.message
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new KeelsonError(Errors.HEADERS_TOO_LARGE)
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new KeelsonError(Errors.TOO_LARGE, 'The chunk extensions are larger than allowed')
    default:
      return new KeelsonError(Errors.BAD_REQUEST, `The request could not be parsed: ${reason}`)
  }
}
