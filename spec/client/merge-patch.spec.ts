import fc from 'fast-check'
import jsonMergePatch from 'json-merge-patch'
import { describe, expect, it } from 'vitest'
import { applyMergePatch } from '../../src/client/merge-patch.js'
import { documentArb, patchArb } from '../support/arbitraries.js'

/** RFC 7396 Appendix A, every example: [target, patch, result]. */
const APPENDIX_A: [unknown, unknown, unknown][] = [
  [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
  [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
  [{ a: 'b' }, { a: null }, {}],
  [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
  [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
  [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
  [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
  [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
  [
    ['a', 'b'],
    ['c', 'd'],
    ['c', 'd'],
  ],
  [{ a: 'b' }, ['c'], ['c']],
  [{ a: 'foo' }, null, null],
  [{ a: 'foo' }, 'bar', 'bar'],
  [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  [[1, 2], { a: 'b', c: null }, { a: 'b' }],
  [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
]

describe('applyMergePatch (RFC 7396)', () => {
  it.each(APPENDIX_A)('gives every result of Appendix A (%j + %j)', (target, patch, result) => {
    const before = structuredClone(target)
    expect(applyMergePatch(target, patch)).toEqual(result)
    expect(target).toEqual(before)
  })

  it('agrees with json-merge-patch on random null-free documents and patches', () => {
    fc.assert(
      fc.property(documentArb, patchArb, (doc, patch) => {
        expect(applyMergePatch(doc, patch)).toEqual(
          jsonMergePatch.apply(structuredClone(doc), patch),
        )
      }),
    )
  })

  it('shares every subtree a patch does not touch and returns the target for an empty patch', () => {
    const target = { a: { x: 1 }, b: { y: 2 } }
    const next = applyMergePatch<typeof target>(target, { b: { y: 3 } })
    expect(next.a).toBe(target.a)
    expect(next.b).not.toBe(target.b)
    expect(applyMergePatch(target, {})).toBe(target)
    expect(applyMergePatch(target, { c: null })).toBe(target)
  })

  it('keeps a "__proto__" member as data, never as the prototype', () => {
    const patch = JSON.parse('{"__proto__": {"polluted": true}}') as unknown
    const next = applyMergePatch<Record<string, unknown>>({}, patch)
    expect(Object.getPrototypeOf(next)).toBe(Object.prototype)
    expect(Object.keys(next)).toEqual(['__proto__'])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})
