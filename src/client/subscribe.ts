/**
 * `subscribe(url, options)`: a live copy of one Signal K subtree from a
 * keelson SSE stream (SPEC §4). It folds the snapshot and every RFC 7396
 * merge patch into a state, reconnects with backoff and jitter, resumes
 * after the last event id it saw (`Last-Event-ID`), and starts over when
 * the server answers a resume it cannot honour with `data: null` — so the
 * state always equals what a GET of the path returns at that event id.
 */
import { type BackoffOptions, backoffDelay } from './backoff.js'
import { applyMergePatch, type MergePatch } from './merge-patch.js'
import { type Connect, eventSourceConnect, fetchConnect } from './transport.js'

/**
 * Where a subscription is: `connecting` (first connection), `live` (the
 * server is streaming), `reconnecting` (lost or refused, a retry is
 * scheduled), `closed` (stopped by its signal or `close()`, or refused for good).
 */
export type Status = 'connecting' | 'live' | 'reconnecting' | 'closed'

/** What came with a state or a patch. */
export interface EventInfo {
  /** The event id the state is at: pass it as `lastEventId` to resume later. */
  lastEventId: string | undefined
  /** True when this patch replaced the whole state (a snapshot, or the server's `data: null` reset). */
  reset: boolean
}

/** What came with a status. */
export interface StatusInfo {
  /** The event id the state is at. */
  lastEventId: string | undefined
  /** Failed connections since the last live one. */
  attempt: number
  /** With `reconnecting`: the wait before the next connection, ms. */
  retryInMs?: number
  /** With `reconnecting` and `closed`: why the connection ended, when it failed. */
  error?: Error
}

/** Options of {@link subscribe}. */
export interface SubscribeOptions<T> {
  /** Called with the folded state after every event (treat it as immutable: unchanged parts are shared). */
  onState?: (state: T | null, info: EventInfo) => void
  /** Called with every merge patch received, before `onState`. */
  onPatch?: (patch: MergePatch<T> | null, info: EventInfo) => void
  /** Called when the status changes (and on every scheduled retry). */
  onStatus?: (status: Status, info: StatusInfo) => void
  /** Aborting it closes the subscription. */
  signal?: AbortSignal
  /** Asks the server for at most one event per this many ms (`?minPeriod=`); default none. */
  minPeriod?: number
  /**
   * An access token: `Authorization: Bearer` over fetch, `?token=` over
   * `EventSource` (which cannot send headers). Default none.
   */
  token?: string
  /** Resume from this event id (with `initialState`, the state at that id). Default: start fresh. */
  lastEventId?: string
  /** The state at `lastEventId`. Default null. */
  initialState?: T | null
  /**
   * `eventsource` (browsers), `fetch` (Node 20, or browsers that need
   * headers) or `auto`: `EventSource` where it exists and no `headers` are
   * given, else fetch. Default `auto`.
   */
  transport?: 'auto' | 'fetch' | 'eventsource'
  /** Extra request headers (fetch only). */
  headers?: Record<string, string>
  /** The `fetch` to use (fetch only). Default `globalThis.fetch`. */
  fetch?: typeof fetch
  /** Reconnection delays; defaults in {@link BACKOFF_DEFAULTS}. */
  backoff?: BackoffOptions
  /**
   * Reconnect when nothing, not even a keep-alive, arrives for this long, ms
   * (fetch only: `EventSource` does not surface keep-alives). Default 45000,
   * three of the server's default keep-alive periods; 0 turns it off.
   */
  idleTimeoutMs?: number
}

/** A running subscription. */
export interface Subscription<T> {
  /** The folded state (null before the first event, or when the path does not exist). */
  readonly state: T | null
  readonly status: Status
  /** The event id the state is at. */
  readonly lastEventId: string | undefined
  /** Stops it: the connection closes, no retry, status `closed`. Idempotent. */
  close(): void
}

/** The default of {@link SubscribeOptions.idleTimeoutMs}. */
export const DEFAULT_IDLE_TIMEOUT_MS = 45_000

function resolveUrl(url: string | URL, minPeriod: number | undefined): URL {
  const base = (globalThis as { location?: { href: string } }).location?.href
  const target = new URL(String(url), base)
  if (minPeriod !== undefined) target.searchParams.set('minPeriod', String(minPeriod))
  return target
}

function chooseConnect<T>(options: SubscribeOptions<T>): { connect: Connect; idle: boolean } {
  const hasEventSource = typeof (globalThis as { EventSource?: unknown }).EventSource === 'function'
  const kind =
    options.transport === undefined || options.transport === 'auto'
      ? hasEventSource && options.headers === undefined
        ? 'eventsource'
        : 'fetch'
      : options.transport
  if (kind === 'eventsource') {
    return { connect: eventSourceConnect({ token: options.token }), idle: false }
  }
  const { fetch, token, headers } = options
  return { connect: fetchConnect({ fetch, token, headers }), idle: true }
}

/**
 * Subscribes to the SSE stream of a keelson REST path (wildcards included)
 * and keeps its state. `T` types the subtree.
 *
 * @example
 * import { subscribe } from 'keelson/client'
 *
 * const nav = subscribe<{ speedOverGround?: { value: number } }>(
 *   'http://localhost:3000/signalk/v1/api/vessels/self/navigation',
 *   {
 *     minPeriod: 1000,
 *     onState: (state) => console.log(state?.speedOverGround?.value),
 *     onStatus: (status, { lastEventId }) => console.log(status, lastEventId),
 *   },
 * )
 * // later: nav.close()
 */
export function subscribe<T = unknown>(
  url: string | URL,
  options: SubscribeOptions<T> = {},
): Subscription<T> {
  const target = resolveUrl(url, options.minPeriod)
  const { connect, idle } = chooseConnect(options)
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
  const watchIdle = idle && idleMs > 0
  let state: T | null = options.initialState ?? null
  let lastEventId = options.lastEventId
  let status: Status = 'connecting'
  let attempt = 0
  let stopConnection: (() => void) | undefined
  let retryTimer: ReturnType<typeof setTimeout> | undefined
  let idleTimer: ReturnType<typeof setTimeout> | undefined
  let generation = 0

  const setStatus = (next: Status, extra: Partial<StatusInfo> = {}): void => {
    if (next === status && next !== 'reconnecting') return
    status = next
    options.onStatus?.(next, { lastEventId, attempt, ...extra })
  }

  const stop = (): void => {
    generation++
    clearTimeout(idleTimer)
    clearTimeout(retryTimer)
    stopConnection?.()
    stopConnection = undefined
  }

  const retry = (error: Error): void => {
    stop()
    const retryInMs = backoffDelay(attempt, options.backoff)
    attempt++
    setStatus('reconnecting', { retryInMs, error })
    retryTimer = setTimeout(open, retryInMs)
  }

  const armIdle = (): void => {
    if (!watchIdle) return
    clearTimeout(idleTimer)
    idleTimer = setTimeout(
      () => retry(new Error(`${target.href}: nothing received for ${idleMs} ms`)),
      idleMs,
    )
  }

  function open(): void {
    const mine = ++generation
    const current = (): boolean => mine === generation
    // Without an id to resume from, the first event is a snapshot: it replaces the state.
    let fresh = lastEventId === undefined
    stopConnection = connect(target, lastEventId, {
      onOpen() {
        if (!current()) return
        attempt = 0
        armIdle()
        setStatus('live')
      },
      onMessage(message) {
        if (!current() || message.type !== 'message') return
        let patch: MergePatch<T> | null
        try {
          patch = JSON.parse(message.data) as MergePatch<T> | null
        } catch {
          return retry(new Error(`${target.href}: an event's data is not JSON`))
        }
        const reset = fresh || patch === null
        state = applyMergePatch<T | null>(fresh ? null : state, patch)
        fresh = false
        if (message.lastEventId !== '') lastEventId = message.lastEventId
        const info = { lastEventId, reset }
        options.onPatch?.(patch, info)
        if (current()) options.onState?.(state, info)
      },
      onActivity(id) {
        if (!current()) return
        if (id !== '') lastEventId = id
        armIdle()
      },
      onClose(error, fatal) {
        if (!current()) return
        stopConnection = undefined
        if (fatal) {
          stop()
          setStatus('closed', { error })
        } else {
          retry(error)
        }
      },
    })
  }

  const close = (): void => {
    if (status === 'closed') return
    stop()
    setStatus('closed')
  }

  if (options.signal?.aborted) {
    status = 'closed'
  } else {
    options.signal?.addEventListener('abort', close, { once: true })
    options.onStatus?.('connecting', { lastEventId, attempt })
    open()
  }

  return {
    get state() {
      return state
    },
    get status() {
      return status
    },
    get lastEventId() {
      return lastEventId
    },
    close,
  }
}
