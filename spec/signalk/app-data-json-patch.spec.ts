/**
 * JSON Patch (RFC 6902) conformance: the examples of its Appendix A, plus
 * the all-or-nothing, prototype and bound cases application data relies on.
 */
import { describe, expect, it } from 'vitest'
import type { Json } from '../../src/core/json.js'
import { applyJsonPatch } from '../../src/signalk/json-patch.js'

/** RFC 6902 Appendix A: [section, document, patch, result or the error code]. */
const APPENDIX_A: [string, Json, Json, Json | { error: string }][] = [
  ['A.1', { foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }], { baz: 'qux', foo: 'bar' }],
  [
    'A.2',
    { foo: ['bar', 'baz'] },
    [{ op: 'add', path: '/foo/1', value: 'qux' }],
    { foo: ['bar', 'qux', 'baz'] },
  ],
  ['A.3', { baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }], { foo: 'bar' }],
  [
    'A.4',
    { foo: ['bar', 'qux', 'baz'] },
    [{ op: 'remove', path: '/foo/1' }],
    { foo: ['bar', 'baz'] },
  ],
  [
    'A.5',
    { baz: 'qux', foo: 'bar' },
    [{ op: 'replace', path: '/baz', value: 'boo' }],
    { baz: 'boo', foo: 'bar' },
  ],
  [
    'A.6',
    { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } },
    [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }],
    { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } },
  ],
  [
    'A.7',
    { foo: ['all', 'grass', 'cows', 'eat'] },
    [{ op: 'move', from: '/foo/1', path: '/foo/3' }],
    { foo: ['all', 'cows', 'eat', 'grass'] },
  ],
  [
    'A.8',
    { baz: 'qux', foo: ['a', 2, 'c'] },
    [
      { op: 'test', path: '/baz', value: 'qux' },
      { op: 'test', path: '/foo/1', value: 2 },
    ],
    { baz: 'qux', foo: ['a', 2, 'c'] },
  ],
  [
    'A.9',
    { baz: 'qux' },
    [{ op: 'test', path: '/baz', value: 'bar' }],
    { error: 'KEELSON_ERR_PATCH_TEST_FAILED' },
  ],
  [
    'A.10',
    { foo: 'bar' },
    [{ op: 'add', path: '/child', value: { grandchild: {} } }],
    { foo: 'bar', child: { grandchild: {} } },
  ],
  [
    'A.11',
    { foo: 'bar' },
    [{ op: 'add', path: '/baz', value: 'qux', xyz: 123 }],
    { foo: 'bar', baz: 'qux' },
  ],
  [
    'A.12',
    { foo: 'bar' },
    [{ op: 'add', path: '/baz/bat', value: 'qux' }],
    { error: 'KEELSON_ERR_BAD_JSON_PATCH' },
  ],
  ['A.14', { '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: 10 }], { '/': 9, '~1': 10 }],
  [
    'A.15',
    { '/': 9, '~1': 10 },
    [{ op: 'test', path: '/~01', value: '10' }],
    { error: 'KEELSON_ERR_PATCH_TEST_FAILED' },
  ],
  [
    'A.16',
    { foo: ['bar'] },
    [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }],
    { foo: ['bar', ['abc', 'def']] },
  ],
]

function outcome(document: Json, patch: Json): Json | { error: string } {
  try {
    return applyJsonPatch(document, patch)
  } catch (err) {
    return { error: (err as { code: string }).code }
  }
}

describe('applyJsonPatch', () => {
  for (const [section, document, patch, expected] of APPENDIX_A) {
    it(`gives the result of RFC 6902 ${section}`, () => {
      expect(outcome(document, patch)).toEqual(expected)
    })
  }

  it('never changes the document it is given, even when an operation fails midway', () => {
    const document = { a: [1, 2], b: { c: 1 } }
    const before = structuredClone(document)
    const patch: Json[] = [
      { op: 'add', path: '/a/-', value: 3 },
      { op: 'remove', path: '/b/c' },
      { op: 'remove', path: '/missing' },
    ]
    expect(outcome(document, patch)).toEqual({ error: 'KEELSON_ERR_BAD_JSON_PATCH' })
    expect(document).toEqual(before)
    expect(applyJsonPatch(document, patch.slice(0, 2))).toEqual({ a: [1, 2, 3], b: {} })
    expect(document).toEqual(before)
  })

  it('replaces the whole document at the empty pointer and refuses to remove it', () => {
    expect(applyJsonPatch({ a: 1 }, [{ op: 'replace', path: '', value: [1] }])).toEqual([1])
    expect(outcome({ a: 1 }, [{ op: 'remove', path: '' }])).toEqual({
      error: 'KEELSON_ERR_BAD_JSON_PATCH',
    })
  })

  it('reads own members only and refuses forbidden keys in pointers', () => {
    expect(outcome({}, [{ op: 'copy', from: '/toString', path: '/x' }])).toEqual({
      error: 'KEELSON_ERR_BAD_JSON_PATCH',
    })
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      expect(outcome({}, [{ op: 'add', path: `/${key}`, value: 1 }])).toEqual({
        error: 'KEELSON_ERR_FORBIDDEN_KEY',
      })
    }
    expect(({} as Record<string, unknown>).x).toBeUndefined()
  })

  it('refuses array indexes with leading zeros, signs or past the end', () => {
    for (const path of ['/a/01', '/a/-1', '/a/3', '/a/x']) {
      expect(outcome({ a: [1, 2] }, [{ op: 'add', path, value: 0 }])).toEqual({
        error: 'KEELSON_ERR_BAD_JSON_PATCH',
      })
    }
  })

  it('bounds what the copies of one patch may duplicate', () => {
    const patch = Array.from({ length: 30 }, (_, i) => ({ op: 'copy', from: '', path: `/c${i}` }))
    expect(outcome({ a: 'x'.repeat(100) }, patch)).toEqual({ error: 'KEELSON_ERR_TOO_LARGE' })
    expect(applyJsonPatch({ a: 1 }, patch.slice(0, 2), { maxCopyBytes: 100 })).toEqual({
      a: 1,
      c0: { a: 1 },
      c1: { a: 1, c0: { a: 1 } },
    })
  })
})
