/**
 * Helpers of the fleet telemetry specs: AIS-like vessels written as Signal K
 * deltas (the server's own ingest), the guide's client (an `EventSource` on
 * `/sse/telemetry/connect`, its messages kept in order) and the fold of a
 * unit's `telemetry` patches.
 */
import { EventSource } from 'eventsource'
import { vi } from 'vitest'
import type { Json } from '../../src/core/json.js'
import { applyPatch } from '../../src/core/merge-patch.js'
import type { StateTree } from '../../src/core/state-tree.js'
import { applyDelta } from '../../src/signalk/delta.js'

/** Two AIS targets of the tests. */
export const UNIT_A = '244660001'
export const UNIT_B = '244660002'

let tick = 0

/** Writes Signal K `values` (dot paths) to the vessel keyed by `mmsi`, as the ingest would. */
export function seedVessel(tree: StateTree, mmsi: string, values: Record<string, unknown>): void {
  const timestamp = new Date(Date.UTC(2026, 0, 1, 0, 0, 0, tick++ % 1000)).toISOString()
  applyDelta(tree, {
    context: `vessels.urn:mrn:imo:mmsi:${mmsi}`,
    updates: [
      {
        $source: 'ais.test',
        timestamp,
        values: Object.entries(values).map(([path, value]) => ({ path, value: value as never })),
      },
    ],
  })
}

/** A position, speed, course and heading in Signal K's units (radians, m/s). */
export function fix(latitude: number, longitude: number): Record<string, unknown> {
  return {
    'navigation.position': { latitude, longitude },
    'navigation.speedOverGround': 3.2,
    'navigation.courseOverGroundTrue': 1.5,
    'navigation.headingTrue': 1.4,
  }
}

/** A message of the stream, parsed. */
export type Message = { type: string; [key: string]: unknown }

/** The guide's client: an EventSource, with the login token in a header when given. */
export class GuideClient {
  readonly messages: Message[] = []
  streamId: string | undefined
  errors = 0
  readonly source: EventSource

  constructor(url: string, token?: string) {
    const init =
      token === undefined
        ? undefined
        : {
            fetch: (input: string | URL | Request, options?: RequestInit) =>
              fetch(input, {
                ...options,
                headers: { ...(options?.headers as object), Authorization: `Bearer ${token}` },
              }),
          }
    this.source = new EventSource(`${url}/sse/telemetry/connect`, init)
    this.source.onmessage = (event) => {
      const data = JSON.parse(event.data) as Message
      if (data.type === 'stream_id') this.streamId = data.stream_id as string
      this.messages.push(data)
    }
    this.source.onerror = () => {
      this.errors++
    }
  }

  /** Messages of `type` for `unitId` (any unit when not given). */
  of(type: string, unitId?: string): Message[] {
    return this.messages.filter(
      (m) => m.type === type && (unitId === undefined || m.unit_id === unitId),
    )
  }

  async until(check: () => boolean, timeout = 3000): Promise<void> {
    await vi.waitUntil(check, { timeout, interval: 5 })
  }

  close(): void {
    this.source.close()
  }
}

/** Every `telemetry` patch of `unitId` folded onto `null` (RFC 7396). */
export function foldUnit(messages: readonly Message[], unitId: string): Json {
  let doc: Json = null
  for (const m of messages) {
    if (m.type !== 'telemetry' || m.unit_id !== unitId) continue
    doc = applyPatch(doc, structuredClone(m.patch) as Json).doc ?? null
  }
  return doc
}
