/**
 * The durable journal of a data dir (SPEC §9): the tree, its revision and
 * epoch survive a restart and a `kill -9`.
 *
 * Every change is recorded from a tree listener registered before the
 * fan-out hub's: its revision, time and root merge patch, framed with a CRC
 * (./format.ts). In `sync` mode a write is answered only once its record is
 * fsynced, and the writes of one event-loop turn share one `fdatasync`
 * (group commit, as Redis's AOF `always` does before replying); the same
 * flush runs as a barrier before any stream frame goes out
 * (src/core/turn-batch.ts), so no stream shows a change a crash can lose.
 * In `async` mode records are written every turn and fsynced at most every
 * second: a power cut can lose the last second (a `kill -9` loses only the
 * turn in progress).
 *
 * A failed write or fsync refuses every later write with 503 (the port asks
 * {@link Journal.refusal}); reads and streams go on. Checkpoints (whole
 * trees) are written in a worker thread (./compact-worker.ts) from the
 * previous checkpoint and the records, never from the live tree; retention
 * removes the segments and checkpoints older than the window.
 */
import {
  closeSync,
  existsSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { Errors, KeelsonError } from '../core/errors.js'
import { newEpoch } from '../core/event-id.js'
import type { JsonObject } from '../core/json.js'
import type { TreePath } from '../core/path.js'
import type { Change, StateTree } from '../core/state-tree.js'
import { addFlushBarrier } from '../core/turn-batch.js'
import type { Durability, WritePort } from '../core/write-port.js'
import type { CompactJob, CompactMessage } from './compact-worker.js'
import {
  type CheckpointHeader,
  checkpointName,
  decodeCheckpoint,
  encodeCheckpoint,
  encodeRecord,
  type JournalRecord,
  META_FILE,
  type Meta,
  readCheckpointHeader,
  segmentName,
  syncDir,
  writeAtomic,
} from './format.js'
import { PastReader } from './past.js'
import { JournalDamage, listJournal, scanSegment } from './scan.js'
import type { TimeTravel } from './time-travel.js'

/** `sync`: answer a write once its record is fsynced; `async`: fsync at most every second. */
export type JournalMode = 'sync' | 'async'

/** Options of {@link Journal.open}; defaults in src/options.ts. */
export interface JournalOptions {
  readonly dir: string
  readonly mode: JournalMode
  /** Keep segments and checkpoints this long, ms. */
  readonly retentionMs: number
  /** Changes a start replays at least (when kept), so resume works across a restart. */
  readonly historySize: number
  /** Start a new segment past this many bytes. */
  readonly segmentBytes: number
  /** Start a new segment past this age, ms. */
  readonly segmentMs: number
  /** Write a checkpoint after this many bytes of records (or the tree's size, when larger). */
  readonly checkpointBytes: number
  /** false: fsync after every record instead of once per turn (bench only). */
  readonly groupCommit?: boolean
  readonly log: Logger
  /** The clock of record times (bench/journal.ts makes a week in a minute). Default Date.now. */
  readonly now?: () => number
}

const ROOT: TreePath = { segments: [], starAt: -1 }
/** How often async mode fsyncs, ms (SPEC §9: "at most every second"). */
const ASYNC_SYNC_MS = 1000
/** How often retention runs besides after each compaction, ms. */
const RETENTION_SWEEP_MS = 60_000
const LOCK_FILE = 'lock'
/** The data dirs open in this process (the lock file tells other processes). */
const openHere = new Set<string>()

/** The journal of one data dir, opened before the tree it restores. */
export class Journal implements Durability {
  /** The epoch of event ids, kept in the data dir. */
  readonly epoch: string
  /** The tree to start from (the chosen checkpoint), or undefined for a new data dir. */
  readonly restore: { readonly root: JsonObject; readonly rev: number } | undefined
  /** Reads the retained past (SPEC §9 time travel). */
  readonly timeTravel: TimeTravel
  readonly dir: string
  readonly mode: JournalMode

  private readonly options: JournalOptions
  private readonly log: Logger
  private readonly now: () => number
  private replay: JournalRecord[]
  private checkpointList: CheckpointHeader[]
  private segmentList: number[]
  private fd = -1
  /** First revision and bytes of the segment being appended. */
  private segFirst = 0
  private segBytes = 0
  private segStarted = 0
  private pending: Buffer[] = []
  private pendingBytes = 0
  private pendingRev = 0
  private lastTime = 0
  /** Last revision written to the file, and fsynced. */
  private written = 0
  private durable = 0
  private unsynced = false
  private scheduled = false
  private syncing = false
  private waiters: { rev: number; resolve: () => void; reject: (err: unknown) => void }[] = []
  private failure: KeelsonError | undefined
  private sinceCheckpoint = 0
  private treeBytes = 0
  private worker: Worker | undefined
  private compacting = false
  private closed = false
  private readonly stops: (() => void)[] = []

  private constructor(options: JournalOptions, opened: Opened) {
    this.options = options
    this.dir = options.dir
    this.mode = options.mode
    this.log = options.log
    this.now = options.now ?? Date.now
    this.epoch = opened.epoch
    this.restore = opened.restore
    this.replay = opened.replay
    this.checkpointList = opened.checkpoints
    this.segmentList = opened.segments
    this.treeBytes = opened.treeBytes
    this.timeTravel = new PastReader({
      dir: this.dir,
      checkpoints: () => this.checkpointList,
      segments: () => this.segmentList,
      writePending: () => this.flush(false),
    })
  }

  /**
   * Opens the data dir `options.dir` (created when missing): reads its
   * epoch, the checkpoint to start from and the records after it, and drops
   * a torn last record (logged). Throws {@link JournalDamage} naming the file
   * and offset of a bad record, or an Error when another process has the
   * dir open.
   */
  static open(options: JournalOptions): Journal {
    // Owner only: the journal holds every value the tree ever had.
    mkdirSync(options.dir, { recursive: true, mode: 0o700 })
    const key = resolve(options.dir)
    if (openHere.has(key))
      throw new Error(`the data dir ${options.dir} is already open in this process`)
    lock(options.dir)
    try {
      const journal = new Journal(options, openDir(options))
      openHere.add(key)
      return journal
    } catch (err) {
      // A start refused for damage leaves the dir free for `keelson journal repair`.
      try {
        unlinkSync(join(options.dir, LOCK_FILE))
      } catch {}
      throw err
    }
  }

  /**
   * Replays the records after the restored checkpoint through the write
   * port (so the resume history holds them), then records every change of
   * `tree` from now on. Call it before anything else listens to the tree.
   */
  attach(tree: StateTree, writes: WritePort): void {
    for (const record of this.replay) {
      const change = writes.commit({ kind: 'merge', path: [], value: record.p })
      if (change?.rev !== record.r) {
        throw new Error(
          `the journal's revision ${record.r} did not apply as revision ${record.r} (got ${change?.rev ?? 'no change'})`,
        )
      }
      this.lastTime = record.t
    }
    this.replay = []
    this.written = tree.rev
    this.durable = tree.rev
    this.pendingRev = tree.rev
    if (this.checkpointList.length === 0) this.writeFirstCheckpoint(tree)
    this.openSegment()
    this.stops.push(tree.onChange(this.record))
    writes.useDurability(this)
    this.stops.push(() => writes.useDurability(undefined))
    this.stops.push(addFlushBarrier(this.barrier))
    if (this.mode === 'async') {
      const timer = setInterval(() => this.syncInBackground(), ASYNC_SYNC_MS)
      timer.unref()
      this.stops.push(() => clearInterval(timer))
    }
    const sweep = setInterval(() => this.retain(), RETENTION_SWEEP_MS)
    sweep.unref()
    this.stops.push(() => clearInterval(sweep))
    this.retain()
  }

  /** Resolves once `change` is on disk (sync mode); at once in async mode. */
  whenDurable(change: Change): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    if (this.mode === 'async' || change.rev <= this.durable) return Promise.resolve()
    return new Promise((resolve, reject) => this.waiters.push({ rev: change.rev, resolve, reject }))
  }

  /** 503 once a write or fsync of the journal failed: until a restart. */
  refusal(): KeelsonError | undefined {
    return this.failure
  }

  /** The last revision fsynced (bench, tests). */
  get durableRev(): number {
    return this.durable
  }

  /** Writes and fsyncs what is pending, stops the worker and marks the journal closed cleanly. */
  close(): void {
    if (this.closed) return
    this.closed = true
    for (const stop of this.stops.splice(0)) stop()
    this.flush(true)
    void this.worker?.terminate()
    this.worker = undefined
    if (this.fd >= 0) {
      closeSync(this.fd)
      this.fd = -1
    }
    if (this.failure === undefined) {
      try {
        writeAtomic(
          this.dir,
          META_FILE,
          `${JSON.stringify({ epoch: this.epoch } satisfies Meta)}\n`,
        )
      } catch (err) {
        this.log.warn({ err }, 'journal: cannot mark the data dir closed')
      }
    }
    try {
      unlinkSync(join(this.dir, LOCK_FILE))
    } catch {}
    openHere.delete(resolve(this.dir))
  }

  /** Starts a compaction now, whatever the interval, unless one runs (bench/journal.ts). */
  compactNow(): void {
    if (!this.compacting) this.compact()
  }

  /** Waits until no compaction runs (bench, tests). */
  async settled(): Promise<void> {
    while (this.compacting) await new Promise((resolve) => setTimeout(resolve, 10))
  }

  /** The tree listener: frames the change's record; written at the end of the turn. */
  private readonly record = (change: Change): void => {
    if (this.failure !== undefined) return
    const t = Math.max(this.now(), this.lastTime)
    this.lastTime = t
    const frame = encodeRecord({ r: change.rev, t, p: change.effect.patch as JsonObject })
    this.pending.push(frame)
    this.pendingBytes += frame.length
    this.pendingRev = change.rev
    if (this.options.groupCommit === false && this.mode === 'sync') {
      this.flush(true)
      this.afterFlush()
      return
    }
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.endOfTurn)
    }
  }

  private readonly endOfTurn = (): void => {
    this.scheduled = false
    if (this.closed) return
    this.flush(this.mode === 'sync')
    this.afterFlush()
  }

  /** Before any stream frame goes out: this turn's records on disk (sync mode). */
  private readonly barrier = (): void => {
    if (this.mode === 'sync' && (this.pending.length > 0 || this.unsynced)) this.flush(true)
  }

  /** Writes the pending records; with `sync`, fdatasyncs them and answers their writers. */
  private flush(sync: boolean): void {
    if (this.failure !== undefined || this.fd < 0) return
    try {
      if (this.pending.length > 0) {
        const bytes = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending)
        this.pending = []
        this.pendingBytes = 0
        let at = 0
        while (at < bytes.length) at += writeSync(this.fd, bytes, at, bytes.length - at)
        this.segBytes += bytes.length
        this.sinceCheckpoint += bytes.length
        this.written = this.pendingRev
        this.unsynced = true
      }
      if (sync && this.unsynced) {
        fdatasyncSync(this.fd)
        this.unsynced = false
        this.markDurable(this.written)
      }
    } catch (err) {
      this.fail(err as NodeJS.ErrnoException)
    }
  }

  private markDurable(rev: number): void {
    if (rev > this.durable) this.durable = rev
    let n = 0
    while (n < this.waiters.length && this.waiters[n]!.rev <= this.durable)
      this.waiters[n++]!.resolve()
    if (n > 0) this.waiters.splice(0, n)
  }

  /** Async mode's fsync, off the event loop (a threadpool fdatasync). */
  private syncInBackground(): void {
    if (!this.unsynced || this.syncing || this.failure !== undefined || this.fd < 0) return
    this.syncing = true
    this.unsynced = false
    const rev = this.written
    const fd = this.fd
    fdatasync(fd, (err) => {
      this.syncing = false
      if (err) this.fail(err)
      else this.markDurable(rev)
    })
  }

  private fail(err: NodeJS.ErrnoException): void {
    if (this.failure !== undefined) return
    this.failure = new KeelsonError(
      Errors.UNAVAILABLE,
      `The journal cannot write to disk (${err.code ?? err.message}); writes are refused until keelson restarts`,
    )
    this.log.error(
      { err, file: join(this.dir, segmentName(this.segFirst)) },
      'journal: a write or fsync failed: writes are refused (503) until keelson restarts; reads and streams go on',
    )
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure)
    this.pending = []
  }

  /** After a flush: a new segment past its size or age, a checkpoint past its interval. */
  private afterFlush(): void {
    if (this.failure !== undefined || this.closed) return
    if (
      this.pending.length === 0 &&
      this.segBytes > 0 &&
      (this.segBytes >= this.options.segmentBytes ||
        this.now() - this.segStarted >= this.options.segmentMs)
    ) {
      try {
        if (this.unsynced) {
          fdatasyncSync(this.fd)
          this.unsynced = false
          this.markDurable(this.written)
        }
        closeSync(this.fd)
        this.fd = -1
        this.openSegment()
      } catch (err) {
        this.fail(err as NodeJS.ErrnoException)
        return
      }
    }
    if (
      !this.compacting &&
      this.sinceCheckpoint >= Math.max(this.options.checkpointBytes, this.treeBytes)
    ) {
      this.compact()
    }
  }

  /** Appends to the last segment, or starts one at the next revision (file and directory fsynced). */
  private openSegment(): void {
    const last = this.segmentList.at(-1)
    const next = this.written + 1
    if (last !== undefined && this.fd < 0 && this.segBytes === 0 && this.segFirst === 0) {
      // At start: go on appending to the newest segment while it has room.
      const file = join(this.dir, segmentName(last))
      this.fd = openSync(file, 'a')
      const size = fstatSync(this.fd).size
      if (size < this.options.segmentBytes) {
        this.segFirst = last
        this.segBytes = size
        this.segStarted = this.now()
        return
      }
      closeSync(this.fd)
      this.fd = -1
    }
    this.fd = openSync(join(this.dir, segmentName(next)), 'a')
    syncDir(this.dir)
    this.segFirst = next
    this.segBytes = 0
    this.segStarted = this.now()
    if (this.segmentList.at(-1) !== next) this.segmentList.push(next)
  }

  /** The first checkpoint of a new data dir: the tree as created, at revision 0. */
  private writeFirstCheckpoint(tree: StateTree): void {
    const body = Buffer.from(JSON.stringify(tree.get(ROOT)))
    const header = { epoch: this.epoch, rev: tree.rev, time: this.now(), seg: tree.rev + 1, off: 0 }
    writeAtomic(this.dir, checkpointName(tree.rev), encodeCheckpoint(header, body))
    this.checkpointList.push({ v: 1, ...header, bytes: body.length, crc: 0 })
    this.treeBytes = body.length
  }

  /** Hands the worker the records since the newest checkpoint, up to what is written (and fsynced). */
  private compact(): void {
    const from = this.checkpointList.at(-1)
    if (from === undefined) return
    // Written to the file here; the worker fsyncs the segments before its checkpoint, so a
    // checkpoint is never ahead of the records on disk and no fsync waits on the event loop.
    this.flush(false)
    if (this.failure !== undefined) return
    // From the segment holding the checkpoint's next record: the last one starting at or before it.
    let startAt = 0
    this.segmentList.forEach((first, i) => {
      if (first <= from.rev + 1) startAt = i
    })
    const segments = this.segmentList.slice(startAt).map((first) => ({
      first,
      limit: first === this.segFirst ? this.segBytes : Number.MAX_SAFE_INTEGER,
    }))
    if (segments.length === 0) return
    const job: CompactJob = {
      dir: this.dir,
      epoch: this.epoch,
      from,
      segments,
      every: Math.max(this.options.checkpointBytes, this.treeBytes),
    }
    this.compacting = true
    this.sinceCheckpoint = 0
    this.workerThread().postMessage(job)
  }

  private workerThread(): Worker {
    if (this.worker !== undefined) return this.worker
    const worker = startWorker()
    worker.unref()
    worker.on('message', (message: CompactMessage) => {
      if (message.kind === 'checkpoint') {
        this.checkpointList.push(message.header)
        this.treeBytes = message.header.bytes
        return
      }
      this.compacting = false
      if (message.kind === 'failed') {
        this.log.error({ reason: message.message }, 'journal: compaction failed; retried later')
      }
      this.retain()
      // Records that came while it ran may already be due their own checkpoint.
      if (message.kind === 'done') this.afterFlush()
    })
    worker.on('error', (err) => {
      this.log.error(
        { err },
        'journal: the compaction worker stopped; a new one starts with the next compaction',
      )
      this.compacting = false
      this.worker = undefined
    })
    this.worker = worker
    return worker
  }

  /**
   * Retention: the newest checkpoint at or before the window's start stays
   * (the earliest moment time travel answers); older checkpoints and the
   * segments holding only records before it are removed.
   */
  private retain(): void {
    if (this.compacting || this.closed) return
    const cutoff = this.now() - this.options.retentionMs
    let base = -1
    for (let i = 0; i < this.checkpointList.length; i++) {
      if (this.checkpointList[i]!.time <= cutoff) base = i
    }
    if (base <= 0) return
    const keep = this.checkpointList[base]!
    for (const old of this.checkpointList.slice(0, base)) this.remove(checkpointName(old.rev))
    this.checkpointList = this.checkpointList.slice(base)
    const segments = this.segmentList
    let drop = 0
    // A segment goes when the next one starts at or before the kept checkpoint's next record.
    while (
      drop + 1 < segments.length &&
      segments[drop + 1]! <= keep.rev + 1 &&
      segments[drop] !== this.segFirst
    ) {
      this.remove(segmentName(segments[drop]!))
      drop++
    }
    if (drop > 0) this.segmentList = segments.slice(drop)
  }

  private remove(name: string): void {
    try {
      unlinkSync(join(this.dir, name))
    } catch (err) {
      this.log.warn({ err, file: name }, 'journal: cannot remove a file past retention')
    }
  }
}

/**
 * The compaction worker: the compiled .js beside this file, or, run from
 * source, the .ts through tsx's loader (registered in the worker first:
 * an `--import` in a worker's execArgv does not reach its entry on node 20).
 */
function startWorker(): Worker {
  const source = import.meta.url.endsWith('.ts')
  const url = new URL(source ? './compact-worker.ts' : './compact-worker.js', import.meta.url)
  if (!source) return new Worker(url)
  // tsx's ESM API (its package exports resolve the CommonJS one for require).
  const api = pathToFileURL(
    createRequire(import.meta.url)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  ).href
  const boot = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}) })`
  return new Worker(boot, { eval: true })
}

/** What opening a data dir found. */
interface Opened {
  epoch: string
  restore: { root: JsonObject; rev: number } | undefined
  replay: JournalRecord[]
  checkpoints: CheckpointHeader[]
  segments: number[]
  treeBytes: number
}

function openDir(options: JournalOptions): Opened {
  const { dir, log } = options
  // Temporary files of a checkpoint whose write a crash cut off.
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.cp-') && name.endsWith('.tmp')) unlinkSync(join(dir, name))
  }
  const listing = listJournal(dir)
  const metaFile = join(dir, META_FILE)
  let meta: Meta | undefined
  if (existsSync(metaFile)) {
    try {
      meta = JSON.parse(readFileSync(metaFile, 'utf8')) as Meta
    } catch {}
    if (typeof meta?.epoch !== 'string')
      throw new JournalDamage(metaFile, 0, 'it does not hold the epoch')
  } else if (listing.segments.length > 0 || listing.checkpoints.length > 0) {
    throw new JournalDamage(metaFile, 0, 'it is missing beside journal files')
  }
  let epoch = meta?.epoch ?? newEpoch()
  if (meta?.open === 'async') {
    // An async run that did not close cleanly may have streamed changes it then lost:
    // ids of the old epoch could name other content now, so clients get a reset.
    epoch = newEpoch()
    log.warn(
      { dir },
      'journal: the last run (async mode) did not close cleanly; new epoch, clients will reset',
    )
  }
  writeAtomic(dir, META_FILE, `${JSON.stringify({ epoch, open: options.mode } satisfies Meta)}\n`)

  if (listing.checkpoints.length === 0) {
    if (listing.segments.length > 0) {
      throw new JournalDamage(dir, 0, 'journal segments without any checkpoint to start from')
    }
    return { epoch, restore: undefined, replay: [], checkpoints: [], segments: [], treeBytes: 0 }
  }
  const checkpoints = listing.checkpoints.map((rev) => readHeader(dir, rev))
  const segments = listing.segments
  // Newest first; an older one when the newest leaves fewer changes than the resume history holds.
  let start = checkpoints.at(-1)!
  let scanned = scanFrom(dir, segments, start)
  const wanted = scanned.lastRev - options.historySize
  if (scanned.lastRev - start.rev < options.historySize && checkpoints.length > 1) {
    const older = [...checkpoints].reverse().find((cp) => cp.rev <= wanted) ?? checkpoints[0]!
    if (older.rev < start.rev) {
      start = older
      scanned = scanFrom(dir, segments, start)
    }
  }
  if (scanned.torn !== undefined) {
    const { file, offset, size } = scanned.torn
    const fd = openSync(file, 'r+')
    try {
      ftruncateSync(fd, offset)
      fdatasyncSync(fd)
    } finally {
      closeSync(fd)
    }
    log.warn(
      { file, offset, bytes: size - offset },
      'journal: dropped a torn last record (a write cut short by a crash; it was never acknowledged)',
    )
  }
  const file = join(dir, checkpointName(start.rev))
  let root: JsonObject
  try {
    root = decodeCheckpoint(readFileSync(file)).root
  } catch (err) {
    throw new JournalDamage(file, 0, (err as Error).message)
  }
  if (scanned.lastRev < start.rev) {
    throw new JournalDamage(
      join(dir, segmentName(segments.at(-1) ?? start.rev + 1)),
      0,
      `the journal ends at revision ${scanned.lastRev}, before its checkpoint at ${start.rev}`,
    )
  }
  return {
    epoch,
    restore: { root, rev: start.rev },
    replay: scanned.records,
    checkpoints,
    segments,
    treeBytes: checkpoints.at(-1)!.bytes,
  }
}

/** The records after checkpoint `from`, every segment from the one holding its next record checked. */
function scanFrom(
  dir: string,
  segments: readonly number[],
  from: CheckpointHeader,
): {
  records: JournalRecord[]
  lastRev: number
  torn: { file: string; offset: number; size: number } | undefined
} {
  let first = segments.findIndex(
    (seg, i) => seg <= from.rev + 1 && (segments[i + 1] ?? Infinity) > from.rev + 1,
  )
  if (first < 0) first = segments.findIndex((seg) => seg > from.rev + 1)
  if (first < 0) return { records: [], lastRev: from.rev, torn: undefined }
  if (segments[first]! > from.rev + 1) {
    throw new JournalDamage(
      join(dir, segmentName(segments[first]!)),
      0,
      `revisions ${from.rev + 1} to ${segments[first]! - 1} are missing after checkpoint ${from.rev}`,
    )
  }
  const records: JournalRecord[] = []
  let lastRev = from.rev
  let torn: { file: string; offset: number; size: number } | undefined
  for (let i = first; i < segments.length; i++) {
    const seg = segments[i]!
    if (i > first && seg !== lastRev + 1) {
      throw new JournalDamage(
        join(dir, segmentName(seg)),
        0,
        `it starts at revision ${seg} where ${lastRev + 1} was due`,
      )
    }
    const last = i === segments.length - 1
    // In the checkpoint's own segment, from the record after it: what precedes is in the checkpoint.
    const at = i === first && seg === from.seg ? { offset: from.off, rev: from.rev + 1 } : undefined
    const scan = scanSegment(dir, seg, last, from.rev, at)
    for (const record of scan.records) records.push(record)
    lastRev = Math.max(lastRev, scan.lastRev)
    if (scan.torn) torn = { file: scan.file, offset: scan.end, size: scan.size }
  }
  return { records, lastRev, torn }
}

/** A checkpoint's header line (its body is read when it is used). */
function readHeader(dir: string, rev: number): CheckpointHeader {
  const file = join(dir, checkpointName(rev))
  const fd = openSync(file, 'r')
  try {
    const head = Buffer.alloc(4096)
    const n = readSync(fd, head, 0, head.length, 0)
    const read = readCheckpointHeader(head.subarray(0, n))
    if ('why' in read) throw new JournalDamage(file, 0, read.why)
    if (read.header.rev !== rev)
      throw new JournalDamage(file, 0, `it holds revision ${read.header.rev}`)
    return read.header
  } finally {
    closeSync(fd)
  }
}

/** One process per data dir: a `lock` file with the pid of the process that has it open. */
function lock(dir: string): void {
  const file = join(dir, LOCK_FILE)
  try {
    const pid = Number(readFileSync(file, 'utf8'))
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new Error(`the data dir ${dir} is in use by keelson process ${pid}`)
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  writeFileSync(file, String(process.pid))
}

/**
 * Whether `pid` is a live node process. After a power cut the lock's pid may
 * name another program; where /proc exists its command line tells.
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node')
  } catch {
    return !existsSync('/proc/self')
  }
}
