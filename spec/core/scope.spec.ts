import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Json } from '../../src/core/json.js'
import { applyPatch, composeEffects, type Effect } from '../../src/core/merge-patch.js'
import { pathOf, readPath } from '../../src/core/path.js'
import { scopeEffect } from '../../src/core/scope.js'
import { anyPatchArb, documentArb, patchArb, pathKeysArb } from '../support/arbitraries.js'

const clone = <T>(value: T): T => structuredClone(value)
const fold = (doc: Json, patch: Json): Json =>
  applyPatch(doc === null ? undefined : clone(doc), clone(patch)).doc ?? null
const view = (doc: Json, keys: string[]): Json => readPath(doc, pathOf(keys)) ?? null

describe('scopeEffect', () => {
  it('gives the patch that turns what a reader of the path had into what it has now', () => {
    fc.assert(
      fc.property(documentArb, patchArb, pathKeysArb, (doc, patch, keys) => {
        const before = view(doc, keys)
        const { doc: next, effect } = applyPatch(clone(doc), clone(patch))
        const after = view(next ?? null, keys)
        const scoped = effect && scopeEffect(effect, pathOf(keys))
        if (!scoped) {
          expect(after).toEqual(before)
          return
        }
        expect(fold(before, scoped.patch)).toEqual(after)
        expect(fold(after, scoped.inverse)).toEqual(before)
      }),
      { numRuns: 5000 },
    )
  })

  it('stays exact when scoped effects of many writes are composed (coalescing)', () => {
    fc.assert(
      fc.property(
        documentArb,
        fc.array(patchArb, { minLength: 1, maxLength: 6 }),
        pathKeysArb,
        (doc, patches, keys) => {
          const path = pathOf(keys)
          let current: Json = doc
          let composed: Effect | undefined
          for (const patch of patches) {
            const { doc: next, effect } = applyPatch(clone(current), clone(patch))
            current = next ?? null
            const scoped = effect && scopeEffect(effect, path)
            if (scoped) composed = composed ? composeEffects(composed, scoped) : scoped
          }
          const before = view(doc, keys)
          const after = view(current, keys)
          if (!composed) expect(after).toEqual(before)
          else expect(fold(before, composed.patch)).toEqual(after)
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('reports a change outside the path as untouched', () => {
    const { effect } = applyPatch({ a: { b: 1 }, c: 1 }, { c: 2 })
    expect(scopeEffect(effect!, pathOf(['a']))).toBeUndefined()
  })

  it('sends null when a parent of the path is deleted', () => {
    const { effect } = applyPatch({ a: { b: { c: 1 } } }, { a: null })
    expect(scopeEffect(effect!, pathOf(['a', 'b']))?.patch).toBeNull()
  })

  it('drops a wildcard branch that stops matching', () => {
    const doc = { v: { x: { nav: { sog: 1 } }, y: { nav: { sog: 2 } } } }
    const { effect } = applyPatch(clone(doc), { v: { x: { nav: { sog: null } } } })
    expect(scopeEffect(effect!, pathOf(['v', '*', 'nav', 'sog']))?.patch).toEqual({ x: null })
  })

  it('passes non-object root patches through unchanged for the root path', () => {
    fc.assert(
      fc.property(documentArb, anyPatchArb, (doc, patch) => {
        const { effect } = applyPatch(clone(doc), clone(patch))
        if (effect) expect(scopeEffect(effect, pathOf([]))).toBe(effect)
      }),
    )
  })
})
