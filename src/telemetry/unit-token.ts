/**
 * Unit tokens (SPEC §6): HS256 JWTs, signed with the server's secret, that
 * let one user subscribe one unit of the fleet telemetry stream for a while
 * — `{"unit_id","sub","exp","iat"}`. `sub` is the user or device name, or
 * {@link ANYONE} while no users exist (SPEC §8's no-users rule).
 *
 * They are not login tokens and cannot stand in for one: a login token
 * names `id` or `device` and no `unit_id`, so each kind fails the other's
 * check. The algorithm is fixed by the server, never taken from the token.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7519 JWT
 * @see https://www.rfc-editor.org/rfc/rfc8725#section-3.1 algorithm verification
 */
import { SignJWT } from 'jose'
import { Errors, KeelsonError } from '../core/errors.js'
import { keyOf, TOKEN_ALGORITHM, verifyHs256 } from '../security/tokens.js'

/** The `sub` of a unit token issued while no users exist: everyone reads (the ACL subject `any`). */
export const ANYONE = 'any'

/** What a verified unit token says. */
export interface UnitClaims {
  /** The unit it is for. */
  unit_id: string
  /** Who it was issued to: a user or device name, or {@link ANYONE}. */
  sub: string
  /** Expiry, seconds since the epoch. */
  exp: number
}

/** A signed unit token, as `GET /api/v1/monitoring/unit/:unitId` answers it. */
export interface UnitToken {
  token: string
  unit_id: string
  /** ISO 8601 time of its `exp`. */
  expires_at: string
}

/** Signs a token for `unitId` and `sub` with `secretKey` (UTF-8 bytes, as login tokens), living `ttlMs`. */
export async function signUnitToken(
  secretKey: string,
  unitId: string,
  sub: string,
  ttlMs: number,
): Promise<UnitToken> {
  const now = Math.floor(Date.now() / 1000)
  const exp = now + Math.max(1, Math.round(ttlMs / 1000))
  const token = await new SignJWT({ unit_id: unitId })
    .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .sign(keyOf(secretKey))
  return { token, unit_id: unitId, expires_at: new Date(exp * 1000).toISOString() }
}

function refused(detail: string): KeelsonError {
  return new KeelsonError(
    Errors.BAD_UNIT_TOKEN,
    `The unit token is refused: ${detail}; get a new one from /api/v1/monitoring/unit/:unitId`,
  )
}

/**
 * The claims of a unit token signed with `secretKey` by HS256. Throws
 * `BAD_UNIT_TOKEN` (401) saying why for a token that is missing, malformed,
 * of another algorithm (`none`, HS512...), signed with another key, expired,
 * or not a unit token.
 */
export async function verifyUnitToken(secretKey: string, token: string): Promise<UnitClaims> {
  if (token === '') throw refused('it is missing')
  const payload = await verifyHs256(secretKey, token, refused, ['exp', 'sub'])
  const { unit_id, sub, exp } = payload
  if (typeof unit_id !== 'string' || unit_id === '') throw refused('it names no unit')
  if (typeof sub !== 'string' || sub === '' || typeof exp !== 'number') {
    throw refused('it names nobody')
  }
  return { unit_id, sub, exp }
}
