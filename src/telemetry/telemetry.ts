/**
 * Fleet telemetry (SPEC §6): the vendor guide's stream_id API on keelson's
 * fan-out. One service per app holds the telemetry streams (SSE and
 * WebSocket) by `stream_id`, issues and checks unit tokens, subscribes and
 * unsubscribes units, and runs the one shared timer of the concern: `ping`
 * to every stream each `pingIntervalMs`, and the end of every stream that
 * sent no pong within `pongTimeoutMs` (its subscriptions dropped with it).
 *
 * Unit tokens are signed with the security file's secret (SPEC §8). With no
 * security file (tests, an embedded app) there is nobody to log in, everyone
 * reads, and the tokens are signed with a secret this service generates in
 * memory at start: they are valid until the process ends.
 *
 * A unit subscription reads through the view of the user its token was
 * issued to, not the stream's: the token is the grant. When that user is
 * removed or changes type, or the ACLs or the secret change, every stream
 * holding one of its subscriptions is ended; the client reconnects and
 * subscribes again with tokens issued under the new rules.
 */
import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { type WebSocket, WebSocketServer } from 'ws'
import { Errors, KeelsonError } from '../core/errors.js'
import type { TreePath } from '../core/path.js'
import { FULL_VIEW, type View } from '../core/view.js'
import { answerError } from '../http/problem.js'
import { openEventStream } from '../http/sse.js'
import type { KeepAliveFrames } from '../http/sse-connection.js'
import type { Principal, PrincipalOf } from '../security/principal.js'
import type { Security } from '../security/security.js'
import type { SecurityFile } from '../security/types.js'
import { abortUpgrade } from '../signalk/ws-transport.js'
import type { EndReason, StreamStats } from '../stream/connection.js'
import type { Streams } from '../stream/streams.js'
import { Fleet, type UnitTarget } from './fleet.js'
import { TELEMETRY_SSE, TelemetrySseStream } from './sse-stream.js'
import { type TelemetryStream, unitOf } from './stream.js'
import { UnitSubscription } from './unit-subscription.js'
import { ANYONE, signUnitToken, type UnitToken, verifyUnitToken } from './unit-token.js'
import { TELEMETRY_WS, TelemetryWsStream } from './ws-stream.js'

/** The path of the SSE stream. */
export const CONNECT_PATH = '/sse/telemetry/connect'

/** The path of the WebSocket variant. */
export const TELEMETRY_WS_PATH = '/ws/telemetry'

/** Options of {@link Telemetry} (from src/options.ts). */
export interface TelemetryOptions {
  /** Period of `{"type":"ping"}`, ms. */
  pingIntervalMs: number
  /** A stream with no pong for this long is closed, ms. */
  pongTimeoutMs: number
  /** Lifetime of unit tokens, ms. */
  unitTokenTtlMs: number
  /** The fleet file (`--fleet`); none: unit ids are MMSIs. */
  fleetFile?: string
  /** How often the fleet file is checked for changes, ms. */
  fleetPollMs: number
  /** Take SSE streams out of node's HTTP server once open (src/http/detach.ts). */
  detachStreams: boolean
  /** Largest WebSocket message, bytes. */
  maxBodyBytes: number
}

/** Counters of the telemetry streams, read by `/metrics`. */
export interface TelemetryStats extends StreamStats {
  /** Streams closed for a missed pong. */
  pongTimeouts: number
}

/** Bytes of a `stream_id`: 144 random bits. */
const STREAM_ID_BYTES = 18
/** Lifetime of the login tokens this service signs to find a token user's view, and when to renew them. */
const UNUSED_KEEP_ALIVE: KeepAliveFrames = Object.freeze({
  rev: 0,
  raw: Buffer.alloc(0),
  chunked: Buffer.alloc(0),
})

/** The fleet telemetry of one app. */
export class Telemetry {
  readonly stats: TelemetryStats = {
    eventsSent: 0,
    bytesSent: 0,
    coalesced: 0,
    stalledClosed: 0,
    pongTimeouts: 0,
  }
  readonly fleet: Fleet
  private readonly byId = new Map<string, TelemetryStream>()
  /** The unit token secret while there is no security file (generated at start, kept in memory). */
  private readonly memorySecret = randomBytes(32).toString('hex')
  private readonly timer: NodeJS.Timeout
  private nextPingAt: number
  private readonly wss: WebSocketServer
  private readonly stopWatching: (() => void) | undefined
  private readonly log: Logger

  constructor(
    private readonly streams: Streams,
    private readonly options: TelemetryOptions,
    private readonly security: Security | undefined,
    private readonly principalOf: PrincipalOf,
  ) {
    this.log = streams.log
    this.fleet = new Fleet(streams.tree, this.log, options.fleetFile, options.fleetPollMs)
    const { pingIntervalMs, pongTimeoutMs } = options
    this.nextPingAt = Date.now() + pingIntervalMs
    const tickMs = Math.max(
      10,
      Math.min(1000, Math.floor(Math.min(pingIntervalMs, pongTimeoutMs) / 4)),
    )
    this.timer = setInterval(() => this.tick(), tickMs)
    this.timer.unref()
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxBodyBytes,
      perMessageDeflate: false,
    })
    this.stopWatching = security?.store.onChange((before, after) => this.changed(before, after))
  }

  /** Open telemetry streams, SSE and WebSocket. */
  get size(): number {
    return this.streams.count(TELEMETRY_SSE) + this.streams.count(TELEMETRY_WS)
  }

  /** The open stream of `streamId`, if any. */
  stream(streamId: string): TelemetryStream | undefined {
    return this.byId.get(streamId)
  }

  /** Unused: telemetry streams send pings, not keep-alive events (the SSE connection asks). */
  keepAliveFrames(): KeepAliveFrames {
    return UNUSED_KEEP_ALIVE
  }

  /**
   * A unit token for `req`'s principal (SPEC §6): 401 without login while
   * users exist, 404 for an unknown unit (or vehicle), 403 for a unit whose
   * vessel the principal may not read.
   */
  async issue(req: IncomingMessage, unitId: string, vehicleId?: string): Promise<UnitToken> {
    const principal = await this.principalOf(req)
    if (principal.name === undefined && this.security?.enabled) {
      throw new KeelsonError(Errors.UNAUTHORIZED, 'Log in to get a unit token')
    }
    let target: UnitTarget | undefined
    if (vehicleId !== undefined) {
      const primary = this.fleet.current.vehicles.get(vehicleId)
      if (primary === undefined) {
        throw new KeelsonError(Errors.VEHICLE_NOT_FOUND, `No vehicle ${JSON.stringify(vehicleId)}`)
      }
      target = this.fleet.unit(primary)
      unitId = primary
    } else {
      target = this.fleet.unit(unitId)
    }
    if (target === undefined) {
      throw new KeelsonError(Errors.UNIT_NOT_FOUND, `No unit ${JSON.stringify(unitId)} is known`)
    }
    if (!this.readable(target.path, principal.view)) {
      throw new KeelsonError(Errors.FORBIDDEN, `You may not read unit ${JSON.stringify(unitId)}`)
    }
    return signUnitToken(
      this.secretKey(),
      target.unitId,
      principal.name ?? ANYONE,
      this.options.unitTokenTtlMs,
    )
  }

  /**
   * Opens an SSE telemetry stream on `res` (`GET /sse/telemetry/connect`):
   * the head, then `{"type":"stream_id"}`. Connecting needs what a read
   * needs; a bad token is refused (401) before anything is sent.
   */
  async connect(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const principal = await this.principalOf(req)
    openEventStream(req, res, (socket, chunked) => this.startSse(res, socket, chunked, principal))
  }

  /**
   * Takes `GET /sse/telemetry/connect` before the express app does (as the
   * API's fast path does for `/signalk/v1/api`): an idle stream then holds
   * nothing of express's request handling (bench/telemetry.ts, idle). False
   * for any other request.
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? ''
    if (req.method !== 'GET' || !url.startsWith(CONNECT_PATH)) return false
    const rest = url.slice(CONNECT_PATH.length)
    if (rest !== '' && rest !== '/' && !rest.startsWith('?') && !rest.startsWith('/?')) return false
    this.connect(req, res).catch((err: unknown) => answerError(err, req, res, this.log))
    return true
  }

  /** `POST /sse/telemetry/pong/:stream_id`: 404 for an unknown stream. */
  pong(streamId: string): void {
    this.found(streamId).lastPongAt = Date.now()
  }

  /** Subscribes the token's unit on stream `streamId`: the token is checked first (401), then the stream (404). */
  async subscribeById(streamId: string, token: string): Promise<void> {
    const claims = await verifyUnitToken(this.secretKey(), token)
    await this.add(this.found(streamId), claims.unit_id, claims.sub)
  }

  /** Unsubscribes the token's unit on stream `streamId` (idempotent): token first (401), then the stream (404). */
  async unsubscribeById(streamId: string, token: string): Promise<string> {
    const claims = await verifyUnitToken(this.secretKey(), token)
    return this.drop(this.found(streamId), claims.unit_id)
  }

  /** Subscribes the token's unit on `stream` (the WebSocket variant). */
  async subscribe(stream: TelemetryStream, token: string): Promise<void> {
    const claims = await verifyUnitToken(this.secretKey(), token)
    await this.add(stream, claims.unit_id, claims.sub)
  }

  /** Unsubscribes the token's unit on `stream`; resolves to the unit id. */
  async unsubscribe(stream: TelemetryStream, token: string): Promise<string> {
    const claims = await verifyUnitToken(this.secretKey(), token)
    return this.drop(stream, claims.unit_id)
  }

  /**
   * Takes a WebSocket upgrade for {@link TELEMETRY_WS_PATH}; false for any
   * other URL. A refused principal is answered on the socket. Never throws.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const pathname = q < 0 ? url : url.slice(0, q)
    if (pathname !== TELEMETRY_WS_PATH && pathname !== `${TELEMETRY_WS_PATH}/`) return false
    const upgrade = (principal: Principal): void => {
      if (socket.destroyed) return
      this.wss.handleUpgrade(req, socket, head, (ws) => this.startWs(ws, socket, principal))
    }
    const refuse = (err: unknown): void => {
      abortUpgrade(socket, err instanceof KeelsonError ? err : new KeelsonError(Errors.INTERNAL))
    }
    try {
      const principal = this.principalOf(req)
      if (principal instanceof Promise) principal.then(upgrade, refuse)
      else upgrade(principal)
    } catch (err) {
      refuse(err)
    }
    return true
  }

  /** Forgets a closed stream (called by the stream). */
  forget(stream: TelemetryStream): void {
    if (this.byId.get(stream.streamId) === stream) this.byId.delete(stream.streamId)
  }

  /** Stops the timer, the fleet file's watch and the WebSocket server (streams end with the registry). */
  close(): void {
    clearInterval(this.timer)
    this.stopWatching?.()
    this.fleet.close()
    this.wss.close()
  }

  private secretKey(): string {
    return this.security?.store.current.secretKey ?? this.memorySecret
  }

  private found(streamId: string): TelemetryStream {
    const stream = this.byId.get(streamId)
    if (stream === undefined || stream.closed) {
      throw new KeelsonError(Errors.STREAM_NOT_FOUND, 'No telemetry stream of this id is open')
    }
    return stream
  }

  private readable(path: TreePath, view: View): boolean {
    if (view.full) return true
    return view.read(path, this.streams.tree.get(path) ?? {}) !== undefined
  }

  private async add(stream: TelemetryStream, unitId: string, sub: string): Promise<void> {
    const view = await this.viewOf(sub)
    if (stream.closed) throw new KeelsonError(Errors.STREAM_NOT_FOUND, 'The stream has ended')
    if (unitOf(stream, unitId) !== undefined) return
    const target = this.fleet.unit(unitId)
    if (target === undefined) {
      throw new KeelsonError(Errors.UNIT_NOT_FOUND, `No unit ${JSON.stringify(unitId)} is known`)
    }
    const subscription = new UnitSubscription(
      stream,
      target.path,
      view,
      unitId,
      sub,
      stream.framing,
    )
    stream.add(subscription)
    subscription.start()
  }

  private drop(stream: TelemetryStream, unitId: string): string {
    const subscription = unitOf(stream, unitId)
    if (subscription !== undefined) stream.remove(subscription)
    return unitId
  }

  /**
   * The view of the user or device a unit token was issued to
   * (`Security.principalFor`): 401 when the user is gone, or for a token of
   * the no-users rule now that users exist.
   */
  private async viewOf(sub: string): Promise<View> {
    const security = this.security
    if (security === undefined || !security.enabled) return FULL_VIEW
    const gone = (why: string) =>
      new KeelsonError(Errors.BAD_UNIT_TOKEN, `The unit token is refused: ${why}; log in again`)
    if (sub === ANYONE) throw gone('it was issued while no users existed')
    const principal = security.principalFor(sub)
    if (principal === undefined) throw gone('its user no longer exists')
    return principal.view
  }

  private register(stream: TelemetryStream, principal: Principal): void {
    stream.principal = principal
    this.streams.add(stream)
    this.byId.set(stream.streamId, stream)
    stream.sendMessage(JSON.stringify({ type: 'stream_id', stream_id: stream.streamId }))
    this.log.debug({ protocol: stream.protocol, streams: this.size }, 'telemetry stream opened')
  }

  private startSse(
    res: ServerResponse,
    socket: Socket,
    chunked: boolean,
    principal: Principal,
  ): void {
    if (socket.destroyed) return
    socket.setNoDelay(true)
    const stream = new TelemetrySseStream(this.streams, socket, this, res, chunked, newStreamId())
    this.register(stream, principal)
    socket.on('close', () => stream.close())
    if (this.options.detachStreams) setImmediate(detachLater, stream)
  }

  private startWs(ws: WebSocket, socket: Duplex, principal: Principal): void {
    if (ws.extensions !== '') {
      ws.close(1011, 'unsupported extension')
      return
    }
    const stream = new TelemetryWsStream(this.streams, ws, socket, this, newStreamId())
    this.register(stream, principal)
    ws.on('message', (data, isBinary) => stream.receive(isBinary ? '' : data.toString()))
    ws.on('error', (err) => this.log.debug({ err }, 'telemetry ws error'))
    ws.on('close', () => stream.close())
  }

  /** The shared timer: pongs overdue end their streams; pings go out every `pingIntervalMs`. */
  private tick(): void {
    const now = Date.now()
    const ping = now >= this.nextPingAt
    if (ping) this.nextPingAt = now + this.options.pingIntervalMs
    for (const stream of this.byId.values()) {
      if (now - stream.lastPongAt >= this.options.pongTimeoutMs) {
        this.stats.pongTimeouts++
        this.log.info({ protocol: stream.protocol }, 'telemetry stream sent no pong: closed')
        this.end(stream, undefined)
        continue
      }
      if (ping && stream.draining) stream.send(stream.framing.ping)
    }
  }

  private end(stream: TelemetryStream, why: EndReason | undefined): void {
    try {
      if (why === undefined) stream.timeOut()
      else stream.end(why)
    } catch (err) {
      this.log.warn({ err }, 'ending a telemetry stream failed')
    }
    stream.close()
  }

  /** The security file changed: end the streams holding units of users it no longer allows as they were. */
  private changed(before: SecurityFile, after: SecurityFile): void {
    const everything =
      before.secretKey !== after.secretKey ||
      JSON.stringify(before.acls ?? []) !== JSON.stringify(after.acls ?? []) ||
      hasUsers(before) !== hasUsers(after)
    const was = typesOf(before)
    const now = typesOf(after)
    let ended = 0
    for (const stream of [...this.byId.values()]) {
      const hit = stream.subscriptions.some((s) => {
        const sub = (s as UnitSubscription).sub
        return everything || (was.has(sub) && was.get(sub) !== now.get(sub))
      })
      if (!hit) continue
      this.end(stream, 'revoked')
      ended++
    }
    if (ended > 0) this.log.info({ ended }, 'security changed: telemetry streams ended')
  }
}

function newStreamId(): string {
  return randomBytes(STREAM_ID_BYTES).toString('base64url')
}

function detachLater(stream: TelemetrySseStream): void {
  stream.detach()
}

function hasUsers(file: SecurityFile): boolean {
  return file.users.length > 0 || (file.devices?.length ?? 0) > 0
}

function typesOf(file: SecurityFile): Map<string, string> {
  return new Map([
    ...file.users.map((u) => [u.username, u.type] as const),
    ...(file.devices ?? []).map((d) => [d.clientId, d.permissions] as const),
  ])
}
