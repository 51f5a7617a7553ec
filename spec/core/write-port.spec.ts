import { describe, expect, it, vi } from 'vitest'
import { Errors, KeelsonError } from '../../src/core/errors.js'
import { parseUrlPath } from '../../src/core/path.js'
import { StateTree } from '../../src/core/state-tree.js'
import { type Operation, WritePort } from '../../src/core/write-port.js'

function port(options = {}) {
  const tree = new StateTree()
  return { tree, writes: new WritePort(tree, options) }
}

function refusal(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return err instanceof KeelsonError ? err.code : String(err)
  }
  return undefined
}

const deep = (levels: number): unknown => {
  let value: unknown = 1
  for (let i = 0; i < levels; i++) value = { k: value }
  return value
}

describe('WritePort', () => {
  it('is the one port of its tree', () => {
    const { tree, writes } = port()
    expect(WritePort.of(tree)).toBe(writes)
    expect(() => new WritePort(tree)).toThrow(/already has its write port/)
  })

  it('applies merge, put and delete operations as plain data', () => {
    const { tree, writes } = port()
    writes.write({ kind: 'merge', path: ['a'], value: { x: 1, y: 2 } })
    writes.write({ kind: 'put', path: ['a'], value: { x: 3 } })
    expect(tree.get(parseUrlPath('/a'))).toEqual({ x: 3 })
    writes.write({ kind: 'delete', path: ['a'] })
    expect(tree.get(parseUrlPath('/a'))).toBeUndefined()
    expect(refusal(() => writes.write({ kind: 'delete', path: ['a'] }))).toBe(
      'KEELSON_ERR_PATH_NOT_FOUND',
    )
  })

  it('counts depth from the root of the tree: path segments plus the value nesting, 64 accepted, 65 refused', () => {
    const { tree, writes } = port()
    const path = Array.from({ length: 60 }, () => 'p')
    expect(
      refusal(() => writes.write({ kind: 'put', path, value: deep(4) as never })),
    ).toBeUndefined()
    expect(refusal(() => writes.write({ kind: 'put', path, value: deep(5) as never }))).toBe(
      'KEELSON_ERR_TOO_DEEP',
    )
    const rev = tree.rev
    expect(
      refusal(() => writes.write({ kind: 'merge', path: Array(65).fill('q'), value: 1 })),
    ).toBe('KEELSON_ERR_TOO_DEEP')
    expect(tree.rev).toBe(rev)
  })

  it('refuses non-finite numbers, forbidden keys, wildcards and a null PUT, applying nothing', () => {
    const { tree, writes } = port()
    const cases: [Operation, string][] = [
      [
        { kind: 'merge', path: ['a'], value: { v: Number.POSITIVE_INFINITY } },
        'KEELSON_ERR_NOT_FINITE',
      ],
      [{ kind: 'put', path: ['a'], value: [1, Number.NaN] }, 'KEELSON_ERR_NOT_FINITE'],
      [
        { kind: 'merge', path: ['a'], value: JSON.parse('{"__proto__":{"x":1}}') },
        'KEELSON_ERR_FORBIDDEN_KEY',
      ],
      [{ kind: 'merge', path: ['constructor'], value: 1 }, 'KEELSON_ERR_FORBIDDEN_KEY'],
      [{ kind: 'merge', path: ['*'], value: 1 }, 'KEELSON_ERR_WILDCARD_WRITE'],
      [{ kind: 'put', path: ['a'], value: null }, 'KEELSON_ERR_NULL_NOT_ALLOWED'],
      [{ kind: 'put', path: ['a'], value: { b: null } }, 'KEELSON_ERR_NULL_NOT_ALLOWED'],
      [{ kind: 'put', path: [], value: 1 }, 'KEELSON_ERR_ROOT_NOT_OBJECT'],
    ]
    for (const [operation, code] of cases) expect(refusal(() => writes.write(operation))).toBe(code)
    expect(tree.rev).toBe(0)
    // Arrays are values: a null inside one is an element, for PUT as for PATCH.
    writes.write({ kind: 'put', path: ['list'], value: [{ a: null }] })
    writes.write({ kind: 'merge', path: ['list2'], value: [{ a: null }] })
    expect(tree.get(parseUrlPath('/list'))).toEqual([{ a: null }])
    expect(tree.get(parseUrlPath('/list2'))).toEqual([{ a: null }])
  })

  it('derives the same effect from a stamped delta on any replica', () => {
    const a = port()
    const b = port()
    const operation: Operation = {
      kind: 'delta',
      delta: {
        context: 'vessels.urn:mrn:imo:mmsi:230000001',
        updates: [
          {
            $source: 'gps.GP',
            timestamp: '2026-01-01T00:00:00.000Z',
            values: [{ path: 'navigation.speedOverGround', value: 3 }],
          },
        ],
      },
    }
    a.writes.write(operation)
    b.writes.write(operation)
    const at = parseUrlPath('/vessels/urn:mrn:imo:mmsi:230000001')
    expect(a.tree.get(at)).toEqual(b.tree.get(at))
  })

  it('tells its listeners each applied operation in order, and a throwing listener changes nothing', async () => {
    const { tree, writes } = port()
    const seen: number[] = []
    writes.onWrite(() => {
      throw new Error('boom')
    })
    writes.onWrite((_op, change) => void seen.push(change.rev))
    writes.patch(parseUrlPath('/a'), 1)
    writes.patch(parseUrlPath('/a'), 1)
    await writes.submit({ kind: 'merge', path: ['b'], value: 2 })
    await expect(writes.submit({ kind: 'merge', path: ['c'], value: Number.NaN })).rejects.toThrow()
    expect(seen).toEqual([1, 2])
    expect(tree.rev).toBe(2)
  })

  it('contains a change listener that throws: the change stands and the others run', () => {
    const onListenerError = vi.fn()
    const tree = new StateTree({ onListenerError })
    const later = vi.fn()
    tree.onChange(() => {
      throw new Error('boom')
    })
    tree.onChange(later)
    WritePort.of(tree).patch(parseUrlPath('/a'), 1)
    expect(tree.rev).toBe(1)
    expect(later).toHaveBeenCalledTimes(1)
    expect(onListenerError).toHaveBeenCalledTimes(1)
  })

  it('answers a submitted write only once its durability says so, and refuses writes while it refuses', async () => {
    const { tree, writes } = port()
    const pending: (() => void)[] = []
    let broken: KeelsonError | undefined
    writes.useDurability({
      whenDurable: () => new Promise<void>((resolve) => pending.push(resolve)),
      refusal: () => broken,
    })
    let answered = false
    const submitted = writes.submit({ kind: 'merge', path: ['a'], value: 1 }).then((change) => {
      answered = true
      return change
    })
    await new Promise((resolve) => setImmediate(resolve))
    // Applied at once (readers see it), answered only when durable.
    expect(tree.rev).toBe(1)
    expect(answered).toBe(false)
    pending.shift()!()
    expect((await submitted)?.rev).toBe(1)
    // A write that changes nothing waits for nothing.
    await expect(writes.submit({ kind: 'merge', path: ['a'], value: 1 })).resolves.toBeUndefined()
    broken = new KeelsonError(Errors.UNAVAILABLE)
    await expect(writes.submit({ kind: 'merge', path: ['b'], value: 1 })).rejects.toMatchObject({
      status: 503,
    })
    expect(refusal(() => writes.write({ kind: 'merge', path: ['b'], value: 1 }))).toBe(
      'KEELSON_ERR_UNAVAILABLE',
    )
    expect(tree.rev).toBe(1)
  })

  it('with a sequencer, checks a write here, hands the operation over and applies it only when it comes back', async () => {
    const { tree, writes } = port()
    const log: Operation[] = []
    const waiting: ((change: ReturnType<WritePort['commit']>) => void)[] = []
    writes.useSequencer({
      append: (operation) => {
        log.push(operation)
        return new Promise((resolve) => waiting.push(resolve))
      },
      refusal: () => undefined,
    })
    // Refused here, never appended.
    await expect(writes.submit({ kind: 'delete', path: ['nothing'] })).rejects.toMatchObject({
      code: 'KEELSON_ERR_PATH_NOT_FOUND',
    })
    expect(refusal(() => writes.write({ kind: 'merge', path: ['a'], value: Number.NaN }))).toBe(
      'KEELSON_ERR_NOT_FINITE',
    )
    const authorize = vi.fn()
    const submitted = writes.submit({ kind: 'merge', path: ['a'], value: 1 }, authorize)
    expect(writes.write({ kind: 'merge', path: ['b'], value: 2 })).toBeUndefined()
    expect(authorize).toHaveBeenCalledWith({ a: 1 }, log[0])
    expect(log.map((op) => op.kind)).toEqual(['merge', 'merge'])
    expect(tree.rev).toBe(0)
    // The log's reader applies each entry in order through commit().
    waiting.shift()!(writes.commit(log[0]!))
    expect((await submitted)?.rev).toBe(1)
    writes.commit(log[1]!)
    expect(tree.get(parseUrlPath('/b'))).toBe(2)
    expect(tree.rev).toBe(2)
  })
})
