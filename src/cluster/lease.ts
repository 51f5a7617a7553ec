/**
 * A lease in Redis: a turn that one node of the cluster holds at a time
 * (SPEC §9), such as calculating the course values (SPEC §11), which every
 * node could do but one must.
 *
 * - The key holds the holder's node id with a time to live. Every
 *   {@link LEASE_TTL_MS}/3 each node runs one script: the holder extends
 *   it, anyone else takes it when it is free (lapsed or given up), and
 *   nobody takes it from a live holder.
 * - The holder counts it as held until the ttl, less a margin, after it
 *   *sent* the command that took or extended it: Redis starts the ttl
 *   later, so a holder cut off from Redis stops before Redis lets another
 *   node take the turn. Two holders at once would need a clock running a
 *   fifth slow over a few seconds.
 * - A holder killed stops extending it: another node takes it within the
 *   ttl plus one period. A holder closing gives it up (only while it is its
 *   own), and another takes it at its next ask.
 *
 * It has its own connection: a blocked or failing command of the log's
 * connections never delays a renewal, and the reverse.
 */
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import pino from 'pino'

/** How long a lease lives unless its holder extends it, ms. */
export const LEASE_TTL_MS = 3000

/** The part of the ttl a holder gives up early, for the time its command took to reach Redis. */
const MARGIN = 0.2

/**
 * Takes the key when free, extends it when the caller's; 1 when the caller
 * holds it. ARGV: holder, ttl ms. A key no lease could have left (another
 * type, or no time to live: written by hand) is taken too, or it would
 * stop every node for good.
 */
const TAKE = `
if redis.call('TYPE', KEYS[1]).ok == 'string' then
  local held = redis.call('GET', KEYS[1])
  if held == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
  end
  if redis.call('PTTL', KEYS[1]) >= 0 then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`

/** Deletes the key while it is the caller's. ARGV: holder. */
const GIVE_UP = `
if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`

/** Options of {@link Lease}. */
export interface LeaseOptions {
  /** The cluster's Redis, as `--redis` names it. */
  url: string
  /** The lease's key. */
  key: string
  /** This node's id (the cluster's `nodeId`), held in the key while it holds the lease. */
  holder: string
  /** Time to live of the key, ms. Default {@link LEASE_TTL_MS}. */
  ttlMs?: number
  log?: Logger
}

/** One node's side of a lease: whether it holds it now. */
export class Lease {
  private readonly conn: Redis
  private readonly ttlMs: number
  private readonly log: Logger
  /** Monotonic time until which this node holds the lease; 0: it does not. */
  private until = 0
  private timer: NodeJS.Timeout | undefined
  private asking = false
  private closed = false

  /** Makes the lease without connecting: {@link start} asks for it. */
  constructor(private readonly options: LeaseOptions) {
    this.ttlMs = options.ttlMs ?? LEASE_TTL_MS
    this.log = options.log ?? pino({ level: 'silent' })
    this.conn = new Redis(options.url, {
      lazyConnect: true,
      retryStrategy: (times) => Math.min(2000, 50 * 2 ** Math.min(times, 6)),
      maxRetriesPerRequest: 0,
      // Refused at once while disconnected: a renewal that cannot be sent is not sent later.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      commandTimeout: Math.floor(this.ttlMs / 3),
      connectionName: 'keelson-lease',
    })
    // The cluster's own connections report Redis going away; errors here are only retried.
    this.conn.on('error', () => undefined)
    this.conn.on('ready', () => void this.ask())
  }

  /** True while this node holds the lease. */
  get held(): boolean {
    return performance.now() < this.until
  }

  /** Connects and asks for the lease now and every ttl/3. Call once this node is caught up. */
  start(): void {
    if (this.closed || this.timer !== undefined) return
    this.timer = setInterval(() => void this.ask(), Math.floor(this.ttlMs / 3))
    this.timer.unref()
    if (this.conn.status === 'wait') this.conn.connect().catch(() => undefined)
  }

  /** Stops asking, gives the lease up when held (another node takes it at once) and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.timer !== undefined) clearInterval(this.timer)
    const held = this.held
    this.until = 0
    if (held && this.conn.status === 'ready') {
      try {
        await this.conn.eval(GIVE_UP, 1, this.options.key, this.options.holder)
      } catch {
        // It lapses by itself.
      }
    }
    this.conn.disconnect()
  }

  /** Takes or extends the lease; on no answer it lapses by the clock. */
  private async ask(): Promise<void> {
    if (this.asking || this.closed || this.conn.status !== 'ready') return
    this.asking = true
    const sent = performance.now()
    const was = this.held
    try {
      const got = await this.conn.eval(TAKE, 1, this.options.key, this.options.holder, this.ttlMs)
      if (this.closed) return
      this.until = got === 1 ? sent + this.ttlMs * (1 - MARGIN) : 0
    } catch {
      // No answer: held until its time runs out, then someone else's turn.
    } finally {
      this.asking = false
    }
    if (this.held !== was) {
      this.log.info(
        { lease: this.options.key, node: this.options.holder },
        this.held ? 'cluster: took the lease' : 'cluster: the lease went to another node',
      )
    }
  }
}
