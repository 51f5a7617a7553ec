/**
 * The two ways a subscription opens one SSE connection: `fetch` with a
 * streamed body parsed by {@link SseParser} (Node 20, or a browser when
 * headers are needed), and the browser's `EventSource`. Each connection is
 * opened once; reconnecting is the subscription's business, so an
 * `EventSource` is closed on its first error rather than left to retry.
 */
import { type SseMessage, SseParser } from './sse-parser.js'

/** What a connection reports to its subscription. */
export interface ConnectionHandlers {
  /** The server answered with an event stream. */
  onOpen(): void
  /** A dispatched event (any type). */
  onMessage(message: SseMessage): void
  /** Bytes arrived; `lastEventId` is the stream's last event id after them (a keep-alive may move it). */
  onActivity(lastEventId: string): void
  /** The connection ended or could not open; `fatal` when retrying cannot help. */
  onClose(error: Error, fatal: boolean): void
}

/** Opens one connection to `url`, resuming after `lastEventId`; returns a function that closes it. */
export type Connect = (
  url: URL,
  lastEventId: string | undefined,
  handlers: ConnectionHandlers,
) => () => void

/** An HTTP answer that is not an event stream. */
export class StreamRefusedError extends Error {
  override name = 'StreamRefusedError'
  constructor(
    /** The HTTP status. */
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

/** Statuses that a retry cannot change: a malformed request or one the server will never stream. */
const FATAL_STATUSES = new Set([400, 405, 406, 414])

/** Options of {@link fetchConnect}. */
export interface FetchConnectOptions {
  /** The `fetch` to use. Default `globalThis.fetch`. */
  fetch?: typeof fetch
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string
  /** More request headers. */
  headers?: Record<string, string>
}

/** Connections over `fetch`: `Last-Event-ID` and the token go in headers. */
export function fetchConnect(options: FetchConnectOptions = {}): Connect {
  return (url, lastEventId, handlers) => {
    const aborter = new AbortController()
    const headers: Record<string, string> = {
      ...options.headers,
      Accept: 'text/event-stream',
      'Cache-Control': 'no-cache',
    }
    if (lastEventId !== undefined) headers['Last-Event-ID'] = lastEventId
    if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`
    const run = async (): Promise<void> => {
      const doFetch = options.fetch ?? globalThis.fetch
      const res = await doFetch(url, { headers, signal: aborter.signal, cache: 'no-store' })
      const type = res.headers.get('content-type') ?? ''
      if (!res.ok || !/^text\/event-stream\b/i.test(type) || !res.body) {
        const text = await res.text().catch(() => '')
        const error = new StreamRefusedError(
          res.status,
          `${url.href} answered ${res.status} ${type || 'without a type'}: ${text.slice(0, 200)}`,
        )
        return handlers.onClose(error, FATAL_STATUSES.has(res.status) || (res.ok && !!type))
      }
      handlers.onOpen()
      const parser = new SseParser(handlers.onMessage, lastEventId)
      const decoder = new TextDecoder()
      const reader = res.body.getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        parser.feed(decoder.decode(value, { stream: true }))
        handlers.onActivity(parser.lastEventId)
      }
      handlers.onClose(new Error(`${url.href}: the server ended the stream`), false)
    }
    run().catch((err: unknown) => {
      if (!aborter.signal.aborted) {
        handlers.onClose(err instanceof Error ? err : new Error(String(err)), false)
      }
    })
    return () => aborter.abort()
  }
}

/**
 * Connections over the browser's `EventSource`, which cannot send headers:
 * the resume point goes as `?lastEventId=` and the token as `?token=`.
 * Keep-alives carry no data, so `EventSource` dispatches nothing for them:
 * idle detection is not available on this transport.
 */
export function eventSourceConnect(options: { token?: string } = {}): Connect {
  return (url, lastEventId, handlers) => {
    const target = new URL(url)
    if (lastEventId !== undefined) target.searchParams.set('lastEventId', lastEventId)
    if (options.token !== undefined) target.searchParams.set('token', options.token)
    const source = new EventSource(target)
    let done = false
    source.onopen = () => handlers.onOpen()
    source.onmessage = (event: MessageEvent<string>) => {
      handlers.onMessage({ type: 'message', data: event.data, lastEventId: event.lastEventId })
      handlers.onActivity(event.lastEventId)
    }
    source.onerror = () => {
      if (done) return
      done = true
      source.close()
      handlers.onClose(new Error(`${target.href}: the event stream failed or ended`), false)
    }
    return () => {
      done = true
      source.close()
    }
  }
}
