/**
 * fast-check generators of JSON documents and merge patches over a small key
 * set, so writes collide, replace, nest and delete often.
 */
import fc from 'fast-check'
import type { Json, JsonObject } from '../../src/core/json.js'

/** The keys random documents and patches use. */
export const KEYS = ['a', 'b', 'c', 'd'] as const

const leaf: fc.Arbitrary<Json> = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.boolean(),
  fc.constantFrom('x', 'y', ''),
  fc.array(fc.oneof(fc.integer({ min: 0, max: 2 }), fc.constant(null)), { maxLength: 2 }),
)

/** Null-free documents: objects of objects and leaves. */
export const documentArb: fc.Arbitrary<JsonObject> = fc.letrec<{ obj: JsonObject; value: Json }>(
  (tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('obj')),
    obj: fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 3 }),
  }),
).obj

/** Merge patches: like documents, with nulls (deletes) among the members. */
export const patchArb: fc.Arbitrary<JsonObject> = fc.letrec<{ obj: JsonObject; value: Json }>(
  (tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.constant(null),
      tie('obj'),
    ),
    obj: fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 3 }),
  }),
).obj

/** Any patch value, including non-object patches that replace the whole document. */
export const anyPatchArb: fc.Arbitrary<Json> = fc.oneof(
  { weight: 5, arbitrary: patchArb },
  { weight: 1, arbitrary: leaf },
  {
    weight: 1,
    arbitrary: fc.constant(null),
  },
)

/** Paths over the key set, with `*` segments. */
export const pathKeysArb: fc.Arbitrary<string[]> = fc.array(fc.constantFrom(...KEYS, '*'), {
  maxLength: 3,
})
