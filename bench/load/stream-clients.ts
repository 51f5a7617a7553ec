/**
 * The stream clients of the load generator: raw TCP sockets that send one
 * request (an SSE `GET`, or a WebSocket upgrade offering no compression) and
 * scan the bytes they get for values, framing and all (a chunk-size line or
 * a WebSocket frame header never holds a value, and frames are never split
 * across chunks). Every socket reads into one shared buffer (`onread`): a
 * read is scanned before the next one lands, so nothing is allocated per
 * read but a view, and a value cut by the end of a read is copied over.
 */
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { scanValues, type Tally } from './tally.js'

/** One open stream client. */
export interface StreamClient {
  /** Values counted so far. */
  received: number
  close(): void
}

const READ_BUFFER = Buffer.allocUnsafe(256 * 1024)

/** Opens an SSE stream on `path`; resolves once the snapshot has arrived. */
export function openSse(port: number, path: string, tally: Tally): Promise<StreamClient> {
  const request = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`
  return openStream(port, request, 'HTTP/1.1 200', (head) => head.includes('\ndata:'), tally)
}

/** Opens a WebSocket stream at `path`; resolves on the first message after the 101 (the hello). */
export function openWs(port: number, path: string, tally: Tally): Promise<StreamClient> {
  const request =
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`
  const hasMessage = (head: string): boolean => {
    const end = head.indexOf('\r\n\r\n')
    return end >= 0 && head.length > end + 4
  }
  return openStream(port, request, 'HTTP/1.1 101', hasMessage, tally)
}

function openStream(
  port: number,
  request: string,
  status: string,
  isOpen: (head: string) => boolean,
  tally: Tally,
): Promise<StreamClient> {
  return new Promise((resolve, reject) => {
    let head = ''
    let open = false
    let carry: Buffer | undefined
    const where = { from: 0 }
    const scan = (bytes: Buffer): void => {
      client.received += scanValues(bytes, tally, performance.now(), where)
      carry = where.from < bytes.length ? Buffer.from(bytes.subarray(where.from)) : undefined
    }
    const onBytes = (bytes: Buffer): void => {
      if (open) {
        scan(carry ? Buffer.concat([carry, bytes]) : bytes)
        return
      }
      head += bytes.toString('latin1')
      if (!head.startsWith(status.slice(0, head.length))) {
        socket.destroy()
        reject(new Error(`stream open failed: ${head.slice(0, 60)}`))
        return
      }
      if (!isOpen(head)) return
      open = true
      resolve(client)
      scan(Buffer.from(head, 'latin1'))
    }
    const socket = connect({
      port,
      host: '127.0.0.1',
      onread: {
        buffer: READ_BUFFER,
        callback: (size) => {
          onBytes(READ_BUFFER.subarray(0, size))
          return true
        },
      },
    })
    const client: StreamClient = { received: 0, close: () => socket.destroy() }
    socket.setNoDelay(true)
    socket.on('connect', () => socket.write(request))
    socket.on('error', (error) => {
      if (!open) reject(error)
    })
  })
}
