import bcrypt from 'bcryptjs'
import { describe, expect, it } from 'vitest'
import { hashPassword, verifyPassword, verifyUnknownUser } from '../../src/security/passwords.js'

/** Median time of `runs` sequential calls, ms. */
async function medianMs(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    await fn()
    times.push(performance.now() - start)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(runs / 2)]!
}

describe('password hashes', () => {
  it('hashes with scrypt in a self-describing format and verifies the same password', async () => {
    const hash = await hashPassword('correct horse battery staple')
    expect(hash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/)
    expect(await verifyPassword('correct horse battery staple', hash)).toBe(true)
  })

  it('salts each hash, so the same password never hashes twice the same', async () => {
    expect(await hashPassword('same')).not.toBe(await hashPassword('same'))
  })

  it('refuses a wrong password, an empty one and a case change', async () => {
    const hash = await hashPassword('Secret')
    expect(await verifyPassword('secret', hash)).toBe(false)
    expect(await verifyPassword('', hash)).toBe(false)
    expect(await verifyPassword('Secret ', hash)).toBe(false)
  })

  it('matches the same text typed in another Unicode normal form', async () => {
    const hash = await hashPassword('caf\u00e9')
    expect(await verifyPassword('cafe\u0301', hash)).toBe(true)
  })

  it('verifies bcrypt hashes of a signalk-server file ($2a$, $2b$ and $2y$)', async () => {
    const hash = await bcrypt.hash('from signalk', 10)
    expect(hash.startsWith('$2b$10$')).toBe(true)
    expect(await verifyPassword('from signalk', hash)).toBe(true)
    expect(await verifyPassword('from signalk', hash.replace('$2b$', '$2a$'))).toBe(true)
    expect(await verifyPassword('from signalk', hash.replace('$2b$', '$2y$'))).toBe(true)
    expect(await verifyPassword('wrong', hash)).toBe(false)
  })

  it('answers false without throwing for a missing, unknown or broken hash', async () => {
    for (const stored of [
      undefined,
      '',
      'plain text password',
      '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA',
      'scrypt$1000$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==',
      'scrypt$4294967296$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==',
      '$2b$31$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234',
    ]) {
      expect(await verifyPassword('anything', stored)).toBe(false)
    }
  })

  it('costs about as much for an unknown user as for a wrong password', async () => {
    const hash = await hashPassword('real')
    const wrong = await medianMs(5, () => verifyPassword('guess', hash))
    const unknown = await medianMs(5, () => verifyUnknownUser('guess'))
    // A loose factor: the machine may be busy; an unknown user that answered at once would fail.
    expect(unknown).toBeGreaterThan(wrong / 4)
    expect(unknown).toBeLessThan(wrong * 4)
  })

  it('costs as much as a bcrypt user when given a bcrypt hash of the file to look like', async () => {
    const hash = await bcrypt.hash('real', 8)
    const wrong = await medianMs(5, () => verifyPassword('guess', hash))
    const unknown = await medianMs(5, () => verifyUnknownUser('guess', hash))
    expect(await verifyUnknownUser('real', hash)).toBe(false)
    expect(unknown).toBeGreaterThan(wrong / 4)
    expect(unknown).toBeLessThan(wrong * 4)
  })
})
