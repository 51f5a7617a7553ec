/**
 * The stream contract (SPEC §4) over the fleet telemetry stream (SPEC §6),
 * on its SSE wire (`GET /sse/telemetry/connect`, read by the raw-socket
 * client so it can stop reading) and its WebSocket wire (`/ws/telemetry`).
 * These adapters are the only telemetry-specific part of the suite.
 *
 * A stream on a tree path is one telemetry stream subscribed to the unit of
 * that path, as the vendor guide's client does it: connect, wait for
 * `stream_id`, get the unit's token, subscribe. A vessel keyed by its MMSI
 * (`vessels/urn:mrn:imo:mmsi:<n>`) is unit `<n>` by default; any other path
 * becomes a unit of the server's fleet file, which the adapter rewrites and
 * the server reloads. The stream's data events are that unit's `telemetry`
 * patches (the first one the whole subtree, from `null`); its `ping`s are
 * keep-alives. Telemetry has no event ids, resume, minPeriod, wildcard or
 * root streams, and takes no path on open: those tests are skipped.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import type { Json } from '../../src/core/json.js'
import { startServer } from '../support/server.js'
import type {
  ContractServer,
  ContractStream,
  StreamEvent,
  StreamTransportAdapter,
  TransportCapabilities,
} from './adapter.js'
import { StreamRefused } from './adapter.js'
import { RawSseClient } from './raw-sse-client.js'
import { restTree } from './rest-tree.js'
import { describeStreamContract } from './stream-contract.js'
import { fold, nData } from './stream-reading.js'

const TELEMETRY: Partial<TransportCapabilities> = {
  eventIds: false,
  resume: false,
  minPeriod: false,
  wildcards: false,
  root: false,
  pathChecks: false,
}

/** A telemetry message as it arrived. */
interface Arrived {
  message: { type?: string; unit_id?: string; stream_id?: string; patch?: Json; code?: string }
  at: number
}

/** One telemetry connection, whatever its wire: its messages in order, and its controls. */
interface TelemetryWire {
  readonly messages: readonly Arrived[]
  readonly closed: boolean
  changed(ms: number): Promise<void>
  pause(): void
  resume(): void
  close(): void
  /** Subscribes a unit with its token (resolves once the request is sent, or answered). */
  subscribe(token: string): Promise<void>
}

/** Waits until `predicate` gives a value, or throws saying what did not come. */
async function until<T>(
  wire: TelemetryWire,
  predicate: () => T | undefined,
  what: string,
  ms = 5000,
): Promise<T> {
  const deadline = performance.now() + ms
  for (;;) {
    const found = predicate()
    if (found !== undefined) return found
    const left = deadline - performance.now()
    if (wire.closed || left <= 0) {
      const last = wire.messages.slice(-3).map((m) => JSON.stringify(m.message).slice(0, 200))
      throw new Error(`waiting for ${what}: ${wire.closed ? 'closed' : 'timed out'}; last: ${last}`)
    }
    await wire.changed(Math.min(left, 100))
  }
}

/** The telemetry stream over SSE, on the raw-socket client. */
async function sseWire(baseUrl: string): Promise<TelemetryWire> {
  const answer = await RawSseClient.open(`${baseUrl}/sse/telemetry/connect`)
  if (!(answer instanceof RawSseClient)) {
    throw new StreamRefused(answer.status, answer.headers['content-type'] ?? '', answer.body)
  }
  const client = answer
  const messages: Arrived[] = []
  const wire: TelemetryWire = {
    get messages() {
      for (let i = messages.length; i < client.frames.length; i++) {
        const frame = client.frames[i]!
        if (frame.data !== undefined)
          messages.push({ message: JSON.parse(frame.data), at: frame.at })
      }
      return messages
    },
    get closed() {
      return client.closed
    },
    changed: (ms) => client.changed(ms),
    pause: () => client.pause(),
    resume: () => client.resume(),
    close: () => client.close(),
    async subscribe(token) {
      const streamId = await streamIdOf(wire)
      const res = await fetch(`${baseUrl}/sse/telemetry/subscribe/${streamId}/${token}`, {
        method: 'POST',
      })
      if (res.status !== 204) {
        throw new StreamRefused(res.status, res.headers.get('content-type') ?? '', await res.text())
      }
    },
  }
  return wire
}

/** The telemetry stream over WebSocket (`/ws/telemetry`), on a `ws` client that can stop reading. */
async function wsWire(baseUrl: string): Promise<TelemetryWire> {
  const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws/telemetry`, {
    perMessageDeflate: false,
  })
  const messages: Arrived[] = []
  let closed = false
  let waiters: (() => void)[] = []
  const wake = () => {
    for (const w of waiters.splice(0)) w()
  }
  ws.on('message', (data) => {
    messages.push({ message: JSON.parse(data.toString()), at: performance.now() })
    wake()
  })
  ws.on('close', () => {
    closed = true
    wake()
  })
  ws.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (text: string) => {
        body += text
      })
      res.on('end', () =>
        reject(new StreamRefused(res.statusCode ?? 0, res.headers['content-type'] ?? '', body)),
      )
    })
    ws.once('error', reject)
  })
  return {
    messages,
    get closed() {
      return closed
    },
    changed(ms) {
      if (closed) return Promise.resolve()
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, ms)
        waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    },
    pause: () => ws.pause(),
    resume: () => ws.resume(),
    close: () => {
      waiters = []
      ws.terminate()
    },
    async subscribe(token) {
      ws.send(JSON.stringify({ type: 'subscribe', token }))
    },
  }
}

function streamIdOf(wire: TelemetryWire): Promise<string> {
  return until(
    wire,
    () => wire.messages.find((m) => m.message.type === 'stream_id')?.message.stream_id,
    'stream_id',
  )
}

/** The contract's view of one unit on `wire`: its `telemetry` patches as data, `ping`s as keep-alives. */
function unitStream(wire: TelemetryWire, unitId: string): ContractStream {
  const events: StreamEvent[] = []
  let read = 0
  return {
    get events() {
      const messages = wire.messages
      for (; read < messages.length; read++) {
        const { message, at } = messages[read]!
        if (message.type === 'telemetry' && message.unit_id === unitId) {
          events.push({ kind: 'data', id: undefined, data: message.patch ?? null, at })
        } else if (message.type === 'ping') {
          events.push({ kind: 'keep-alive', id: undefined, at })
        }
      }
      return events
    },
    get closed() {
      return wire.closed
    },
    changed: (ms) => wire.changed(ms),
    pause: () => wire.pause(),
    resume: () => wire.resume(),
    close: () => wire.close(),
  }
}

const MMSI_VESSEL = /^vessels\/urn:mrn:imo:mmsi:(\d{1,15})$/

/** A telemetry adapter on `connect` (one wire): units by MMSI or by a fleet file it keeps. */
function telemetryAdapter(connect: (baseUrl: string) => Promise<TelemetryWire>) {
  const adapter: StreamTransportAdapter & { unitsByMmsi: number } = {
    capabilities: TELEMETRY,
    /** Streams opened on a unit known by its MMSI, not by the fleet file (counted for the spec below). */
    unitsByMmsi: 0,
    async start(options) {
      const dir = mkdtempSync(join(tmpdir(), 'keelson-telemetry-contract-'))
      const fleetFile = join(dir, 'fleet.json')
      const units = new Map<string, string>()
      const writeFleet = () => {
        const doc = {
          units: Object.fromEntries([...units].map(([path, id]) => [id, path.split('/')])),
        }
        // A new file renamed over the old: a new inode, which the server's poll cannot miss.
        writeFileSync(`${fleetFile}.next`, JSON.stringify(doc))
        renameSync(`${fleetFile}.next`, fleetFile)
      }
      writeFleet()
      const running = await startServer({ ...options, fleetFile, fleetPollMs: 10 })
      const tokenOf = async (unitId: string): Promise<string | undefined> => {
        const res = await fetch(
          `${running.url}/api/v1/monitoring/unit/${encodeURIComponent(unitId)}`,
        )
        if (res.status === 404) return undefined
        const body = (await res.json()) as { data?: { token?: string } }
        if (res.status !== 200 || body.data?.token === undefined) {
          throw new Error(`unit token for ${unitId}: ${res.status} ${JSON.stringify(body)}`)
        }
        return body.data.token
      }
      /** The unit of `path` and its token: the MMSI when that vessel exists, else a fleet unit. */
      const unitOf = async (path: string): Promise<{ unitId: string; token: string }> => {
        const mmsi = MMSI_VESSEL.exec(path)?.[1]
        const byMmsi = mmsi === undefined ? undefined : await tokenOf(mmsi)
        if (byMmsi !== undefined) {
          adapter.unitsByMmsi++
          return { unitId: mmsi!, token: byMmsi }
        }
        let unitId = units.get(path)
        if (unitId === undefined) {
          unitId = `u${units.size + 1}`
          units.set(path, unitId)
          writeFleet()
        }
        const deadline = performance.now() + 5000
        for (;;) {
          const token = await tokenOf(unitId)
          if (token !== undefined) return { unitId, token }
          if (performance.now() > deadline) throw new Error(`the fleet file never gave ${unitId}`)
          await new Promise((resolve) => setTimeout(resolve, 5))
        }
      }
      const server: ContractServer = {
        ...restTree(running.url),
        async open(path) {
          const { unitId, token } = await unitOf(path)
          const wire = await connect(running.url)
          try {
            await streamIdOf(wire)
            await wire.subscribe(token)
            const stream = unitStream(wire, unitId)
            // Subscribed once its first patch is in: later writes are then after the snapshot.
            await until(
              wire,
              () => {
                const refused = wire.messages.find((m) => m.message.type === 'error')
                if (refused)
                  throw new Error(`subscribe refused: ${JSON.stringify(refused.message)}`)
                return stream.events.find((e) => e.kind === 'data')
              },
              `the first telemetry patch of ${unitId}`,
            )
            return stream
          } catch (err) {
            wire.close()
            throw err
          }
        },
        async openStreams() {
          const health = (await (await fetch(`${running.url}/healthz`)).json()) as {
            streams: number
          }
          return health.streams
        },
        async close() {
          await running.close()
          rmSync(dir, { recursive: true, force: true })
        },
      }
      return server
    },
  }
  return adapter
}

const sse = telemetryAdapter(sseWire)
const ws = telemetryAdapter(wsWire)

describeStreamContract('telemetry SSE', sse)
describeStreamContract('telemetry WebSocket', ws)

describe('the telemetry contract adapters', () => {
  const servers: ContractServer[] = []
  const streams: ContractStream[] = []
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close()
    for (const s of servers.splice(0)) await s.close()
  })

  it.each([
    ['SSE', sse],
    ['WebSocket', ws],
  ])('streams a vessel by its MMSI, without the fleet file, over %s', async (_, adapter) => {
    const server = await adapter.start()
    servers.push(server)
    const vessel = 'vessels/urn:mrn:imo:mmsi:244660001'
    const write = (body: Json) =>
      server.send('PATCH', vessel, JSON.stringify(body), 'application/merge-patch+json')
    await write({ navigation: { position: { value: { latitude: 60, longitude: 25 } } } })
    const byMmsi = adapter.unitsByMmsi
    const stream = await server.open(vessel)
    streams.push(stream)
    expect(adapter.unitsByMmsi).toBe(byMmsi + 1)
    await nData(stream, 1)
    await write({ navigation: { speedOverGround: { value: 3.2 } }, name: 'Keel' })
    await write({ navigation: { position: { value: { latitude: 60.5, longitude: 25 } } } })
    await nData(stream, 3)
    expect(fold(stream.events)).toEqual((await server.get(vessel)).body)
  })
})
