/**
 * Password hashes of the security file (SPEC §8). keelson writes scrypt
 * hashes made with `node:crypto` (RFC 7914), which run on libuv's thread
 * pool, off the event loop. bcrypt hashes (`$2a$`, `$2b$`, `$2y$`) of a
 * signalk-server `security.json` are verified as they are, with bcryptjs, so
 * a boat moves its users over by copying the file.
 *
 * An unknown user costs the same as a wrong password ({@link verifyUnknownUser}),
 * so the time of a failed login does not tell whether the user exists.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7914 scrypt
 * @see https://github.com/dcodeIO/bcrypt.js bcryptjs
 */
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto'
import bcrypt from 'bcryptjs'

/**
 * The scrypt cost keelson hashes with: N = 2^14, r = 8, p = 1 (16 MiB, the
 * "interactive login" parameters of scrypt's paper), a 16-byte salt and a
 * 32-byte hash. About 50-100 ms per hash on a small machine.
 */
export const SCRYPT_PARAMS = Object.freeze({ N: 16_384, r: 8, p: 1, saltBytes: 16, hashBytes: 32 })

/** Largest scrypt cost a stored hash may ask for, so an edited file cannot make a login take minutes. */
const MAX_SCRYPT = Object.freeze({ N: 1 << 20, r: 32, p: 16, memory: 1024 * 1024 * 1024 })

/** bcrypt costs accepted from a file (signalk-server uses 10). */
const BCRYPT_COSTS = { min: 4, max: 16 }

const SCRYPT_HASH =
  /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/
const BCRYPT_HASH = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/
const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

interface ScryptHash {
  N: number
  r: number
  p: number
  salt: Buffer
  hash: Buffer
}

function runScrypt(password: string, salt: Buffer, length: number, params: ScryptOptions) {
  return new Promise<Buffer>((resolve, reject) => {
    const maxmem = 128 * params.N! * params.r! * params.p! + 32 * 1024 * 1024
    scrypt(password.normalize('NFC'), salt, length, { ...params, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    )
  })
}

function parseScrypt(stored: string): ScryptHash | undefined {
  const match = SCRYPT_HASH.exec(stored)
  if (!match) return undefined
  const [N, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])]
  const salt = Buffer.from(match[4]!, 'base64')
  const hash = Buffer.from(match[5]!, 'base64')
  const powerOfTwo = N > 1 && (N & (N - 1)) === 0
  if (!powerOfTwo || N > MAX_SCRYPT.N || r < 1 || r > MAX_SCRYPT.r || p < 1 || p > MAX_SCRYPT.p) {
    return undefined
  }
  if (128 * N * r * p > MAX_SCRYPT.memory || salt.length < 8 || hash.length < 16) return undefined
  return { N, r, p, salt, hash }
}

/**
 * Hashes a password for the security file as
 * `scrypt$N$r$p$<salt base64>$<hash base64>`, with {@link SCRYPT_PARAMS}.
 * The password is NFC-normalised first, so the same text typed on another
 * keyboard still matches.
 */
export async function hashPassword(password: string): Promise<string> {
  const { N, r, p, saltBytes, hashBytes } = SCRYPT_PARAMS
  const salt = randomBytes(saltBytes)
  const hash = await runScrypt(password, salt, hashBytes, { N, r, p })
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${hash.toString('base64')}`
}

/**
 * True when `password` matches `stored`: a keelson scrypt hash or a bcrypt
 * hash (`$2a$`, `$2b$`, `$2y$`, cost 4 to 16). Never throws: a hash of
 * another or a broken format (or none, as for a signalk-server OIDC user)
 * costs the time of {@link verifyUnknownUser} and answers false.
 */
export async function verifyPassword(password: string, stored: unknown): Promise<boolean> {
  if (typeof password !== 'string') password = ''
  if (typeof stored === 'string') {
    const scryptHash = parseScrypt(stored)
    if (scryptHash) {
      const { N, r, p, salt, hash } = scryptHash
      const computed = await runScrypt(password, salt, hash.length, { N, r, p })
      return timingSafeEqual(computed, hash)
    }
    const bcryptHash = BCRYPT_HASH.exec(stored)
    const cost = Number(bcryptHash?.[1])
    if (bcryptHash && cost >= BCRYPT_COSTS.min && cost <= BCRYPT_COSTS.max) {
      // bcryptjs compares the hashes in constant time itself.
      return bcrypt.compare(password, stored)
    }
  }
  return verifyUnknownUser(password)
}

/**
 * Costs what verifying a real password costs, and answers false: for a login
 * with a name that no user has. `like` is a hash of the file (any user's):
 * the dummy then uses its scheme and cost, so a file of bcrypt users moved
 * from signalk-server does not tell its users apart by timing either.
 * Default: keelson's own scrypt cost.
 */
export async function verifyUnknownUser(password: string, like?: string): Promise<false> {
  if (typeof password !== 'string') password = ''
  const bcryptHash = typeof like === 'string' ? BCRYPT_HASH.exec(like) : null
  const cost = Number(bcryptHash?.[1])
  if (bcryptHash && cost >= BCRYPT_COSTS.min && cost <= BCRYPT_COSTS.max) {
    let body = ''
    for (const byte of randomBytes(53)) body += BCRYPT_ALPHABET[byte & 63]
    await bcrypt.compare(password, `$2b$${bcryptHash[1]}$${body}`)
    return false
  }
  const dummy = (typeof like === 'string' && parseScrypt(like)) || {
    ...SCRYPT_PARAMS,
    salt: randomBytes(SCRYPT_PARAMS.saltBytes),
    hash: randomBytes(SCRYPT_PARAMS.hashBytes),
  }
  const { N, r, p, salt, hash } = dummy
  const computed = await runScrypt(password, randomBytes(salt.length), hash.length, { N, r, p })
  timingSafeEqual(computed, hash)
  return false
}
