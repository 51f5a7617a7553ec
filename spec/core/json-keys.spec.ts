import { describe, expect, it } from 'vitest'
import { findForbiddenKey, mayHoldForbiddenKey } from '../../src/core/json-keys.js'

describe('findForbiddenKey', () => {
  it('finds a forbidden key at any depth, in objects inside arrays too', () => {
    expect(findForbiddenKey('{"__proto__":1}')).toBe('__proto__')
    expect(findForbiddenKey('{"a":{"b":[{"constructor":{}}]}}')).toBe('constructor')
    expect(findForbiddenKey('[1,{"prototype":null}]')).toBe('prototype')
  })

  it('finds a key that a later duplicate hides from JSON.parse', () => {
    const text = '{"d":{"__proto__":{"x":1}},"d":1}'
    expect(JSON.parse(text)).toEqual({ d: 1 })
    expect(findForbiddenKey(text)).toBe('__proto__')
  })

  it('decodes escapes before comparing a key', () => {
    expect(findForbiddenKey('{"\\u005f_proto__":1}')).toBe('__proto__')
    expect(findForbiddenKey('{"\\u005F\\u005Fproto\\u005f\\u005f":1}')).toBe('__proto__')
    expect(findForbiddenKey('{"constr\\u0075ctor":1}')).toBe('constructor')
    expect(findForbiddenKey('{"\\u0070rototype":1}')).toBe('prototype')
  })

  it('allows whitespace between a key and its colon', () => {
    expect(findForbiddenKey('{ "__proto__" \t\r\n : 1 }')).toBe('__proto__')
  })

  it('ignores the forbidden words as string values, in arrays and at the top level', () => {
    expect(findForbiddenKey('{"a":"__proto__"}')).toBeUndefined()
    expect(findForbiddenKey('{"a":"__proto__","b":"constructor"}')).toBeUndefined()
    expect(findForbiddenKey('["__proto__","prototype"]')).toBeUndefined()
    expect(findForbiddenKey('"constructor"')).toBeUndefined()
    expect(findForbiddenKey('{"a":["prototype"],"b":{"c":"constructor"}}')).toBeUndefined()
  })

  it('ignores keys that only contain the words, and keys with other escapes', () => {
    expect(findForbiddenKey('{"__proto__x":1,"my constructor":2,"prototypes":3}')).toBeUndefined()
    expect(findForbiddenKey('{"\\u0041":1,"\\u005f":2}')).toBeUndefined()
  })

  it('reads strings that hold escaped quotes, backslashes and colons as one token', () => {
    expect(findForbiddenKey('{"a":"\\"__proto__\\":1"}')).toBeUndefined()
    expect(findForbiddenKey('{"a":"x\\\\","__proto__":1}')).toBe('__proto__')
    expect(findForbiddenKey('{"a":"\\\\\\"constructor\\":"}')).toBeUndefined()
    expect(findForbiddenKey('{"a:b":"c:d","e":"\\"prototype\\"","f":{"prototype":1}}')).toBe(
      'prototype',
    )
  })

  it('returns nothing for unterminated text (JSON.parse has refused it already)', () => {
    expect(findForbiddenKey('{"a":"__proto__')).toBeUndefined()
  })
})

describe('mayHoldForbiddenKey', () => {
  it('passes text without the words or a \\u escape, which cannot spell a forbidden key', () => {
    expect(mayHoldForbiddenKey('{"navigation":{"speedOverGround":{"value":3.2}}}')).toBe(false)
    expect(mayHoldForbiddenKey('{"a":"\\n\\t\\""}')).toBe(false)
    expect(mayHoldForbiddenKey('{"a":"\\u0041"}')).toBe(true)
    expect(mayHoldForbiddenKey('{"prototypes":1}')).toBe(true)
  })
})
