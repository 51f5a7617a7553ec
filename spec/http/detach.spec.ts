import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { type AddressInfo, connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { detachStream } from '../../src/http/detach.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

let server: Server | undefined
const sockets: Socket[] = []

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  server?.closeAllConnections()
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  server = undefined
})

async function listen(handler: Handler): Promise<number> {
  server = createServer(handler)
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

/** A raw client that sends `request` and collects everything it receives. */
function rawClient(port: number, request: string): { socket: Socket; text: () => string } {
  const socket = connect(port, '127.0.0.1')
  sockets.push(socket)
  let received = ''
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1')
  })
  socket.on('error', () => {})
  socket.write(request)
  return { socket, text: () => received }
}

const STREAM_GET = 'GET /s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n'

function until(predicate: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (predicate()) resolve()
      else if (Date.now() > deadline) reject(new Error('timed out'))
      else setTimeout(poll, 5)
    }
    poll()
  })
}

/** Opens a stream response and, a turn later, detaches it; resolves with what detachStream returned. */
function streamHandler(taken: (socket: Socket | undefined, res: ServerResponse) => void): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' })
    res.flushHeaders()
    setImmediate(() => taken(detachStream(res), res))
  }
}

describe('detachStream', () => {
  it('takes the socket from the HTTP server: no parser, no server listeners, the response let go', async () => {
    let socket: Socket | undefined
    let res: ServerResponse | undefined
    const port = await listen(
      streamHandler((s, r) => {
        socket = s
        res = r
      }),
    )
    rawClient(port, STREAM_GET)
    await until(() => res !== undefined)
    expect(socket).toBeDefined()
    expect(res!.socket).toBeNull()
    const held = socket as Socket & { parser?: unknown; _httpMessage?: unknown }
    expect(held.parser).toBeNull()
    expect(held._httpMessage).toBeNull()
    const names = held.eventNames().flatMap((e) => held.listeners(e).map((fn) => fn.name))
    expect(names.filter((n) => /socketOn|onSocket|onServerResponse/.test(n))).toEqual([])
  })

  it('leaves a socket whose bytes reach the client and that the stream ends itself', async () => {
    let socket: Socket | undefined
    const port = await listen(streamHandler((s) => (socket = s)))
    const client = rawClient(port, STREAM_GET)
    await until(() => socket !== undefined)
    socket!.write('6\r\ndata: \r\n')
    await until(() => client.text().includes('data: '))
    expect(client.text()).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n6\r\ndata: \r\n$/)
    const ended = new Promise<void>((resolve) => client.socket.on('end', resolve))
    socket!.end('0\r\n\r\n')
    await ended
    expect(client.text().endsWith('0\r\n\r\n')).toBe(true)
  })

  it('closes the socket when the client ends its side, and ignores what the client sends', async () => {
    let socket: Socket | undefined
    const port = await listen(streamHandler((s) => (socket = s)))
    const client = rawClient(port, STREAM_GET)
    await until(() => socket !== undefined)
    let closed = false
    socket!.on('close', () => (closed = true))
    client.socket.write('GET /other HTTP/1.1\r\nHost: x\r\n\r\n')
    await new Promise((r) => setTimeout(r, 30))
    expect(closed).toBe(false)
    expect(client.text()).not.toContain('/other')
    client.socket.end()
    await until(() => closed)
  })

  it('refuses, changing nothing, while the request body is still arriving', async () => {
    let outcome: { socket: Socket | undefined; res: ServerResponse } | undefined
    const port = await listen(streamHandler((socket, res) => (outcome = { socket, res })))
    rawClient(
      port,
      'GET /s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nContent-Length: 10\r\n\r\nabc',
    )
    await until(() => outcome !== undefined)
    expect(outcome!.socket).toBeUndefined()
    expect(outcome!.res.socket).not.toBeNull()
    expect((outcome!.res.socket as Socket & { parser?: unknown }).parser).toBeTruthy()
  })

  it('refuses a response whose head has not been sent', async () => {
    let taken: Socket | undefined | null = null
    const port = await listen((_req, res) => {
      setImmediate(() => {
        taken = detachStream(res)
        res.end('ok')
      })
    })
    const client = rawClient(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    await until(() => client.text().endsWith('ok'))
    expect(taken).toBeUndefined()
  })

  it("refuses a socket whose listeners are not the HTTP server's own, changing nothing", async () => {
    let taken: Socket | undefined | null = null
    const port = await listen((req, res) => {
      // The server's own 'data' listener gone: not the socket node's HTTP server leaves.
      const socket = req.socket
      for (const fn of socket.listeners('data')) socket.removeListener('data', fn as () => void)
      res.writeHead(200)
      res.flushHeaders()
      setImmediate(() => {
        taken = detachStream(res)
        res.end()
      })
    })
    rawClient(port, STREAM_GET)
    await until(() => taken !== null)
    expect(taken).toBeUndefined()
  })
})
