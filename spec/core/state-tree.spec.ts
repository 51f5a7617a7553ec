import { describe, expect, it, vi } from 'vitest'
import { KeelsonError } from '../../src/core/errors.js'
import { parseEventId } from '../../src/core/event-id.js'
import type { JsonObject } from '../../src/core/json.js'
import { parseUrlPath } from '../../src/core/path.js'
import { StateTree } from '../../src/core/state-tree.js'
import { WritePort } from '../../src/core/write-port.js'

const at = (tree: StateTree, url: string) => parseUrlPath(url, tree.selfKey)

describe('StateTree', () => {
  it('starts as a Signal K full tree with a UUID self key', () => {
    const tree = new StateTree({ uuid: '6b0e776f-811a-4b99-9f4a-25a3d2fdbb7b' })
    expect(tree.get(at(tree, '/'))).toEqual({
      version: '1.7.0',
      self: 'vessels.urn:mrn:signalk:uuid:6b0e776f-811a-4b99-9f4a-25a3d2fdbb7b',
      vessels: {
        'urn:mrn:signalk:uuid:6b0e776f-811a-4b99-9f4a-25a3d2fdbb7b': {
          uuid: 'urn:mrn:signalk:uuid:6b0e776f-811a-4b99-9f4a-25a3d2fdbb7b',
        },
      },
      sources: {},
    })
  })

  it('restores a kept tree at its revision and epoch: ids and versions go on from there', () => {
    const kept = new StateTree({ mmsi: '230123456' })
    WritePort.of(kept).patch(at(kept, '/vessels/self/name'), 'Kept')
    const root = structuredClone(kept.get(at(kept, '/'))) as JsonObject
    const tree = new StateTree({ restore: { root, rev: 41 }, epoch: 'abc' })
    expect(tree.selfKey).toBe('urn:mrn:imo:mmsi:230123456')
    expect(tree.rev).toBe(41)
    expect(tree.eventId).toBe('abc.41')
    expect(tree.get(at(tree, '/vessels/self/name'))).toBe('Kept')
    expect(WritePort.of(tree).patch(at(tree, '/vessels/self/name'), 'Next')?.rev).toBe(42)
    expect(() => new StateTree({ restore: { root: {}, rev: 0 } })).toThrow(/self vessel/)
  })

  it('uses an MMSI self key when an MMSI is configured', () => {
    const tree = new StateTree({ mmsi: '230123456' })
    expect(tree.selfKey).toBe('urn:mrn:imo:mmsi:230123456')
    expect(tree.get(at(tree, '/vessels/self/mmsi'))).toBe('230123456')
  })

  it('gives each change the next revision and none to a write that changes nothing', () => {
    const tree = new StateTree()
    const listener = vi.fn()
    tree.onChange(listener)
    expect(
      WritePort.of(tree).patch(at(tree, '/vessels/self/navigation'), {
        speedOverGround: { value: 1 },
      })?.rev,
    ).toBe(1)
    expect(
      WritePort.of(tree).patch(at(tree, '/vessels/self/navigation'), {
        speedOverGround: { value: 1 },
      }),
    ).toBeUndefined()
    expect(
      WritePort.of(tree).put(at(tree, '/vessels/self/navigation/speedOverGround'), { value: 1 }),
    ).toBeUndefined()
    expect(
      WritePort.of(tree).put(at(tree, '/vessels/self/navigation/speedOverGround'), { value: 2 })
        ?.rev,
    ).toBe(2)
    expect(tree.rev).toBe(2)
    expect(listener).toHaveBeenCalledTimes(2)
  })

  it('replaces a subtree on put, removing members the new value lacks', () => {
    const tree = new StateTree()
    WritePort.of(tree).patch(at(tree, '/a'), { x: 1, y: { z: 2 } })
    WritePort.of(tree).put(at(tree, '/a'), { y: { w: 3 } })
    expect(tree.get(at(tree, '/a'))).toEqual({ y: { w: 3 } })
  })

  it('creates missing parents and replaces a primitive in the way', () => {
    const tree = new StateTree()
    WritePort.of(tree).put(at(tree, '/a'), 5)
    WritePort.of(tree).patch(at(tree, '/a/b/c'), { d: 1 })
    expect(tree.get(at(tree, '/a'))).toEqual({ b: { c: { d: 1 } } })
  })

  it('refuses to delete a missing path and the root', () => {
    const tree = new StateTree()
    expect(() => WritePort.of(tree).delete(at(tree, '/nope'))).toThrow(KeelsonError)
    expect(() => WritePort.of(tree).delete(at(tree, '/'))).toThrow(KeelsonError)
  })

  it('refuses writes at a wildcard path and non-object roots', () => {
    const tree = new StateTree()
    expect(() => WritePort.of(tree).patch(at(tree, '/vessels/*'), { a: 1 })).toThrow(
      /name the keys/,
    )
    expect(() => WritePort.of(tree).put(at(tree, '/'), 3)).toThrow(KeelsonError)
  })

  it('refuses a patch with a forbidden key whole, applying nothing', () => {
    const tree = new StateTree()
    const before = JSON.stringify(tree.get(at(tree, '/')))
    const patch = JSON.parse('{"a":1,"b":{"__proto__":{"polluted":true}}}') as JsonObject
    expect(() => tree.apply(patch)).toThrow(KeelsonError)
    expect(JSON.stringify(tree.get(at(tree, '/')))).toBe(before)
    expect(tree.rev).toBe(0)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('refuses every forbidden key at any depth, inside arrays too, applying nothing', () => {
    const tree = new StateTree()
    const deep = (n: number, inner: string): string =>
      `${'{"x":'.repeat(n)}${inner}${'}'.repeat(n)}`
    for (const text of [
      '{"constructor":{"prototype":{"polluted":true}}}',
      '{"a":[1,{"b":[{"prototype":1}]}]}',
      deep(200, '{"__proto__":{"polluted":true}}'),
    ]) {
      expect(() => tree.apply(JSON.parse(text) as JsonObject)).toThrow(/is not allowed/)
    }
    expect(tree.rev).toBe(0)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('changes a subtree version when, and only when, that subtree changes', () => {
    const tree = new StateTree()
    WritePort.of(tree).patch(at(tree, '/a'), { b: { c: 1 }, d: { e: 1 } })
    const b = () => tree.versionOf(tree.get(at(tree, '/a/b')) as JsonObject)
    const a = () => tree.versionOf(tree.get(at(tree, '/a')) as JsonObject)
    const [b1, a1] = [b(), a()]
    WritePort.of(tree).patch(at(tree, '/a/d'), { e: 2 })
    expect(b()).toBe(b1)
    expect(a()).not.toBe(a1)
    WritePort.of(tree).patch(at(tree, '/a/b'), { c: 2 })
    expect(b()).not.toBe(b1)
  })

  it('issues event ids that carry the epoch', () => {
    const tree = new StateTree({ epoch: 'abc' })
    WritePort.of(tree).patch(at(tree, '/a'), 1)
    expect(tree.eventId).toBe('abc.1')
    expect(parseEventId(tree.eventId, 'abc')).toBe(1)
    expect(parseEventId(tree.eventId, 'other')).toBeUndefined()
    expect(parseEventId('abc.x', 'abc')).toBeUndefined()
  })

  it('keeps a bounded history for resume', () => {
    const tree = new StateTree({ historySize: 3 })
    for (let i = 1; i <= 5; i++) WritePort.of(tree).patch(at(tree, '/n'), i)
    expect(tree.history.since(2, 5)?.map((c) => c.rev)).toEqual([3, 4, 5])
    expect(tree.history.since(1, 5)).toBeUndefined()
    expect(tree.history.since(5, 5)).toEqual([])
    expect(tree.history.since(6, 5)).toBeUndefined()
  })
})
