/**
 * The stream clients of the load generator. SSE clients are raw TCP sockets
 * that send one GET and scan the bytes for values, chunked framing and all
 * (a chunk-size line never holds a value, and frames are never split across
 * chunks); WebSocket clients are raw sockets too, scanned the same way.
 */
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { scanValues, type Tally } from './tally.js'

/** One open stream client. */
export interface StreamClient {
  /** Values counted so far. */
  received: number
  close(): void
}

/** Opens an SSE stream on `path`; resolves once the snapshot has arrived. */
export function openSse(port: number, path: string, tally: Tally): Promise<StreamClient> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    let carry = ''
    let ready = false
    const where = { from: 0 }
    const client: StreamClient = { received: 0, close: () => socket.destroy() }
    socket.on('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`)
    })
    socket.on('data', (chunk: Buffer) => {
      const text = carry.length > 0 ? carry + chunk.toString('latin1') : chunk.toString('latin1')
      if (!ready) {
        if (!text.startsWith('HTTP/1.1 200')) {
          socket.destroy()
          reject(new Error(`SSE open failed: ${text.slice(0, 60)}`))
          return
        }
        if (!text.includes('\ndata:')) {
          carry = text
          return
        }
        ready = true
        resolve(client)
      }
      client.received += scanValues(text, tally, performance.now(), where)
      carry = where.from < text.length ? text.slice(where.from) : ''
    })
    socket.on('error', (error) => {
      if (!ready) reject(error)
    })
  })
}

/**
 * Opens a WebSocket stream at `path` over a raw socket (no compression
 * offered, so server frames are plain text behind a 2–10 byte header) and
 * scans the bytes as the SSE client does: a frame header never holds a
 * value. Resolves on the first message after the 101 (the hello).
 */
export function openWs(port: number, path: string, tally: Tally): Promise<StreamClient> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    let carry = ''
    let ready = false
    const where = { from: 0 }
    const client: StreamClient = { received: 0, close: () => socket.destroy() }
    socket.on('connect', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      )
    })
    socket.on('data', (chunk: Buffer) => {
      const text = carry.length > 0 ? carry + chunk.toString('latin1') : chunk.toString('latin1')
      if (!ready) {
        if (!text.startsWith('HTTP/1.1 101')) {
          socket.destroy()
          reject(new Error(`WebSocket open failed: ${text.slice(0, 60)}`))
          return
        }
        const head = text.indexOf('\r\n\r\n')
        if (head < 0 || text.length <= head + 4) {
          carry = text
          return
        }
        ready = true
        resolve(client)
      }
      client.received += scanValues(text, tally, performance.now(), where)
      carry = where.from < text.length ? text.slice(where.from) : ''
    })
    socket.on('error', (error) => {
      if (!ready) reject(error)
    })
  })
}
