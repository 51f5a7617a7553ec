/**
 * Cluster mode on Redis Streams (SPEC §9): every node holds a full replica
 * and orders its writes through one Redis stream, the cluster's log.
 *
 * - A write is checked against this replica by the write port, then
 *   appended (XADD, in a script that checks the cluster's epoch) as the
 *   operation it is, tagged with this node's id and a sequence number.
 * - Every node reads the stream in order on its own connection (blocking
 *   XREAD, no command timeout, as ioredis's maintainers advise for blocking
 *   reads) and applies each entry through {@link WritePort.commit}. The
 *   revision is the count of changing entries applied, so it is the same on
 *   every node, and so are event ids (`<epoch>.<rev>`, the epoch kept in
 *   Redis) and ETags: a client resumes or revalidates on any node.
 * - The node that took a write answers when its own replica applied the
 *   entry (read-your-writes): the entry's tag resolves its promise.
 * - Nodes store their replica in Redis now and then, with the stream id and
 *   revision it covers; a new node starts from it and reads the stream
 *   after it, and listens only once caught up. The stream is trimmed to the
 *   history window, never past that snapshot.
 * - Redis unreachable: writes are refused with 503 (not appended) before
 *   they are sent; a write whose append got no answer is 504 (it may
 *   appear). Reads and streams go on from the replica; the reader reconnects
 *   with backoff and catches up. A node whose position was trimmed away
 *   reloads the snapshot; Redis back empty is seeded from the first replica
 *   that notices, under a new epoch. Either way the tree is replaced and
 *   every stream ends, so clients reconnect and get a reset (SPEC §4).
 */
import { randomBytes } from 'node:crypto'
import { Redis, type RedisOptions } from 'ioredis'
import type { Logger } from 'pino'
import pino from 'pino'
import { Errors, KeelsonError } from '../core/errors.js'
import { newEpoch } from '../core/event-id.js'
import type { JsonObject } from '../core/json.js'
import type { TreePath } from '../core/path.js'
import type { Change, StateTree } from '../core/state-tree.js'
import type { Operation, Sequencer, WritePort } from '../core/write-port.js'
import { DEFAULTS } from '../options.js'
import type { Streams } from '../stream/streams.js'
import { APPEND, SEED, SNAPSHOT, TRIM } from './scripts.js'
import { compareIds, START_ID } from './stream-id.js'

/** Entries read per XREAD: one batch is applied in one event-loop turn (one write per stream). */
const READ_COUNT = 1000
/** How long one blocking XREAD waits, ms: the reader looks at the cluster's state at least this often when idle. */
const BLOCK_MS = 2000
/** How often the reader checks the cluster's epoch and trim floor while entries flow, ms. */
const CHECK_MS = 2000
/** A write appended but not seen back within this long is answered 504 (outcome unknown), ms. */
const APPLY_TIMEOUT_MS = 10_000
/** A command (append, snapshot) without an answer for this long fails: its outcome is unknown, ms. */
const COMMAND_TIMEOUT_MS = 5000
/** `Retry-After` of a write refused while Redis is unreachable, s. */
const RETRY_AFTER_S = 2
/** Reconnect backoff: doubling from 50 ms up to 2 s, with jitter. */
function backoff(times: number): number {
  return Math.min(2000, 50 * 2 ** Math.min(times, 6)) + Math.floor(Math.random() * 50)
}

const ROOT: TreePath = { segments: [], starAt: -1 }

/** The cluster's state as Redis holds it: the snapshot a replica starts from. */
export interface ClusterState {
  readonly epoch: string
  readonly rev: number
  /** The last stream entry the snapshot covers. */
  readonly id: string
  readonly root: JsonObject
}

/** Options of {@link Cluster.open}. */
export interface ClusterOptions {
  /** `redis://[[user]:password@]host[:port][/db]` (or `rediss://` for TLS). */
  url: string
  /** Prefix of the cluster's keys. Default {@link DEFAULTS}.clusterKey. */
  key?: string
  /** Period of snapshots and trims, ms. Default {@link DEFAULTS}.clusterSnapshotMs. */
  snapshotMs?: number
  /** Changing entries kept in the stream at least (a node's resume history). Default {@link DEFAULTS}.historySize. */
  historySize?: number
  log?: Logger
}

/** What the cluster needs of a built app (src/app.ts `Keelson`). */
export interface ClusterApp {
  readonly tree: StateTree
  readonly writes: WritePort
  readonly streams: Streams
}

interface Pending {
  resolve(change: Change | undefined): void
  reject(err: unknown): void
  readonly at: number
}

/** Counters of one node, for /metrics, tests and the bench. */
export interface ClusterStats {
  appended: number
  applied: number
  refused503: number
  unknown504: number
  reloads: number
  seeds: number
  snapshots: number
}

/** One node of a cluster: the {@link Sequencer} of its write port. */
export class Cluster implements Sequencer {
  readonly stats: ClusterStats = {
    appended: 0,
    applied: 0,
    refused503: 0,
    unknown504: 0,
    reloads: 0,
    seeds: 0,
    snapshots: 0,
  }
  /** This node's tag on the entries it appends. */
  readonly nodeId = randomBytes(6).toString('hex')
  private readonly stateKey: string
  private readonly logKey: string
  private readonly snapshotMs: number
  private readonly log: Logger
  private readonly pending = new Map<string, Pending>()
  private seq = 0
  private app: ClusterApp | undefined
  /** The last entry applied here. */
  private lastId = START_ID
  /** Stream ids of the last changes applied here, aligned with the tree's history (the trim point). */
  private readonly ids: string[]
  private idsAt = 0
  private idsHeld = 0
  private lastCheck = 0
  private needsCheck = true
  private closed = false
  private timer: NodeJS.Timeout | undefined
  private reading: Promise<void> | undefined
  private ticking = false
  /** The epoch this node seeds a new cluster with (when Redis held none as it joined). */
  private readonly firstEpoch = newEpoch()

  private constructor(
    /** Appends, snapshots, trims: fails fast when Redis is away. */
    private readonly cmd: Redis,
    /** The blocking reader of the stream, alone on its connection. */
    private readonly reader: Redis,
    options: ClusterOptions,
    /** The state Redis held when this node joined; undefined: this node seeds the cluster. */
    readonly joined: ClusterState | undefined,
  ) {
    const key = options.key ?? DEFAULTS.clusterKey
    this.stateKey = `${key}:state`
    this.logKey = `${key}:log`
    this.snapshotMs = options.snapshotMs ?? DEFAULTS.clusterSnapshotMs
    this.log = options.log ?? pino({ level: 'silent' })
    this.ids = new Array(Math.max(1, options.historySize ?? DEFAULTS.historySize))
  }

  /**
   * Connects to Redis (waiting, with backoff, until it answers) and reads
   * the cluster's state. Build the app with {@link startOptions}, then
   * {@link attach} it.
   */
  static async open(options: ClusterOptions): Promise<Cluster> {
    checkUrl(options.url)
    const log = options.log ?? pino({ level: 'silent' })
    const common: RedisOptions = {
      lazyConnect: true,
      retryStrategy: backoff,
      // A command is never sent twice: one in flight when the connection drops fails (504 for
      // an append, whose outcome is then unknown) instead of being appended again on reconnect.
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      // Refused at once while disconnected: a write not sent is a 503, never queued.
      enableOfflineQueue: false,
      // RESP2 replies: XREAD answers [[stream, entries]] whatever the server speaks.
      protocol: 2,
    }
    const cmd = new Redis(options.url, {
      ...common,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectionName: 'keelson',
    })
    const reader = new Redis(options.url, { ...common, connectionName: 'keelson-reader' })
    for (const [name, conn] of [
      ['commands', cmd],
      ['reader', reader],
    ] as const) {
      let down = false
      conn.on('error', (err: Error) => {
        if (!down) log.warn({ err: err.message, connection: name }, 'redis connection error')
        down = true
      })
      conn.on('ready', () => {
        if (down) log.info({ connection: name }, 'redis connection back')
        down = false
      })
    }
    await Promise.all([whenReady(cmd), whenReady(reader)])
    const joined = await readState(cmd, `${options.key ?? DEFAULTS.clusterKey}:state`)
    return new Cluster(cmd, reader, options, joined)
  }

  /** What createApp takes to build this node's tree: the cluster's epoch and snapshot. */
  get startOptions(): { epoch: string; restore?: { root: JsonObject; rev: number } } {
    const joined = this.joined
    if (joined === undefined) return { epoch: this.firstEpoch }
    return { epoch: joined.epoch, restore: { root: joined.root, rev: joined.rev } }
  }

  /**
   * Takes the app's writes, seeds the cluster when Redis held nothing,
   * catches up with the stream and starts following it. Resolves once
   * caught up: then listen.
   */
  async attach(app: ClusterApp): Promise<void> {
    this.app = app
    if (this.joined === undefined) await this.seed(true)
    else this.lastId = this.joined.id
    app.writes.useSequencer(this)
    // Catch up before listening: read until the stream has nothing more.
    for (;;) {
      await this.check()
      const entries = await this.read(false)
      if (entries === 0 && !this.needsCheck) break
    }
    this.reading = this.follow()
    this.timer = setInterval(() => void this.tick(), Math.max(100, Math.floor(this.snapshotMs / 2)))
    this.timer.unref()
    this.log.info(
      { epoch: app.tree.epoch, rev: app.tree.rev, id: this.lastId, node: this.nodeId },
      'cluster: caught up with the log',
    )
  }

  /** Why writes are refused right now: Redis unreachable (503 with Retry-After). */
  refusal(): KeelsonError | undefined {
    if (this.closed) return new KeelsonError(Errors.UNAVAILABLE, 'This node is shutting down')
    if (this.cmd.status !== 'ready' || this.reader.status !== 'ready') {
      return new KeelsonError(
        Errors.UNAVAILABLE,
        'The cluster log (Redis) is unreachable; nothing was written',
        RETRY_AFTER_S,
      )
    }
    return undefined
  }

  /** True while this node cannot take writes (Redis away): `/healthz` says degraded. */
  get degraded(): boolean {
    return this.refusal() !== undefined
  }

  /** The last stream entry applied here. */
  get position(): string {
    return this.lastId
  }

  /** Appends a checked operation; settles once this replica applied it (SPEC §9). */
  append(operation: Operation): Promise<Change | undefined> {
    const refusal = this.refusal()
    if (refusal !== undefined) {
      this.stats.refused503++
      return Promise.reject(refusal)
    }
    const tag = `${this.nodeId}:${++this.seq}`
    const epoch = this.app!.tree.epoch
    return new Promise<Change | undefined>((resolve, reject) => {
      this.pending.set(tag, { resolve, reject, at: Date.now() })
      this.cmd
        .eval(APPEND, 2, this.stateKey, this.logKey, epoch, JSON.stringify(operation), tag)
        .then(
          () => {
            this.stats.appended++
          },
          (err: Error) => {
            if (!this.pending.delete(tag)) return
            if (err.name === 'ReplyError' || err.message.includes('enableOfflineQueue')) {
              // Refused by the script (the cluster's epoch changed), or never sent: not appended.
              this.needsCheck = true
              this.stats.refused503++
              reject(
                new KeelsonError(
                  Errors.UNAVAILABLE,
                  'The cluster log changed (Redis restarted); nothing was written',
                  RETRY_AFTER_S,
                ),
              )
              return
            }
            this.stats.unknown504++
            reject(new KeelsonError(Errors.APPEND_UNKNOWN, `Redis: ${err.message}`))
          },
        )
    })
  }

  /** Stops following the log, fails the writes still waiting (504) and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.timer !== undefined) clearInterval(this.timer)
    this.failPending('This node is shutting down')
    this.reader.disconnect()
    this.cmd.disconnect()
    await this.reading?.catch(() => undefined)
  }

  /** Follows the stream until closed; reconnects (ioredis, with backoff) and catches up. */
  private async follow(): Promise<void> {
    while (!this.closed) {
      try {
        if (this.reader.status !== 'ready') {
          this.needsCheck = true
          await whenReady(this.reader)
          continue
        }
        if (this.needsCheck || Date.now() - this.lastCheck >= CHECK_MS) await this.check()
        await this.read(true)
      } catch (err) {
        if (this.closed) return
        this.needsCheck = true
        this.log.warn({ err: (err as Error).message }, 'cluster: reading the log failed; retrying')
        await sleep(backoff(1))
      }
    }
  }

  /**
   * Reads the next entries after this node's position and applies them in
   * order; `block`: wait for entries. Returns how many were read.
   */
  private async read(block: boolean): Promise<number> {
    const args: (string | number)[] = ['COUNT', READ_COUNT]
    if (block) args.push('BLOCK', BLOCK_MS)
    // The floor and epoch are asked for right behind the XREAD on the same connection: Redis
    // runs them once it answered the XREAD (a blocked client's next command waits for it), so
    // they tell whether entries after this node's position were trimmed before that answer (a
    // node paused or cut off for long: XREAD skips them silently) or the answer is of another
    // epoch. A trim sets the floor in the same script. Then nothing is applied; check() reloads.
    const [reply, state] = await Promise.all([
      this.reader.call('XREAD', ...args, 'STREAMS', this.logKey, this.lastId) as Promise<
        [string, [string, string[]][]][] | null
      >,
      this.reader.hmget(this.stateKey, 'epoch', 'floor') as Promise<(string | null)[]>,
    ])
    if (this.closed || reply === null || reply.length === 0) return 0
    const [epoch = null, floor = null] = state
    if (epoch !== this.app!.tree.epoch || (floor !== null && compareIds(this.lastId, floor) < 0)) {
      this.needsCheck = true
      return 0
    }
    const entries = reply[0]![1]
    for (const [id, fields] of entries) this.applyEntry(id, fields)
    return entries.length
  }

  /** Applies one entry of the log and answers its writer when it was taken here. */
  private applyEntry(id: string, fields: string[]): void {
    const app = this.app!
    let op: string | undefined
    let tag: string | undefined
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === 'op') op = fields[i + 1]
      else if (fields[i] === 'from') tag = fields[i + 1]
    }
    this.lastId = id
    this.stats.applied++
    const waiting = tag === undefined ? undefined : this.pending.get(tag)
    if (waiting !== undefined) this.pending.delete(tag!)
    let change: Change | undefined
    try {
      change = app.writes.commit(JSON.parse(op ?? 'null') as Operation)
    } catch (err) {
      // The same refusal on every replica (same state, same operation): nothing applied anywhere.
      if (waiting !== undefined) waiting.reject(err)
      else if (!(err instanceof KeelsonError)) {
        this.log.warn({ err, id }, 'cluster: an entry of the log cannot be applied; skipped')
      }
      return
    }
    if (change !== undefined) this.remember(id)
    waiting?.resolve(change)
  }

  /** Keeps the stream id of the change just applied, as long as the history keeps changes. */
  private remember(id: string): void {
    const cap = this.ids.length
    this.ids[this.idsAt] = id
    this.idsAt = (this.idsAt + 1) % cap
    if (this.idsHeld < cap) this.idsHeld++
  }

  /**
   * Looks at the cluster's state in Redis: seeds it when Redis came back
   * empty, reloads the snapshot when the cluster moved to another epoch or
   * trimmed the stream past this node's position.
   */
  private async check(): Promise<void> {
    const app = this.app!
    const [epoch = null, floor = null] = (await this.reader.hmget(
      this.stateKey,
      'epoch',
      'floor',
    )) as (string | null)[]
    this.lastCheck = Date.now()
    this.needsCheck = false
    if (epoch === null) {
      this.log.warn('cluster: Redis holds no cluster state (restarted empty?); seeding it')
      await this.seed(false)
      return
    }
    if (epoch !== app.tree.epoch) {
      this.log.warn({ epoch, was: app.tree.epoch }, 'cluster: the cluster moved to a new epoch')
      await this.reload()
      return
    }
    if (floor !== null && compareIds(this.lastId, floor) < 0) {
      this.log.warn({ at: this.lastId, floor }, 'cluster: the log was trimmed past this node')
      await this.reload()
    }
  }

  /**
   * Creates the cluster's state from this replica under a new epoch (the
   * first node, or Redis back empty). When another node won the race,
   * loads its state instead.
   */
  private async seed(first: boolean): Promise<void> {
    const app = this.app!
    const tree = app.tree
    // The first node seeds with the epoch its tree was built with; a running replica with a new one.
    const epoch = first ? tree.epoch : newEpoch()
    const root = JSON.stringify(tree.get(ROOT))
    const seeded = await this.reader.eval(
      SEED,
      2,
      this.stateKey,
      this.logKey,
      epoch,
      String(tree.rev),
      root,
      String(Date.now()),
    )
    if (seeded !== 1) {
      await this.reload()
      return
    }
    this.stats.seeds++
    this.log.info({ epoch, rev: tree.rev }, 'cluster: seeded Redis from this replica')
    if (epoch !== tree.epoch) {
      this.replace({ epoch, rev: tree.rev, id: START_ID, root: JSON.parse(root) as JsonObject })
    } else {
      this.lastId = START_ID
    }
  }

  /** Replaces this replica with the cluster's snapshot. */
  private async reload(): Promise<void> {
    const state = await readState(this.reader, this.stateKey)
    if (state === undefined) {
      this.needsCheck = true
      return
    }
    this.stats.reloads++
    this.replace(state)
    this.log.info(
      { epoch: state.epoch, rev: state.rev, id: state.id },
      'cluster: reloaded the snapshot',
    )
  }

  /**
   * Puts `state` in place of the tree: resume points from before cannot be
   * honoured, so every stream ends and its client reconnects and gets a
   * reset (SPEC §4); writes still waiting may or may not be in it (504).
   */
  private replace(state: ClusterState): void {
    const app = this.app!
    app.tree.reset({ root: state.root, rev: state.rev, epoch: state.epoch })
    this.lastId = state.id
    this.idsHeld = 0
    this.idsAt = 0
    this.failPending('The cluster log was replaced while this write waited')
    const ended = app.streams.endAll()
    if (ended > 0)
      this.log.info({ ended }, 'cluster: ended every stream; clients resume with a reset')
  }

  private failPending(why: string): void {
    const pending = [...this.pending.values()]
    this.pending.clear()
    for (const waiting of pending) {
      this.stats.unknown504++
      waiting.reject(new KeelsonError(Errors.APPEND_UNKNOWN, why))
    }
  }

  /** Periodic work: writes waiting too long answer 504; a snapshot and a trim when due. */
  private async tick(): Promise<void> {
    if (this.ticking) return
    this.ticking = true
    try {
      await this.expireAndSnapshot(Date.now())
    } finally {
      this.ticking = false
    }
  }

  private async expireAndSnapshot(now: number): Promise<void> {
    for (const [tag, waiting] of this.pending) {
      if (now - waiting.at < APPLY_TIMEOUT_MS) continue
      this.pending.delete(tag)
      this.stats.unknown504++
      waiting.reject(
        new KeelsonError(
          Errors.APPEND_UNKNOWN,
          'The write was not seen in the cluster log in time',
        ),
      )
    }
    if (this.cmd.status !== 'ready' || this.needsCheck) return
    try {
      await this.snapshot(now)
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'cluster: snapshot or trim failed')
    }
  }

  /** Stores this replica as the cluster's snapshot when none is recent, then trims the stream. */
  private async snapshot(now: number): Promise<void> {
    const tree = this.app!.tree
    const [epoch = null, id = null, at = null] = (await this.cmd.hmget(
      this.stateKey,
      'epoch',
      'id',
      'at',
    )) as (string | null)[]
    if (epoch !== tree.epoch) {
      this.needsCheck = true
      return
    }
    const due = at === null || now - Number(at) >= this.snapshotMs
    if (due && (id === null || compareIds(this.lastId, id) > 0)) {
      // Serialised in this turn: the tree, its revision and its position agree.
      const stored = await this.cmd.eval(
        SNAPSHOT,
        1,
        this.stateKey,
        tree.epoch,
        this.lastId,
        String(tree.rev),
        JSON.stringify(tree.get(ROOT)),
        String(now),
      )
      if (stored === 1) this.stats.snapshots++
    }
    // Keep the entries of the history window (the last historySize changes); the script keeps
    // everything after the snapshot as well.
    if (this.idsHeld === this.ids.length) {
      const oldest = this.ids[this.idsAt]!
      await this.cmd.eval(TRIM, 2, this.stateKey, this.logKey, tree.epoch, oldest)
    }
  }
}

/** Throws a clear message for a Redis URL ioredis would misread (a bare word is taken for a host). */
function checkUrl(url: string): void {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new Error(`--redis wants a URL such as redis://host:6379 (got ${JSON.stringify(url)})`)
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new Error(`--redis wants a redis:// or rediss:// URL (got ${parsed.protocol})`)
  }
  if (parsed.hostname === '') throw new Error('--redis URL names no host')
}

/** The cluster's state held in Redis, or undefined when it holds none. */
async function readState(conn: Redis, key: string): Promise<ClusterState | undefined> {
  const [epoch = null, rev = null, id = null, root = null] = (await conn.hmget(
    key,
    'epoch',
    'rev',
    'id',
    'root',
  )) as (string | null)[]
  if (epoch === null || rev === null || id === null || root === null) return undefined
  return { epoch, rev: Number(rev), id, root: JSON.parse(root) as JsonObject }
}

/** Resolves once `conn` is ready; connects it when it is not trying yet. */
function whenReady(conn: Redis): Promise<void> {
  if (conn.status === 'ready') return Promise.resolve()
  return new Promise((resolve, reject) => {
    const ready = (): void => {
      conn.off('end', ended)
      resolve()
    }
    const ended = (): void => {
      conn.off('ready', ready)
      reject(new Error('The Redis connection was closed'))
    }
    conn.once('ready', ready)
    conn.once('end', ended)
    if (conn.status === 'wait') conn.connect().catch(() => undefined)
  })
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
