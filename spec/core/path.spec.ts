import { describe, expect, it } from 'vitest'
import { KeelsonError } from '../../src/core/errors.js'
import { parseDotPath, parseUrlPath, readPath } from '../../src/core/path.js'

const code = (fn: () => unknown): string | undefined => {
  try {
    fn()
  } catch (err) {
    return err instanceof KeelsonError ? err.code : 'not a KeelsonError'
  }
  return undefined
}

describe('parseUrlPath', () => {
  it('splits on slashes, percent-decodes each segment and ignores a trailing slash', () => {
    expect(parseUrlPath('/a/b%2Fc/d%20e/').segments).toEqual(['a', 'b/c', 'd e'])
    expect(parseUrlPath('').segments).toEqual([])
    expect(parseUrlPath('/').segments).toEqual([])
  })

  it('resolves self directly under vessels only', () => {
    expect(parseUrlPath('/vessels/self/self', 'urn:x').segments).toEqual([
      'vessels',
      'urn:x',
      'self',
    ])
    expect(parseUrlPath('/self', 'urn:x').segments).toEqual(['self'])
  })

  it('marks the first wildcard', () => {
    expect(parseUrlPath('/vessels/*/navigation/*').starAt).toBe(1)
    expect(parseUrlPath('/vessels/self').starAt).toBe(-1)
  })

  it.each([
    ['/a//b', 'KEELSON_ERR_BAD_PATH'],
    ['/a/./b', 'KEELSON_ERR_BAD_PATH'],
    ['/a/../b', 'KEELSON_ERR_BAD_PATH'],
    ['/a/%0Ab', 'KEELSON_ERR_BAD_PATH'],
    ['/a/%7F', 'KEELSON_ERR_BAD_PATH'],
    ['/a/%E0%A4%A', 'KEELSON_ERR_BAD_PATH'],
    ['/__proto__', 'KEELSON_ERR_FORBIDDEN_KEY'],
    ['/a/constructor', 'KEELSON_ERR_FORBIDDEN_KEY'],
    ['/a/prototype/b', 'KEELSON_ERR_FORBIDDEN_KEY'],
  ])('refuses %s with %s', (raw, expected) => {
    expect(code(() => parseUrlPath(raw))).toBe(expected)
  })
})

describe('parseDotPath', () => {
  it('splits Signal K dot paths', () => {
    expect(parseDotPath('navigation.speedOverGround').segments).toEqual([
      'navigation',
      'speedOverGround',
    ])
    expect(parseDotPath('').segments).toEqual([])
  })
})

describe('readPath', () => {
  const tree = {
    vessels: {
      a: { navigation: { sog: 1, cog: 2 }, name: 'A' },
      b: { name: 'B' },
      c: { navigation: { sog: 3 } },
    },
    leaf: 5,
  }

  it('reads plain paths and misses', () => {
    expect(readPath(tree, parseUrlPath('/vessels/a/name'))).toBe('A')
    expect(readPath(tree, parseUrlPath('/vessels/x'))).toBeUndefined()
    expect(readPath(tree, parseUrlPath('/leaf/x'))).toBeUndefined()
  })

  it('roots a wildcard read at the segment before the first star, with only matching branches', () => {
    expect(readPath(tree, parseUrlPath('/vessels/*/navigation/sog'))).toEqual({
      a: { navigation: { sog: 1 } },
      c: { navigation: { sog: 3 } },
    })
    expect(readPath(tree, parseUrlPath('/vessels/*/name'))).toEqual({
      a: { name: 'A' },
      b: { name: 'B' },
    })
  })

  it('gives {} when nothing matches and undefined only when the prefix is missing', () => {
    expect(readPath(tree, parseUrlPath('/vessels/*/nothing'))).toEqual({})
    expect(readPath(tree, parseUrlPath('/nowhere/*'))).toBeUndefined()
  })
})
