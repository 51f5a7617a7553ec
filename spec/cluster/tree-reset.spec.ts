/**
 * StateTree.reset and Streams.endAll, what a cluster node does when its
 * replica is replaced (a new epoch, or a reload past a trimmed gap): the
 * tree, revision and epoch are the kept ones, no resume point from before is
 * honoured, and every stream ends so that its client resumes with a reset.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { parseEventId } from '../../src/core/event-id.js'
import type { JsonObject } from '../../src/core/json.js'
import { parseUrlPath } from '../../src/core/path.js'
import { StateTree } from '../../src/core/state-tree.js'
import { type Running, startServer } from '../support/server.js'
import { SseClient } from '../support/sse-client.js'
import { reopen } from './support.js'

const ROOT = parseUrlPath('/')
let running: Running | undefined

afterEach(async () => {
  await running?.close()
  running = undefined
})

describe('StateTree.reset', () => {
  it('takes the kept tree, revision and epoch; forgets the history; emits no change', () => {
    const tree = new StateTree({ uuid: '00000000-0000-4000-8000-000000000001', historySize: 10 })
    for (let i = 0; i < 5; i++) tree.apply({ a: i })
    const seen: number[] = []
    tree.onChange((c) => seen.push(c.rev))
    const kept = {
      version: '1.7.0',
      self: 'vessels.urn:mrn:imo:mmsi:230099999',
      vessels: { 'urn:mrn:imo:mmsi:230099999': { mmsi: '230099999' } },
      sources: {},
      b: { c: 1 },
    } as JsonObject
    tree.reset({ root: structuredClone(kept), rev: 42, epoch: 'feedbeef0001' })
    expect(tree.get(ROOT)).toEqual(kept)
    expect(tree.rev).toBe(42)
    expect(tree.epoch).toBe('feedbeef0001')
    expect(tree.selfKey).toBe('urn:mrn:imo:mmsi:230099999')
    expect(tree.eventId).toBe('feedbeef0001.42')
    expect(seen).toEqual([])
    // No resume point before the reset is covered, not even one of the same number.
    expect(tree.history.length).toBe(0)
    expect(tree.history.catchUp(ROOT, 41, 42)).toBeUndefined()
    expect(tree.history.catchUp(ROOT, 42, 42)).toBeNull()
    // Versions of the kept tree are the kept revision; the next change is the next revision.
    expect(tree.versionOf(tree.get(ROOT) as JsonObject)).toBe(42)
    expect(tree.apply({ b: { c: 2 } })?.rev).toBe(43)
    expect(tree.history.catchUp(ROOT, 42, 43)?.patch).toEqual({ b: { c: 2 } })
  })

  it('refuses a kept tree that names no self vessel or holds a forbidden key, and keeps its own', () => {
    const tree = new StateTree()
    const before = structuredClone(tree.get(ROOT))
    expect(() => tree.reset({ root: { a: 1 } as JsonObject, rev: 1, epoch: 'e' })).toThrow(/self/)
    const hostile = JSON.parse('{"self":"vessels.x","__proto__":{"polluted":1}}') as JsonObject
    expect(() => tree.reset({ root: hostile, rev: 1, epoch: 'e' })).toThrow()
    expect(tree.get(ROOT)).toEqual(before)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

describe('Streams.endAll', () => {
  it('ends every open stream and keeps serving; a resume from the old epoch gets a reset', async () => {
    running = await startServer()
    const { keelson, url } = running
    const sse = await SseClient.open(`${url}/signalk/v1/api/vessels/self`)
    await sse.until(() => sse.messages.length >= 1)
    const old = sse.lastEventId!
    const root = structuredClone(keelson.tree.get(ROOT)) as JsonObject
    keelson.tree.reset({ root, rev: 7, epoch: 'abcdef012345' })
    expect(keelson.streams.endAll()).toBe(1)
    await sse.until(() => sse.closed).catch(() => undefined)
    expect(sse.closed).toBe(true)
    expect(parseEventId(old, keelson.tree.epoch)).toBeUndefined()
    const again = await reopen(`${url}/signalk/v1/api/vessels/self`, { 'Last-Event-ID': old })
    await again.until(() => again.messages.length >= 2)
    expect(again.messages[0]!.data).toBe('null')
    expect(again.messages[1]!.id).toBe('abcdef012345.7')
    again.close()
  })
})
