/**
 * A bench server of the fleet telemetry scenario (bench/telemetry.ts), in
 * its own process: `keelson` (createApp, the real telemetry stream) or
 * `ceiling` (a bare node:http server that keeps, per unit, the sockets
 * subscribed to it and writes to each the same pre-built frame: the `gps`
 * and `telemetry` messages of an update, built once). Both hold 100
 * vessels; on `{type:'inject', rate, durationMs}` both write positions at
 * `rate` per second round-robin over the units, each stamped with its
 * send time (the `gps` message's `timestamp`), in-process.
 */
import './lib/gc-on-signal.js'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { createApp } from '../src/app.js'
import { chunk } from '../src/http/sse-connection.js'
import { applyDelta } from '../src/signalk/delta.js'

const mode = process.argv[2] === 'ceiling' ? 'ceiling' : 'keelson'
const UNITS = Array.from({ length: 100 }, (_, i) => String(200_000_100 + i))
let inject: (unit: string, latitude: number, longitude: number, timestamp: string) => void

if (mode === 'keelson') {
  const keelson = createApp({ maxConnections: 200_000, maxConnectionsPerIp: 200_000 })
  const server = createServer(keelson.app)
  keelson.attach(server)
  inject = (unit, latitude, longitude, timestamp) =>
    applyDelta(keelson.tree, {
      context: `vessels.urn:mrn:imo:mmsi:${unit}`,
      updates: [
        {
          $source: 'bench.ais',
          timestamp,
          values: [
            { path: 'navigation.position', value: { latitude, longitude } },
            { path: 'navigation.speedOverGround', value: 3 },
          ],
        },
      ],
    })
  for (const unit of UNITS) inject(unit, 60, 25, new Date().toISOString())
  server.listen(0, '127.0.0.1', () => ready((server.address() as AddressInfo).port))
} else {
  const subscribers = new Map<string, Socket[]>()
  const streams = new Map<string, Socket>()
  let next = 0
  const server = createServer((req, res: ServerResponse) => {
    const url = req.url ?? '/'
    if (url === '/sse/telemetry/connect') {
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache',
        'Transfer-Encoding': 'chunked',
      })
      res.flushHeaders()
      const socket = res.socket!
      socket.setNoDelay(true)
      const id = `s${next++}`
      streams.set(id, socket)
      socket.write(chunk(Buffer.from(`data: {"type":"stream_id","stream_id":"${id}"}\n\n`)))
      return
    }
    const sub = /^\/sse\/telemetry\/subscribe\/([^/]+)\/([^/]+)$/.exec(url)
    if (req.method === 'POST' && sub) {
      const socket = streams.get(sub[1]!)
      if (socket) {
        let list = subscribers.get(sub[2]!)
        if (!list) {
          list = []
          subscribers.set(sub[2]!, list)
        }
        list.push(socket)
      }
      res.writeHead(204).end()
      return
    }
    const token = /^\/api\/v1\/monitoring\/unit\/([^/]+)$/.exec(url)
    if (token) {
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify({ data: { token: token[1], unit_id: token[1] } }))
      return
    }
    res.writeHead(404).end()
  })
  inject = (unit, latitude, longitude, timestamp) => {
    const list = subscribers.get(unit)
    if (!list) return
    const gps = JSON.stringify({
      type: 'gps',
      message_type: 'gps',
      unit_id: unit,
      timestamp,
      telemetry: { gps: { latitude, longitude, speed: 3, course: null, heading: null } },
    })
    const patch = JSON.stringify({
      navigation: {
        position: { value: { latitude, longitude }, timestamp, $source: 'bench.ais' },
      },
    })
    const frame = chunk(
      Buffer.from(
        `data: ${gps}\n\ndata: {"type":"telemetry","unit_id":"${unit}","patch":${patch}}\n\n`,
      ),
    )
    for (const socket of list) socket.write(frame)
  }
  server.listen(0, '127.0.0.1', () => ready((server.address() as AddressInfo).port))
}

function ready(port: number): void {
  process.send?.({ type: 'ready', port })
}

process.on('message', (message: { type: string; rate: number; durationMs: number }) => {
  if (message.type !== 'inject') return
  const perTick = message.rate / 100
  let owed = 0
  let sent = 0
  let unit = 0
  const end = Date.now() + message.durationMs
  const timer = setInterval(() => {
    owed += perTick
    while (owed >= 1) {
      owed--
      const id = UNITS[unit++ % UNITS.length]!
      inject(id, 60 + sent / 1e6, 25 + sent / 1e6, new Date().toISOString())
      sent++
    }
    if (Date.now() >= end) {
      clearInterval(timer)
      process.send?.({ type: 'injected', count: sent })
    }
  }, 10)
})
