/**
 * The stream contract (SPEC §4) over SSE playback (SPEC §9): every stream
 * is opened as a playback from the moment it is asked for
 * (`?startTime=<now>&playbackRate=1000000`) on a server with a data dir,
 * so its first event comes from the journal's past and the rest of the
 * stream from its handover to the live one. The contract must hold
 * through both, as the spec says it does "throughout".
 */
import type { Json } from '../../src/core/json.js'
import type { ContractStream, StreamEvent, StreamTransportAdapter } from '../contract/adapter.js'
import { StreamRefused } from '../contract/adapter.js'
import { RawSseClient, type SseFrame } from '../contract/raw-sse-client.js'
import { apiPath, restTree } from '../contract/rest-tree.js'
import { describeStreamContract } from '../contract/stream-contract.js'
import { startRecording } from './voyage.js'

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

const playback: StreamTransportAdapter = {
  async start(options) {
    const running = await startRecording(options)
    return {
      ...restTree(running.url),
      async open(path, { lastEventId, minPeriod } = {}) {
        const startTime = new Date().toISOString()
        let query = `?startTime=${encodeURIComponent(startTime)}&playbackRate=1000000`
        if (minPeriod !== undefined) query += `&minPeriod=${minPeriod}`
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

describeStreamContract('SSE playback', playback)
