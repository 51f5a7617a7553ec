/**
 * How the contract suite reads a stream: its data events, its resume point,
 * the RFC 7396 fold of what it received, and waits that end on an event
 * rather than after a sleep.
 */
import { isDeepStrictEqual } from 'node:util'
import jsonMergePatch from 'json-merge-patch'
import type { Json } from '../../src/core/json.js'
import type { ContractStream, StreamEvent } from './adapter.js'

/** A data event. */
export type DataEvent = Extract<StreamEvent, { kind: 'data' }>

/** The data events of `stream` (snapshot, patches, resets), in order. */
export function dataOf(stream: ContractStream): DataEvent[] {
  return stream.events.filter((e): e is DataEvent => e.kind === 'data')
}

/** The keep-alives of `stream` from event index `from` on. */
export function keepAlivesOf(stream: ContractStream, from = 0): StreamEvent[] {
  return stream.events.slice(from).filter((e) => e.kind === 'keep-alive')
}

/** The client's resume point: the last id any event carried, as EventSource keeps it. */
export function lastIdOf(events: readonly StreamEvent[]): string | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const id = events[i]!.id
    if (id !== undefined) return id
  }
  return undefined
}

/**
 * RFC 7396 applied in order to `start` (null by default), by an implementation
 * independent of keelson's own (json-merge-patch), so the fold is an oracle.
 */
export function fold(events: readonly StreamEvent[], start: Json = null): Json {
  let doc: Json = structuredClone(start)
  for (const e of events) {
    if (e.kind === 'data') doc = jsonMergePatch.apply(doc, structuredClone(e.data)) as Json
  }
  return doc
}

/** A short account of the last events, for failure messages (long values cut). */
export function describeEvents(events: readonly StreamEvent[], last = 6): string {
  return events
    .slice(-last)
    .map((e) => {
      const data = e.kind === 'data' ? ` ${JSON.stringify(e.data).slice(0, 120)}` : ''
      return `${e.kind}${e.id === undefined ? '' : ` id=${e.id}`}${data}`
    })
    .join('; ')
}

/** Resolves when `predicate` holds; rejects after `ms` or when the stream ends first. */
export async function waitFor(
  stream: ContractStream,
  predicate: () => boolean,
  what: string,
  ms = 5000,
): Promise<void> {
  const deadline = performance.now() + ms
  while (!predicate()) {
    const left = deadline - performance.now()
    if (stream.closed || left <= 0) {
      const why = stream.closed ? 'the stream closed' : `${ms} ms passed`
      throw new Error(
        `waiting for ${what}: ${why}; last events: ${describeEvents(stream.events) || 'none'}`,
      )
    }
    await stream.changed(Math.min(left, 100))
  }
}

/** Waits for the `n`th data event and returns the first `n`. */
export async function nData(stream: ContractStream, n: number, ms = 5000): Promise<DataEvent[]> {
  await waitFor(stream, () => dataOf(stream).length >= n, `${n} data event(s)`, ms)
  return dataOf(stream).slice(0, n)
}

/** Waits for a data event carrying `id` and returns every data event up to it. */
export async function dataUpTo(
  stream: ContractStream,
  id: string,
  ms = 5000,
): Promise<DataEvent[]> {
  await waitFor(stream, () => dataOf(stream).some((e) => e.id === id), `data with id ${id}`, ms)
  const all = dataOf(stream)
  return all.slice(0, all.findIndex((e) => e.id === id) + 1)
}

/** Waits until the stream's resume point is `id` (a data event or a keep-alive moved it). */
export async function resumePointAt(stream: ContractStream, id: string, ms = 5000): Promise<void> {
  await waitFor(stream, () => lastIdOf(stream.events) === id, `resume point ${id}`, ms)
}

/**
 * For a transport without event ids: waits until the fold of the data events
 * equals `value` (what a GET read after the last write) and returns every data
 * event up to the first whose fold does. Events arrive in write order, so an
 * event a write elsewhere should not have caused is among those returned.
 */
export async function dataUntilFold(
  stream: ContractStream,
  value: Json,
  ms = 5000,
): Promise<DataEvent[]> {
  let folded: Json = null
  let n = 0
  let reached = -1
  const check = (): boolean => {
    const all = dataOf(stream)
    for (; reached < 0 && n < all.length; n++) {
      folded = jsonMergePatch.apply(folded, structuredClone(all[n]!.data)) as Json
      if (isDeepStrictEqual(folded, value)) reached = n
    }
    return reached >= 0
  }
  const what = `a fold equal to ${JSON.stringify(value).slice(0, 120)}`
  await waitFor(stream, check, what, ms)
  return dataOf(stream).slice(0, reached + 1)
}
