/**
 * The stream contract (SPEC §4) over SSE: `GET /signalk/v1/api/<path>` with
 * `Accept: text/event-stream`, read by a raw-socket client so that it can
 * stop reading. This adapter is the only SSE-specific part of the suite.
 */
import type { Json } from '../../src/core/json.js'
import { startServer } from '../support/server.js'
import type { ContractStream, StreamEvent, StreamTransportAdapter } from './adapter.js'
import { StreamRefused } from './adapter.js'
import { RawSseClient, type SseFrame } from './raw-sse-client.js'
import { apiPath, restTree } from './rest-tree.js'
import { describeStreamContract } from './stream-contract.js'

/** An SSE frame as a contract event: unnamed frames with data are data; the rest move the resume point. */
function toEvent(frame: SseFrame): StreamEvent {
  if (frame.event === 'message' && frame.data !== undefined) {
    return { kind: 'data', id: frame.id, data: JSON.parse(frame.data) as Json, at: frame.at }
  }
  return { kind: 'keep-alive', id: frame.id, at: frame.at }
}

function sseStream(client: RawSseClient): ContractStream {
  const events: StreamEvent[] = []
  return {
    get events() {
      for (let i = events.length; i < client.frames.length; i++) {
        events.push(toEvent(client.frames[i]!))
      }
      return events
    },
    get closed() {
      return client.closed
    },
    changed: (ms) => client.changed(ms),
    pause: () => client.pause(),
    resume: () => client.resume(),
    close: () => client.close(),
  }
}

const sse: StreamTransportAdapter = {
  async start(options) {
    const running = await startServer(options)
    return {
      ...restTree(running.url),
      async open(path, { lastEventId, minPeriod } = {}) {
        const query = minPeriod === undefined ? '' : `?minPeriod=${minPeriod}`
        const headers: Record<string, string> =
          lastEventId === undefined ? {} : { 'Last-Event-ID': lastEventId }
        const answer = await RawSseClient.open(running.url + apiPath(path) + query, headers)
        if (answer instanceof RawSseClient) return sseStream(answer)
        throw new StreamRefused(answer.status, answer.headers['content-type'] ?? '', answer.body)
      },
      async openStreams() {
        const health = (await (await fetch(`${running.url}/healthz`)).json()) as { streams: number }
        return health.streams
      },
      close: () => running.close(),
    }
  },
}

describeStreamContract('SSE', sse)
