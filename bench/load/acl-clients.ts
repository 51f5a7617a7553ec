/**
 * Scenario (h)'s load generator, a child process of the bench: N SSE
 * clients of the self vessel spread over permission classes (client i is in
 * class i mod the number of classes; its token goes as `Authorization:
 * Bearer`, the `JAUTHENTICATION` cookie or `?token=`, in turn), the PATCH
 * injector writing as the admin, and two checks of what arrives:
 *
 * - every client counts its values (as bench/load/tally.ts does) and scans
 *   every read for the leaf keys of the paths its class may not read
 *   (`"belowTransducer":`…; the paths' leaf keys are all different, so a
 *   hit is an unreadable path delivered). Every client must get exactly the
 *   changes of the paths its class reads: nothing lost, nothing coalesced.
 * - a few clients of each class (auditors) also parse every event (SSE
 *   framing, JSON), check the dot path of every leaf against the class's
 *   rule ({@link ClassDef.reads}), fold the patches with the bench's own
 *   RFC 7396 code and, at the end, compare the fold with a GET made with
 *   the class's token.
 *
 * Messages in: `run` (an {@link AclLoadConfig}), `go`. Out: `connected`,
 * `started`, `injected`, `result`, `error`.
 */
import { connect } from 'node:net'
import { round } from '../lib/histogram.js'
import { type JsonValue, jsonEqual, mergePatch } from '../lib/merge-patch.js'
import { ACL_PATHS, CLASSES, type ClassDef, READS_ALL } from './acl-classes.js'
import { type InjectVia, openInjector } from './injector.js'
import { SseReader } from './sse-reader.js'
import { scanValues, Tally } from './tally.js'

/** One permission class as the load generator gets it. */
export interface AclLoadClass {
  username: string
  /** Its token; none with security off. */
  token?: string
  /** Whether the class reads every path (the "all readable" variant, security off). */
  readsAll: boolean
}

/** What one run does. */
export interface AclLoadConfig {
  port: number
  /** The stream and GET path (the self vessel). */
  path: string
  clients: number
  classes: AclLoadClass[]
  /** Clients of each class that parse and check every event and compare their fold with a GET. */
  auditorsPerClass: number
  rate: number
  durationMs: number
  drainMs: number
  inject: InjectVia
}

interface Client {
  cls: number
  received: number
  unreadable: number
  close(): void
}

interface Auditor {
  cls: number
  client: Client
  fold: JsonValue | undefined
  events: number
  paths: number
  unreadable: string[]
  parseErrors: number
}

const CONNECT_CONCURRENCY = 100
/** After the drain limit, how long events still on their way may take before they count as lost. */
const LATE_WAIT_MS = 30_000
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024)
const CARRIERS = ['header', 'cookie', 'query'] as const

const tally = new Tally()
const clients: Client[] = []
const auditors: Auditor[] = []
let failures = 0
const failureReasons = new Map<string, number>()

function send(message: Record<string, unknown>): void {
  process.send?.(message)
}

function ruleOf(cls: AclLoadClass): ClassDef['reads'] {
  if (cls.readsAll) return READS_ALL
  const def = CLASSES.find((c) => c.username === cls.username)
  if (!def) throw new Error(`no class ${cls.username}`)
  return def.reads
}

/** `"<leaf key>":` of each written path the class may not read. */
function markersOf(reads: ClassDef['reads']): Buffer[] {
  return ACL_PATHS.filter((p) => !reads(p)).map((p) =>
    Buffer.from(`"${p.split('.').at(-1)}":`, 'latin1'),
  )
}

function request(config: AclLoadConfig, cls: AclLoadClass, i: number): string {
  const carrier = CARRIERS[i % CARRIERS.length]!
  const token = cls.token
  let path = config.path
  let extra = ''
  if (token !== undefined) {
    if (carrier === 'header') extra = `Authorization: Bearer ${token}\r\n`
    else if (carrier === 'cookie') extra = `Cookie: JAUTHENTICATION=${token}\r\n`
    else path += `?token=${encodeURIComponent(token)}`
  }
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n${extra}\r\n`
}

/** Opens client `i`; resolves once its snapshot arrived. */
function open(config: AclLoadConfig, i: number, audit: boolean): Promise<Client> {
  const clsIndex = i % config.classes.length
  const cls = config.classes[clsIndex]!
  const reads = ruleOf(cls)
  const markers = markersOf(reads)
  const markerText = markers.map((m) => m.toString('latin1'))
  return new Promise((resolve, reject) => {
    let head = ''
    let isOpen = false
    let carry: Buffer | undefined
    // The end of the last read when it stopped inside a frame: a marker may straddle two reads.
    let tail = ''
    const where = { from: 0 }
    const auditor: Auditor | undefined = audit
      ? {
          cls: clsIndex,
          client: undefined as unknown as Client,
          fold: undefined,
          events: 0,
          paths: 0,
          unreadable: [],
          parseErrors: 0,
        }
      : undefined
    const reader = auditor
      ? new SseReader('', (event) => {
          if (event.data === undefined) return
          let patch: JsonValue
          try {
            patch = JSON.parse(event.data) as JsonValue
          } catch {
            auditor.parseErrors++
            return
          }
          auditor.events++
          checkPaths(patch, '', reads, auditor)
          auditor.fold = auditor.fold === undefined ? patch : mergePatch(auditor.fold, patch)
        })
      : undefined
    const check = (bytes: Buffer): void => {
      if (markers.length === 0) return
      if (tail !== '') {
        const seam = tail + bytes.toString('latin1', 0, Math.min(bytes.length, 40))
        if (markerText.some((m) => seam.includes(m))) client.unreadable++
      }
      for (const m of markers) if (bytes.indexOf(m) >= 0) client.unreadable++
      const last = bytes[bytes.length - 1]
      tail = last === 10 ? '' : bytes.toString('latin1', Math.max(0, bytes.length - 40))
    }
    const scan = (bytes: Buffer): void => {
      client.received += scanValues(bytes, tally, performance.now(), where)
      carry = where.from < bytes.length ? Buffer.from(bytes.subarray(where.from)) : undefined
    }
    const onBytes = (bytes: Buffer): void => {
      reader?.feed(bytes)
      if (isOpen) {
        check(bytes)
        scan(carry ? Buffer.concat([carry, bytes]) : bytes)
        return
      }
      head += bytes.toString('latin1')
      if (!head.startsWith('HTTP/1.1 200'.slice(0, head.length))) {
        socket.destroy()
        reject(new Error(head.slice(0, 12)))
        return
      }
      if (!head.includes('\ndata:')) return
      isOpen = true
      const all = Buffer.from(head, 'latin1')
      check(all)
      scan(all)
      resolve(client)
    }
    const socket = connect({
      port: config.port,
      host: '127.0.0.1',
      onread: {
        buffer: READ_BUFFER,
        callback: (size) => {
          onBytes(READ_BUFFER.subarray(0, size))
          return true
        },
      },
    })
    const client: Client = {
      cls: clsIndex,
      received: 0,
      unreadable: 0,
      close: () => socket.destroy(),
    }
    if (auditor) {
      auditor.client = client
      auditors.push(auditor)
    }
    socket.setNoDelay(true)
    socket.on('connect', () => socket.write(request(config, cls, i)))
    socket.on('error', (error) => {
      if (!isOpen) reject(error)
    })
  })
}

/** Checks every leaf (an object with `value`, `$source` or `timestamp`) and every scalar of a patch. */
function checkPaths(
  value: JsonValue,
  path: string,
  reads: ClassDef['reads'],
  auditor: Auditor,
): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    if (path === '') return
    auditor.paths++
    if (!reads(path)) auditor.unreadable.push(path)
    return
  }
  if (path !== '' && ('value' in value || '$source' in value || 'timestamp' in value)) {
    auditor.paths++
    if (!reads(path)) auditor.unreadable.push(path)
    return
  }
  for (const [key, member] of Object.entries(value)) {
    checkPaths(member, path === '' ? key : `${path}.${key}`, reads, auditor)
  }
}

async function connectAll(config: AclLoadConfig): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < config.clients) {
      const i = next++
      try {
        clients.push(await open(config, i, i < config.auditorsPerClass * config.classes.length))
      } catch (error) {
        failures++
        const why = (error as Error).message
        failureReasons.set(why, (failureReasons.get(why) ?? 0) + 1)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, config.clients) }, worker))
}

async function getAs(config: AclLoadConfig, cls: AclLoadClass): Promise<JsonValue> {
  const headers: Record<string, string> = {}
  if (cls.token !== undefined) headers.authorization = `Bearer ${cls.token}`
  const res = await fetch(`http://127.0.0.1:${config.port}${config.path}`, { headers })
  if (!res.ok) throw new Error(`GET as ${cls.username}: ${res.status}`)
  return (await res.json()) as JsonValue
}

async function run(config: AclLoadConfig): Promise<void> {
  const t0 = performance.now()
  await connectAll(config)
  send({
    type: 'connected',
    clients: clients.length,
    failures,
    failureReasons: Object.fromEntries(failureReasons),
    connectMs: round(performance.now() - t0),
  })
  await nextGo()
  const injector = await openInjector(config.inject)
  const cpu0 = process.cpuUsage()
  const wall0 = performance.now()
  const injected = await injector.run(config.rate, config.durationMs, (t) => {
    tally.since = t
    send({ type: 'started' })
  })
  const cpu = process.cpuUsage(cpu0)
  const loadCpu = ((cpu.user + cpu.system) / 1000 / (performance.now() - wall0)) * 100
  send({ type: 'injected' })
  // What each class is owed: the changes of the paths it reads.
  const paths = config.inject.paths ?? ACL_PATHS
  const owedOf = config.classes.map((cls) => {
    const reads = ruleOf(cls)
    let owed = 0
    for (let i = 0; i < injected.sent; i++) if (reads(paths[i % paths.length]!)) owed++
    return owed
  })
  let expected = 0
  for (const c of clients) expected += owedOf[c.cls]!
  const drainStart = performance.now()
  while (tally.delivered < expected && performance.now() - drainStart < config.drainMs) {
    await new Promise((r) => setTimeout(r, 20))
  }
  const drainMs = performance.now() - drainStart
  const deliveredInTime = tally.delivered
  let minRatio = 1
  let late = 0
  for (const c of clients) {
    const owed = owedOf[c.cls]!
    if (owed > 0) minRatio = Math.min(minRatio, c.received / owed)
    if (c.received < owed) late++
  }
  // Late is not lost: give what is still on its way (TCP) time to land before calling it lost.
  const lateStart = performance.now()
  while (tally.delivered < expected && performance.now() - lateStart < LATE_WAIT_MS) {
    await new Promise((r) => setTimeout(r, 50))
  }
  let short = 0
  let over = 0
  let unreadable = 0
  for (const c of clients) {
    const owed = owedOf[c.cls]!
    if (c.received < owed) short++
    if (c.received > owed) over++
    unreadable += c.unreadable
  }
  // The answers are all in (or the drain gave up): compare the auditors' folds with GETs.
  const gets = await Promise.all(config.classes.map((cls) => getAs(config, cls)))
  let foldsEqual = 0
  let auditUnreadable = 0
  const unreadableSeen = new Set<string>()
  for (const a of auditors) {
    if (jsonEqual(a.fold, gets[a.cls])) foldsEqual++
    auditUnreadable += a.unreadable.length
    for (const p of a.unreadable) unreadableSeen.add(`${config.classes[a.cls]!.username}:${p}`)
  }
  const seconds = injected.elapsedMs / 1000
  send({
    type: 'result',
    clients: clients.length,
    failures,
    sent: injected.sent,
    acked: injector.result().acked,
    rejected: injector.result().failed,
    injectRate: round(injected.sent / seconds),
    expected,
    delivered: tally.delivered,
    deliveredInTime,
    deliveredRatio: round(deliveredInTime / expected, 4),
    worstClientRatio: round(minRatio, 4),
    lateClients: late,
    shortClients: short,
    overClients: over,
    eventsPerSec: Math.round(deliveredInTime / (seconds + drainMs / 1000)),
    owedPerSec: Math.round(expected / seconds),
    drainMs: round(drainMs),
    latency: tally.latency.summary(),
    loadCpu: round(loadCpu, 1),
    unreadable,
    auditors: auditors.length,
    auditedEvents: auditors.reduce((n, a) => n + a.events, 0),
    auditedPaths: auditors.reduce((n, a) => n + a.paths, 0),
    auditUnreadable,
    unreadableSeen: [...unreadableSeen].slice(0, 20),
    parseErrors: auditors.reduce((n, a) => n + a.parseErrors, 0),
    foldsEqual,
    owedPerClass: Object.fromEntries(config.classes.map((c, i) => [c.username, owedOf[i]])),
  })
  injector.close()
}

let goResolve: (() => void) | undefined
function nextGo(): Promise<void> {
  return new Promise((resolve) => {
    goResolve = resolve
  })
}

process.on('message', (message: { type: string; config?: AclLoadConfig }) => {
  if (message.type === 'run' && message.config) {
    run(message.config).catch((error: Error) => send({ type: 'error', message: error.message }))
  } else if (message.type === 'go') {
    goResolve?.()
  }
})
process.on('disconnect', () => {
  for (const c of clients) c.close()
  process.exit(0)
})
process.on('SIGTERM', () => process.exit(0))
