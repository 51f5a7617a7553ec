/**
 * Tokens (SPEC §8): HS256 JWTs as signalk-server issues them, `{"id": user}`
 * for a user and `{"device": clientId}` for an approved device, with `iat`
 * and, unless the lifetime is `NEVER`, `exp`. The HMAC key is the UTF-8
 * bytes of the security file's `secretKey`, as jsonwebtoken uses a string
 * secret, so tokens of a signalk-server stay valid when its file moves over.
 *
 * The algorithm is fixed by the server, never taken from the token: `none`,
 * RS256, HS512 and every other header are refused.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7519 JWT
 * @see https://www.rfc-editor.org/rfc/rfc8725#section-3.1 algorithm verification
 * @see https://github.com/SignalK/signalk-server/blob/master/src/tokensecurity.ts
 */
import { errors, jwtVerify, SignJWT } from 'jose'
import { Errors, KeelsonError } from '../core/errors.js'

/** The one algorithm keelson signs and accepts. */
export const TOKEN_ALGORITHM = 'HS256'

/** The lifetime that means "no `exp`" (signalk-server's `expiration: "NEVER"`). */
export const NEVER = 'NEVER'

/** What a verified token says. */
export interface TokenClaims {
  /** The user's name, for a user's token. */
  id?: string
  /** The device's clientId, for an approved device's token. */
  device?: string
  /** Expiry, seconds since the epoch; absent for a token that never expires. */
  exp?: number
  /** Issue time, seconds since the epoch (jsonwebtoken and keelson set it). */
  iat?: number
}

/** A signed token and its lifetime in seconds (absent for `NEVER`), as login answers it. */
export interface SignedToken {
  token: string
  timeToLive?: number
}

const UNITS: Readonly<Record<string, number>> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86_400,
  w: 604_800,
  y: 31_557_600,
}
const UNIT_NAMES: Readonly<Record<string, string>> = {
  msec: 'ms',
  msecs: 'ms',
  millisecond: 'ms',
  milliseconds: 'ms',
  sec: 's',
  secs: 's',
  second: 's',
  seconds: 's',
  min: 'm',
  mins: 'm',
  minute: 'm',
  minutes: 'm',
  hr: 'h',
  hrs: 'h',
  hour: 'h',
  hours: 'h',
  day: 'd',
  days: 'd',
  week: 'w',
  weeks: 'w',
  yr: 'y',
  yrs: 'y',
  year: 'y',
  years: 'y',
}

/**
 * A lifetime (signalk-server's `expiration`, in the `ms` package's format
 * that jsonwebtoken reads: `1d`, `12h`, `30m`, `60s`, `2 days`, `1y`; a bare
 * number is milliseconds) in whole seconds, or undefined for `NEVER`.
 * Throws an Error naming the text for anything else, and for a lifetime
 * under one second.
 */
export function parseLifetime(lifetime: string): number | undefined {
  if (lifetime === NEVER) return undefined
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]+)?$/i.exec(lifetime.trim())
  const unitName = match?.[2]?.toLowerCase() ?? 'ms'
  const unit = UNITS[UNIT_NAMES[unitName] ?? unitName]
  const seconds = match && unit !== undefined ? Math.floor(Number(match[1]) * unit) : NaN
  if (!Number.isSafeInteger(seconds) || seconds < 1) {
    throw new Error(
      `"${lifetime}" is not a token lifetime: use NEVER or a duration like 1d, 12h, 30m or 60s`,
    )
  }
  return seconds
}

/**
 * The `JAUTHENTICATION` cookie's Max-Age for a login, in ms, as
 * signalk-server sets it: `rememberMe` only makes the cookie outlive the
 * browser session (for the token's lifetime; 10 years for `NEVER`); the
 * token itself is the same either way. Undefined: a session cookie.
 */
export function cookieMaxAgeMs(lifetime: string, rememberMe: boolean): number | undefined {
  if (!rememberMe) return undefined
  const seconds = parseLifetime(lifetime) ?? 10 * UNITS.y!
  return seconds * 1000
}

/**
 * Signs a token for a user (`{ id }`) or a device (`{ device }`) with
 * `secretKey`, expiring after `lifetime` (see {@link parseLifetime};
 * undefined or `NEVER`: no `exp`). `timeToLive` is the lifetime in seconds.
 */
export async function signToken(
  secretKey: string,
  claims: { id: string } | { device: string },
  lifetime: string | undefined,
): Promise<SignedToken> {
  const timeToLive = lifetime === undefined ? undefined : parseLifetime(lifetime)
  const payload = 'id' in claims ? { id: claims.id } : { device: claims.device }
  const jwt = new SignJWT(payload).setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: 'JWT' })
  const now = Math.floor(Date.now() / 1000)
  jwt.setIssuedAt(now)
  if (timeToLive !== undefined) jwt.setExpirationTime(now + timeToLive)
  const token = await jwt.sign(keyOf(secretKey))
  return timeToLive === undefined ? { token } : { token, timeToLive }
}

/**
 * The payload of a JWT signed with `secretKey` by HS256 (the algorithm fixed
 * here, never taken from the token), every other claim `required`. Throws
 * `refuse(why)` for a token that is malformed, of another algorithm (`none`,
 * RS256, HS512...), signed with another key, expired, or missing a required
 * claim. Shared by user, device and unit tokens.
 */
export async function verifyHs256(
  secretKey: string,
  token: string,
  refuse: (why: string) => KeelsonError,
  required: string[] = [],
): Promise<Record<string, unknown>> {
  try {
    const { payload } = await jwtVerify(token, keyOf(secretKey), {
      algorithms: [TOKEN_ALGORITHM],
      requiredClaims: required,
    })
    return payload
  } catch (err) {
    if (err instanceof errors.JWTExpired) throw refuse('it has expired')
    if (err instanceof errors.JWSSignatureVerificationFailed) {
      throw refuse('it is signed with another key')
    }
    if (err instanceof errors.JOSEAlgNotAllowed)
      throw refuse(`it is not signed with ${TOKEN_ALGORITHM}`)
    if (err instanceof errors.JWTClaimValidationFailed) {
      throw refuse(`its "${err.claim}" claim is missing or invalid`)
    }
    throw refuse('it is not a well-formed JWT')
  }
}

/** The HMAC key of a secret: its UTF-8 bytes, as jsonwebtoken uses a string secret. */
export function keyOf(secretKey: string): Uint8Array {
  return new TextEncoder().encode(secretKey)
}

function refused(detail: string): KeelsonError {
  return new KeelsonError(Errors.UNAUTHORIZED, `The token is refused: ${detail}; log in again`)
}

/**
 * Verifies a token signed with `secretKey` by HS256 and returns its claims.
 * Throws a {@link KeelsonError} UNAUTHORIZED (401) saying why for a token
 * that is malformed, of another algorithm (`none`, RS256, HS512...), signed
 * with another key, expired, or naming neither a user nor a device.
 * Whether that user or device still exists is the caller's question.
 */
export async function verifyToken(secretKey: string, token: string): Promise<TokenClaims> {
  const payload = await verifyHs256(secretKey, token, refused)
  const { id, device, exp, iat } = payload
  const claims: TokenClaims = {}
  if (typeof id === 'string' && id !== '') claims.id = id
  else if (typeof device === 'string' && device !== '') claims.device = device
  else throw refused('it names no user and no device')
  if (typeof exp === 'number') claims.exp = exp
  if (typeof iat === 'number') claims.iat = iat
  return claims
}

/** Tokens a {@link TokenVerifier} remembers at most. */
export const TOKEN_CACHE_SIZE = 10_000

/**
 * Verifies tokens with the current secret and remembers the ones that
 * passed until their `exp`, so a client sending the same token on every
 * request costs one HMAC, not one per request. Refusals are not
 * remembered (each costs a verification, as it would uncached). At most
 * `maxEntries` tokens (default {@link TOKEN_CACHE_SIZE}) are remembered; the
 * oldest is dropped first. Changing the secret forgets them all.
 */
export class TokenVerifier {
  #secretKey: string
  readonly #maxEntries: number
  readonly #verified = new Map<string, Readonly<TokenClaims>>()

  constructor(secretKey: string, maxEntries: number = TOKEN_CACHE_SIZE) {
    this.#secretKey = secretKey
    this.#maxEntries = maxEntries
  }

  /** The secret tokens are checked against; setting another one forgets every remembered token. */
  get secretKey(): string {
    return this.#secretKey
  }

  set secretKey(secretKey: string) {
    if (secretKey === this.#secretKey) return
    this.#secretKey = secretKey
    this.#verified.clear()
  }

  /** Tokens remembered now. */
  get size(): number {
    return this.#verified.size
  }

  /** The claims of `token` (see {@link verifyToken}), from memory when it was verified before. */
  async verify(token: string): Promise<Readonly<TokenClaims>> {
    const known = this.#verified.get(token)
    if (known) {
      if (known.exp === undefined || known.exp > Date.now() / 1000) return known
      this.#verified.delete(token)
      throw refused('it has expired')
    }
    const secretKey = this.#secretKey
    const claims = Object.freeze(await verifyToken(secretKey, token))
    if (secretKey === this.#secretKey) {
      if (this.#verified.size >= this.#maxEntries) {
        this.#verified.delete(this.#verified.keys().next().value!)
      }
      this.#verified.set(token, claims)
    }
    return claims
  }

  /** Forgets every remembered token (e.g. when users are removed, to be sure). */
  clear(): void {
    this.#verified.clear()
  }
}
