/**
 * Takes a stream's socket out of node's HTTP server once its response head
 * is out, the way node hands an upgraded socket to a WebSocket server
 * (lib/_http_server.js, `onParserExecuteCommon`): the server's listeners on
 * the socket go, its HTTP parser goes back to node's pool (parser state,
 * bound callbacks, the request and the response with it), and the socket
 * carries the stream alone. An SSE stream never ends to make room for a
 * next request on its connection, so none of that state is of use to it.
 * Bench (d), bench/RESULTS.md: an idle SSE stream held 10.4 KiB of server
 * RSS on node's HTTP server and holds about 7 KiB detached.
 *
 * It changes nothing unless it finds the socket as node's HTTP/1 server
 * leaves it (each of the server's listeners found by name, the request read
 * to its end, the response the socket's current one): on a node version
 * that differs, the stream simply stays on the response. Listeners others
 * put on the socket stay where they are.
 */

import type { ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { Socket } from 'node:net'

/** node's own `freeParser` (lib/_http_common.js), or undefined where node no longer has it. */
const freeParser = loadFreeParser()

/** The listener node's HTTP server adds to a connection for each event (connectionListenerInternal). */
const SERVER_LISTENERS: ReadonlyArray<readonly [string, string]> = [
  ['data', 'bound socketOnData'],
  ['end', 'bound socketOnEnd'],
  ['close', 'bound socketOnClose'],
  ['drain', 'bound socketOnDrain'],
  ['error', 'socketOnError'],
  ['timeout', 'socketOnTimeout'],
  ['pause', 'onSocketPause'],
  ['resume', 'onSocketResume'],
]

type ServerSocket = Socket & { parser?: unknown; _httpMessage?: unknown }

/**
 * Detaches `res`'s socket from the HTTP server after the response head was
 * written; call it once the request's parse has unwound (a later turn), not
 * from inside the request handler. Returns the socket when it was taken: from
 * then on `res` is dead, bytes go to the socket, the stream ends with
 * `socket.end()`, and a client's end or a socket error closes the socket.
 * Returns undefined, changing nothing, when it cannot be taken.
 */
export function detachStream(res: ServerResponse): Socket | undefined {
  const socket = res.socket as ServerSocket | null
  if (freeParser === undefined || socket == null || socket.destroyed) return undefined
  if (!res.headersSent || !res.req.complete || socket._httpMessage !== res || !socket.parser)
    return undefined
  const found: [string, (...args: unknown[]) => void][] = []
  for (const [event, name] of SERVER_LISTENERS) {
    const listener = socket.listeners(event).find((fn) => fn.name === name)
    if (listener === undefined) return undefined
    found.push([event, listener as (...args: unknown[]) => void])
  }
  res.detachSocket(socket)
  for (const [event, listener] of found) socket.removeListener(event, listener)
  freeParser(socket.parser, res.req, socket)
  socket.setTimeout(0)
  // What the server's listeners did and the stream still needs: errors end in 'close',
  // and a client that ends its side ends the stream (the server allows half-open sockets).
  socket.on('error', ignoreError)
  socket.on('end', destroyOnEnd)
  // Keep reading, bytes discarded, so the client's end is seen.
  socket.resume()
  return socket
}

function ignoreError(): void {}

function destroyOnEnd(this: Socket): void {
  this.destroy()
}

function loadFreeParser(): ((parser: unknown, req: unknown, socket: unknown) => void) | undefined {
  try {
    const common = createRequire(import.meta.url)('_http_common') as { freeParser?: unknown }
    return typeof common.freeParser === 'function'
      ? (common.freeParser as (parser: unknown, req: unknown, socket: unknown) => void)
      : undefined
  } catch {
    return undefined
  }
}
