import { createHmac } from 'node:crypto'
import { SignJWT } from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { KeelsonError } from '../../src/core/errors.js'
import {
  cookieMaxAgeMs,
  parseLifetime,
  signToken,
  TokenVerifier,
  verifyToken,
} from '../../src/security/tokens.js'

const SECRET = 'a3f1c0ffee'.repeat(6)

function b64url(value: object | Buffer): string {
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))
  return bytes.toString('base64url')
}

/** A token built by hand: `sign` makes the signature of `header.payload` (none: empty). */
function handMade(
  header: object,
  payload: object,
  sign: (input: string) => Buffer = () => Buffer.alloc(0),
): string {
  const input = `${b64url(header)}.${b64url(payload)}`
  return `${input}.${b64url(sign(input))}`
}

/** HMAC-SHA256 with the UTF-8 bytes of a string secret, as jsonwebtoken signs. */
function hmac(secret: string): (input: string) => Buffer {
  return (input) => createHmac('sha256', secret).update(input).digest()
}

/** The detail of the 401 a token is refused with. */
async function refusal(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(KeelsonError)
  expect((err as KeelsonError).status).toBe(401)
  return (err as KeelsonError).message
}

afterEach(() => {
  vi.useRealTimers()
})

describe('token lifetimes', () => {
  it('reads signalk-server expiration strings in seconds, NEVER as none', () => {
    expect(parseLifetime('1d')).toBe(86_400)
    expect(parseLifetime('12h')).toBe(43_200)
    expect(parseLifetime('30m')).toBe(1800)
    expect(parseLifetime('60s')).toBe(60)
    expect(parseLifetime('2 days')).toBe(172_800)
    expect(parseLifetime('1y')).toBe(31_557_600)
    expect(parseLifetime('90000')).toBe(90)
    expect(parseLifetime('NEVER')).toBeUndefined()
  })

  it('refuses a lifetime it cannot read, naming it', () => {
    for (const bad of ['', 'soon', '1 fortnight', '-1d', '0s', 'never']) {
      expect(() => parseLifetime(bad)).toThrow(/is not a token lifetime/)
    }
  })

  it('gives the cookie a Max-Age only with rememberMe, ten years for NEVER', () => {
    expect(cookieMaxAgeMs('1d', false)).toBeUndefined()
    expect(cookieMaxAgeMs('1d', true)).toBe(86_400_000)
    expect(cookieMaxAgeMs('NEVER', true)).toBe(10 * 31_557_600 * 1000)
  })
})

describe('signing and verifying tokens', () => {
  it('round-trips a user token with its timeToLive and exp', async () => {
    const { token, timeToLive } = await signToken(SECRET, { id: 'alice' }, '12h')
    expect(timeToLive).toBe(43_200)
    const claims = await verifyToken(SECRET, token)
    expect(claims.id).toBe('alice')
    expect(claims.device).toBeUndefined()
    expect(claims.exp! - claims.iat!).toBe(43_200)
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toEqual({
      alg: 'HS256',
      typ: 'JWT',
    })
  })

  it('round-trips a device token', async () => {
    const { token } = await signToken(SECRET, { device: 'e1b7-chartplotter' }, '1d')
    expect(await verifyToken(SECRET, token)).toMatchObject({ device: 'e1b7-chartplotter' })
  })

  it('signs NEVER without exp and without timeToLive', async () => {
    const signed = await signToken(SECRET, { id: 'alice' }, 'NEVER')
    expect(signed.timeToLive).toBeUndefined()
    expect((await verifyToken(SECRET, signed.token)).exp).toBeUndefined()
  })

  it("accepts a token signed as signalk-server's jsonwebtoken signs it with the same secret", async () => {
    const iat = Math.floor(Date.now() / 1000)
    const token = handMade(
      { alg: 'HS256', typ: 'JWT' },
      { id: 'skipper', iat, exp: iat + 3600 },
      hmac(SECRET),
    )
    expect(await verifyToken(SECRET, token)).toEqual({ id: 'skipper', iat, exp: iat + 3600 })
  })

  it('refuses a token signed with another secret', async () => {
    const { token } = await signToken('another secret', { id: 'alice' }, '1d')
    expect(await refusal(verifyToken(SECRET, token))).toMatch(/signed with another key/)
  })

  it('refuses a token with a tampered payload', async () => {
    const { token } = await signToken(SECRET, { id: 'alice' }, '1d')
    const [header, , signature] = token.split('.')
    const forged = `${header}.${b64url({ id: 'admin' })}.${signature}`
    expect(await refusal(verifyToken(SECRET, forged))).toMatch(/signed with another key/)
  })

  it('refuses an unsigned token (alg none)', async () => {
    const token = handMade({ alg: 'none', typ: 'JWT' }, { id: 'admin' })
    expect(await refusal(verifyToken(SECRET, token))).toMatch(/not signed with HS256/)
  })

  it('refuses an RS256 header signed by HMAC with the secret as the key', async () => {
    const token = handMade({ alg: 'RS256', typ: 'JWT' }, { id: 'admin' }, hmac(SECRET))
    expect(await refusal(verifyToken(SECRET, token))).toMatch(/not signed with HS256/)
  })

  it('refuses an HS512 token even with the right secret', async () => {
    const token = await new SignJWT({ id: 'alice' })
      .setProtectedHeader({ alg: 'HS512' })
      .sign(new TextEncoder().encode(SECRET))
    expect(await refusal(verifyToken(SECRET, token))).toMatch(/not signed with HS256/)
  })

  it('refuses an expired token', async () => {
    vi.useFakeTimers()
    const { token } = await signToken(SECRET, { id: 'alice' }, '60s')
    expect((await verifyToken(SECRET, token)).id).toBe('alice')
    vi.setSystemTime(Date.now() + 61_000)
    expect(await refusal(verifyToken(SECRET, token))).toMatch(/expired/)
  })

  it('refuses a token whose exp is in the past', async () => {
    const past = Math.floor(Date.now() / 1000) - 10
    const token = handMade({ alg: 'HS256' }, { id: 'alice', exp: past }, hmac(SECRET))
    expect(await refusal(verifyToken(SECRET, token))).toMatch(/expired/)
  })

  it('refuses malformed tokens', async () => {
    for (const token of [
      '',
      'abc',
      'a.b',
      'a.b.c',
      `${b64url({ alg: 'HS256' })}.e30`,
      'x'.repeat(5000),
    ]) {
      expect(await refusal(verifyToken(SECRET, token))).toMatch(/not a well-formed JWT/)
    }
  })

  it('refuses a well-signed token that names no user and no device', async () => {
    const token = handMade({ alg: 'HS256' }, { sub: 'alice' }, hmac(SECRET))
    expect(await refusal(verifyToken(SECRET, token))).toMatch(/names no user and no device/)
  })
})

describe('the token verifier', () => {
  it('remembers a verified token and answers it again without the secret', async () => {
    const verifier = new TokenVerifier(SECRET)
    const { token } = await signToken(SECRET, { id: 'alice' }, '1d')
    const first = await verifier.verify(token)
    expect(verifier.size).toBe(1)
    expect(await verifier.verify(token)).toBe(first)
  })

  it('does not remember refusals', async () => {
    const verifier = new TokenVerifier(SECRET)
    const { token } = await signToken('other', { id: 'alice' }, '1d')
    await refusal(verifier.verify(token))
    expect(verifier.size).toBe(0)
  })

  it('refuses a remembered token once it expires', async () => {
    vi.useFakeTimers()
    const verifier = new TokenVerifier(SECRET)
    const { token } = await signToken(SECRET, { id: 'alice' }, '30m')
    await verifier.verify(token)
    vi.setSystemTime(Date.now() + 30 * 60_000 + 1000)
    expect(await refusal(verifier.verify(token))).toMatch(/expired/)
    expect(verifier.size).toBe(0)
  })

  it('forgets every token when the secret changes', async () => {
    const verifier = new TokenVerifier(SECRET)
    const { token } = await signToken(SECRET, { id: 'alice' }, '1d')
    await verifier.verify(token)
    verifier.secretKey = 'a new secret'
    expect(verifier.size).toBe(0)
    expect(await refusal(verifier.verify(token))).toMatch(/another key/)
  })

  it('keeps at most its bound, dropping the oldest first', async () => {
    const verifier = new TokenVerifier(SECRET, 3)
    const tokens: string[] = []
    for (const id of ['a', 'b', 'c', 'd']) {
      tokens.push((await signToken(SECRET, { id }, '1d')).token)
      await verifier.verify(tokens.at(-1)!)
    }
    expect(verifier.size).toBe(3)
  })
})
