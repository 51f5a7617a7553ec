/**
 * The ceiling: the least a Node HTTP server can do to fan changes out over
 * SSE. A GET opens a stream (headers, an empty snapshot); a PATCH body is
 * framed once as `id:`/`data:` and written to every open response. No tree,
 * no scoping, no backpressure: what any Node server could at best do.
 */
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

const streams = new Set<ServerResponse>()
let rev = 0

const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
    })
    res.socket?.setNoDelay(true)
    res.write(`id: ${rev}\ndata: {}\n\n`)
    streams.add(res)
    res.on('close', () => streams.delete(res))
    return
  }
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    res.writeHead(204).end()
    const frame = Buffer.from(`id: ${++rev}\ndata: ${Buffer.concat(chunks).toString()}\n\n`)
    for (const stream of streams) stream.write(frame)
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
