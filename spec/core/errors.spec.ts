import { STATUS_CODES } from 'node:http'
import { describe, expect, it } from 'vitest'
import { Errors } from '../../src/core/errors.js'

describe('the error table', () => {
  const kinds = Object.values(Errors)

  it('has unique, prefixed codes', () => {
    const codes = kinds.map((k) => k.code)
    expect(new Set(codes).size).toBe(codes.length)
    for (const code of codes) expect(code).toMatch(/^KEELSON_ERR_[A-Z_]+$/)
  })

  it('uses real HTTP error statuses and says how to fix the request', () => {
    for (const kind of kinds) {
      expect(kind.status).toBeGreaterThanOrEqual(400)
      expect(STATUS_CODES[kind.status]).toBeDefined()
      expect(kind.title.length).toBeGreaterThan(10)
    }
  })

  it('is frozen', () => {
    expect(Object.isFrozen(Errors)).toBe(true)
    expect(Object.isFrozen(Errors.BAD_JSON)).toBe(true)
  })
})
