/**
 * The ceiling: the least work a Node HTTP server can do to fan changes out
 * over SSE, as a best case for keelson to be measured against. A GET opens a
 * stream (headers, an empty snapshot). A PATCH body is framed once as
 * `id:`/`data:`; the frames of one event-loop turn are joined into one
 * HTTP/1.1 chunk, once, and that same Buffer is written straight to every
 * socket: one write per socket per turn. No tree, no scoping, no backpressure.
 */
import { createServer } from 'node:http'
import '../lib/gc-on-signal.js'
import '../lib/gc-stats.js'
import '../lib/loop-delay.js'
import type { AddressInfo, Socket } from 'node:net'

const sockets = new Set<Socket>()
let rev = 0
let frames: Buffer[] = []

function chunk(body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n')])
}

function flush(): void {
  const batch = chunk(Buffer.concat(frames))
  frames = []
  for (const socket of sockets) socket.write(batch)
}

const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
    })
    res.flushHeaders()
    const socket = res.socket!
    socket.setNoDelay(true)
    socket.write(chunk(Buffer.from(`id: ${rev}\ndata: {}\n\n`)))
    sockets.add(socket)
    res.on('close', () => sockets.delete(socket))
    return
  }
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    res.writeHead(204).end()
    if (frames.length === 0) setImmediate(flush)
    frames.push(Buffer.from(`id: ${++rev}\ndata: ${Buffer.concat(chunks).toString()}\n\n`))
  })
})

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  process.send?.({ type: 'ready', port })
})

function shutdown(): void {
  server.closeAllConnections()
  server.close(() => process.exit(0))
}
process.on('SIGTERM', shutdown)
process.on('disconnect', shutdown)
