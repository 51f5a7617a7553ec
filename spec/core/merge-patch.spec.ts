import fc from 'fast-check'
import jsonMergePatch from 'json-merge-patch'
import { describe, expect, it } from 'vitest'
import type { Json } from '../../src/core/json.js'
import { applyPatch, composeEffects, type Effect } from '../../src/core/merge-patch.js'
import { anyPatchArb, documentArb, patchArb } from '../support/arbitraries.js'
import { APPENDIX_A } from '../support/rfc7396.js'

const clone = <T>(value: T): T => structuredClone(value)
/** RFC 7396 apply on a copy, with `null` as "no document". */
const fold = (doc: Json, patch: Json): Json =>
  applyPatch(doc === null ? undefined : clone(doc), clone(patch)).doc ?? null

describe('applyPatch', () => {
  it.each(APPENDIX_A)('applies RFC 7396 Appendix A: %j + %j = %j', (target, patch, result) => {
    expect(fold(target, patch)).toEqual(result)
  })

  it('equals json-merge-patch on null-free documents', () => {
    fc.assert(
      fc.property(documentArb, anyPatchArb, (doc, patch) => {
        expect(fold(doc, patch)).toEqual(jsonMergePatch.apply(clone(doc), clone(patch)))
      }),
      { numRuns: 2000 },
    )
  })

  it('returns an effect whose patch turns the old document into the new and whose inverse turns it back', () => {
    fc.assert(
      fc.property(documentArb, anyPatchArb, (doc, patch) => {
        const { doc: next, effect } = applyPatch(clone(doc), clone(patch))
        const after = next ?? null
        if (!effect) {
          expect(after).toEqual(doc)
          return
        }
        expect(after).not.toEqual(doc)
        expect(fold(doc, effect.patch)).toEqual(after)
        expect(fold(after, effect.inverse)).toEqual(doc)
      }),
      { numRuns: 2000 },
    )
  })

  it('reports no effect for a patch that changes nothing', () => {
    const doc = { a: { b: 1 }, c: [1, null] }
    expect(applyPatch(doc, { a: { b: 1, x: null }, c: [1, null] }).effect).toBeUndefined()
  })

  it('never shares objects between the document and the patch', () => {
    const patch = { a: { b: { c: 1 } } }
    const { doc } = applyPatch({}, patch)
    ;(doc as { a: { b: { c: number } } }).a.b.c = 2
    expect(patch.a.b.c).toBe(1)
  })
})

describe('composeEffects', () => {
  it('folds any sequence of effects into one exact effect, including non-object then object at a key', () => {
    fc.assert(
      fc.property(
        documentArb,
        fc.array(anyPatchArb, { minLength: 1, maxLength: 5 }),
        (doc, patches) => {
          let current: Json = doc
          let composed: Effect | undefined
          for (const patch of patches) {
            const { doc: next, effect } = applyPatch(
              current === null ? undefined : clone(current),
              clone(patch),
            )
            current = next ?? null
            if (effect) composed = composed ? composeEffects(composed, effect) : effect
          }
          if (!composed) return
          expect(fold(doc, composed.patch)).toEqual(current)
          expect(fold(current, composed.inverse)).toEqual(doc)
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('clears what the reader had when a key goes to a primitive and then back to an object', () => {
    const doc = { a: { x: 1, y: 2 } }
    const first = applyPatch(clone(doc), { a: 5 })
    const second = applyPatch(first.doc, { a: { z: 3 } })
    const composed = composeEffects(first.effect!, second.effect!)
    expect(composed.patch).toEqual({ a: { x: null, y: null, z: 3 } })
    expect(fold(doc, composed.patch)).toEqual({ a: { z: 3 } })
  })

  it('does not mutate the effects it composes', () => {
    const a = applyPatch({ a: { b: 1 } }, { a: { c: 2 } }).effect!
    const b = applyPatch({ a: { b: 1, c: 2 } }, { a: { b: null } }).effect!
    const before = clone([a, b])
    composeEffects(a, b)
    expect([a, b]).toEqual(before)
  })

  it('composes patches of null-free objects without touching the oracle shape', () => {
    fc.assert(
      fc.property(documentArb, patchArb, patchArb, (doc, p1, p2) => {
        const expected = jsonMergePatch.apply(
          jsonMergePatch.apply(clone(doc), clone(p1)),
          clone(p2),
        )
        expect(fold(fold(doc, p1), p2)).toEqual(expected)
      }),
      { numRuns: 500 },
    )
  })
})
