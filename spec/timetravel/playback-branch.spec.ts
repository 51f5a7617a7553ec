import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { applyMergePatch } from '../../src/client/merge-patch.js'
import type { JsonObject } from '../../src/core/json.js'
import { applyPatch } from '../../src/core/merge-patch.js'
import { pathOf, readPath } from '../../src/core/path.js'
import { scopeEffect } from '../../src/core/scope.js'
import { patchOfBranch, prunedRoot } from '../../src/stream/playback.js'
import { documentArb, patchArb, pathKeysArb } from '../support/arbitraries.js'

/**
 * A playback keeps only the branch of the past tree it reads and applies
 * only the part of each recorded patch that touches it. The oracle is the
 * whole tree: for any document, patches and path (wildcards included), the
 * fold of the scoped patches a playback sends equals the read of that path
 * on the whole tree after each patch (SPEC §4 invariant, §9 playback).
 */
describe('a playback’s branch of the past tree', () => {
  it('folds to the whole tree’s read of the path after every recorded patch', () => {
    fc.assert(
      fc.property(
        documentArb,
        fc.array(patchArb, { maxLength: 8 }),
        pathKeysArb,
        (doc, patches, keys) => {
          const path = pathOf(keys)
          const base = path.starAt < 0 ? path.segments : path.segments.slice(0, path.starAt)
          const whole = structuredClone(doc)
          const branch = prunedRoot(structuredClone(doc), base)
          let fold: unknown = readPath(branch, path) ?? null
          expect(fold).toEqual(readPath(whole, path) ?? null)
          for (const patch of patches) {
            applyPatch(whole, structuredClone(patch))
            const part = patchOfBranch(structuredClone(patch) as JsonObject, base)
            const effect = part === undefined ? undefined : applyPatch(branch, part).effect
            const scoped = effect === undefined ? undefined : scopeEffect(effect, path)
            if (scoped !== undefined) fold = applyMergePatch(fold, scoped.patch)
            expect(fold).toEqual(readPath(whole, path) ?? null)
          }
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('lets go of everything outside the branch', () => {
    const root = { a: { b: { c: 1 }, x: 2 }, y: 3 }
    expect(prunedRoot(root, ['a', 'b'])).toEqual({ a: { b: { c: 1 } } })
    expect(prunedRoot(root, ['a', 'z'])).toEqual({ a: {} })
    expect(prunedRoot(root, ['q'])).toEqual({})
    expect(prunedRoot(root, [])).toBe(root)
    // A patch replacing an ancestor with a value reaches the branch; one beside it does not.
    expect(patchOfBranch({ a: 5, y: 1 }, ['a', 'b'])).toEqual({ a: 5 })
    expect(patchOfBranch({ a: { x: 1 } }, ['a', 'b'])).toBeUndefined()
    expect(patchOfBranch({ a: { b: null, x: 1 } }, ['a', 'b'])).toEqual({ a: { b: null } })
  })
})
