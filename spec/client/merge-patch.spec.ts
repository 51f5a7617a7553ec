import fc from 'fast-check'
import jsonMergePatch from 'json-merge-patch'
import { describe, expect, it } from 'vitest'
import { applyMergePatch } from '../../src/client/merge-patch.js'
import { documentArb, patchArb } from '../support/arbitraries.js'
import { APPENDIX_A } from '../support/rfc7396.js'

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
