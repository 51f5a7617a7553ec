/**
 * The security file on disk (SPEC §8): checking its shape member by member,
 * its text, and the one atomic writer every change goes through (a temporary
 * file in the same directory, fsync, rename, fsync of the directory; mode
 * 0600). Unknown members (signalk-server's `strategy`, `immutableConfig`,
 * `oidc`...) are kept as they are.
 *
 * @see https://github.com/SignalK/signalk-server/blob/master/SECURITY.md
 */
import { randomBytes } from 'node:crypto'
import { open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { NEVER, parseLifetime } from './tokens.js'
import type { SecurityFile, UserType } from './types.js'

/** The token lifetime of a new security file. */
export const DEFAULT_EXPIRATION = '1d'

/** The user types, weakest first. */
export const USER_TYPES: readonly UserType[] = Object.freeze(['readonly', 'readwrite', 'admin'])

/** The file's mode: read and write for its owner only. */
export const SECURITY_FILE_MODE = 0o600

/** A security file that cannot be used, naming the file and the member at fault. */
export class SecurityFileError extends Error {
  override name = 'SecurityFileError'
}

/** A new file's content: a fresh 32-byte secret (hex), `allowReadonly`, {@link DEFAULT_EXPIRATION}, no users. */
export function newSecurityFile(): SecurityFile {
  return {
    allowReadonly: true,
    expiration: DEFAULT_EXPIRATION,
    secretKey: randomBytes(32).toString('hex'),
    users: [],
    devices: [],
    acls: [],
  }
}

/** True for one of {@link USER_TYPES}. */
export function isUserType(value: unknown): value is UserType {
  return USER_TYPES.includes(value as UserType)
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Throws a {@link SecurityFileError} naming the member, what it must be and what it is. */
export type Fail = (member: string, expected: string, got: unknown) => never

/** A {@link Fail} for the file `where`. */
export function failIn(where: string): Fail {
  return (member, expected, got) => {
    throw new SecurityFileError(`${where}: "${member}" must be ${expected}, got ${shown(got)}`)
  }
}

function strings(value: unknown, member: string, fail: Fail): void {
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    fail(member, 'an array of strings', value)
  }
}

function checkAcls(acls: unknown, fail: Fail): void {
  if (!Array.isArray(acls)) fail('acls', 'an array', acls)
  acls.forEach((acl: unknown, i) => {
    const at = `acls[${i}]`
    if (!isObject(acl)) fail(at, 'an object {"context","resources"}', acl)
    if (typeof acl.context !== 'string') fail(`${at}.context`, 'a string', acl.context)
    if (!Array.isArray(acl.resources)) fail(`${at}.resources`, 'an array', acl.resources)
    acl.resources.forEach((resource: unknown, j) => {
      const rat = `${at}.resources[${j}]`
      if (!isObject(resource)) fail(rat, 'an object {"paths"|"sources","permissions"}', resource)
      if (resource.paths !== undefined) strings(resource.paths, `${rat}.paths`, fail)
      if (resource.sources !== undefined) strings(resource.sources, `${rat}.sources`, fail)
      if (resource.paths === undefined && resource.sources === undefined) {
        fail(rat, 'an object with "paths" or "sources"', resource)
      }
      if (!Array.isArray(resource.permissions)) {
        fail(`${rat}.permissions`, 'an array', resource.permissions)
      }
      resource.permissions.forEach((permission: unknown, k) => {
        const pat = `${rat}.permissions[${k}]`
        if (!isObject(permission)) fail(pat, 'an object {"subject","permission"}', permission)
        if (typeof permission.subject !== 'string' || permission.subject === '') {
          fail(`${pat}.subject`, 'a user name, a clientId or "any"', permission.subject)
        }
        if (!['read', 'write', 'put'].includes(permission.permission as string)) {
          fail(`${pat}.permission`, 'one of read, write, put', permission.permission)
        }
      })
    })
  })
}

/**
 * Checks a parsed security file and returns it as a {@link SecurityFile}
 * (the same object, its members filled in). Fills what signalk-server files
 * may lack: `allowReadonly` from signalk-server's `allow_readonly` (default
 * true), `expiration` ({@link DEFAULT_EXPIRATION}), `users`; a missing
 * `secretKey` becomes `''`, for the caller to generate one. The
 * `accessRequests` member is checked by src/security/access-requests.ts. Throws
 * {@link SecurityFileError} naming `where` and the member at fault.
 */
export function checkSecurityFile(value: unknown, where: string): SecurityFile {
  const fail: Fail = failIn(where)
  if (!isObject(value)) fail('(the whole file)', 'a JSON object', value)
  const file = value as Record<string, unknown>

  if (file.allowReadonly === undefined) file.allowReadonly = file.allow_readonly ?? true
  if (typeof file.allowReadonly !== 'boolean')
    fail('allowReadonly', 'true or false', file.allowReadonly)
  if (file.allow_readonly !== undefined && typeof file.allow_readonly !== 'boolean') {
    fail('allow_readonly', 'true or false', file.allow_readonly)
  }

  file.expiration ??= DEFAULT_EXPIRATION
  try {
    if (typeof file.expiration !== 'string') throw new Error()
    parseLifetime(file.expiration)
  } catch {
    fail('expiration', `${NEVER} or a duration like 1d, 12h, 30m or 60s`, file.expiration)
  }

  file.secretKey ??= ''
  if (typeof file.secretKey !== 'string') fail('secretKey', 'a string', file.secretKey)

  file.users ??= []
  if (!Array.isArray(file.users)) fail('users', 'an array', file.users)
  const names = new Set<string>()
  file.users.forEach((user: unknown, i) => {
    const at = `users[${i}]`
    if (!isObject(user)) fail(at, 'an object {"username","type","password"}', user)
    if (typeof user.username !== 'string' || user.username === '') {
      fail(`${at}.username`, 'a non-empty string', user.username)
    }
    if (names.has(user.username)) fail(`${at}.username`, 'unique', user.username)
    names.add(user.username)
    if (!isUserType(user.type)) fail(`${at}.type`, `one of ${USER_TYPES.join(', ')}`, user.type)
    // signalk-server's OIDC users have no password: kept, they cannot log in with one.
    if (user.password !== undefined && typeof user.password !== 'string') {
      fail(`${at}.password`, 'a password hash (a string)', '(not a string)')
    }
  })

  if (file.devices !== undefined) {
    if (!Array.isArray(file.devices)) fail('devices', 'an array', file.devices)
    file.devices.forEach((device: unknown, i) => {
      const at = `devices[${i}]`
      if (!isObject(device)) fail(at, 'an object {"clientId","permissions"}', device)
      if (typeof device.clientId !== 'string' || device.clientId === '') {
        fail(`${at}.clientId`, 'a non-empty string', device.clientId)
      }
      if (!isUserType(device.permissions)) {
        fail(`${at}.permissions`, `one of ${USER_TYPES.join(', ')}`, device.permissions)
      }
      if (device.description !== undefined && typeof device.description !== 'string') {
        fail(`${at}.description`, 'a string', device.description)
      }
    })
  }

  if (file.acls !== undefined) checkAcls(file.acls, fail)
  return file as SecurityFile
}

/** Parses and checks the text of a security file (see {@link checkSecurityFile}). */
export function parseSecurityFile(text: string, where: string): SecurityFile {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new SecurityFileError(`${where} is not valid JSON: ${(err as Error).message}`)
  }
  return checkSecurityFile(value, where)
}

/**
 * The text of a security file: JSON with two-space indents and a final
 * newline. A signalk-server `allow_readonly` member follows `allowReadonly`,
 * so the file still means the same to signalk-server.
 */
export function formatSecurityFile(file: SecurityFile): string {
  const out: Record<string, unknown> = { ...file }
  if (out.allow_readonly !== undefined) out.allow_readonly = file.allowReadonly
  return `${JSON.stringify(out, null, 2)}\n`
}

/**
 * Writes `text` to `file` atomically with mode 0600: a reader (or a crash)
 * sees the old file or the new one, never a part. The temporary file is in
 * the same directory (a rename within one file system), is fsynced before
 * the rename, and the directory after it; it is removed on failure.
 */
export async function writeFileAtomically(file: string, text: string): Promise<void> {
  const dir = dirname(file)
  const temporary = join(
    dir,
    `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  )
  try {
    const handle = await open(temporary, 'wx', SECURITY_FILE_MODE)
    try {
      await handle.writeFile(text)
      await handle.chmod(SECURITY_FILE_MODE)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temporary, file)
  } catch (err) {
    await rm(temporary, { force: true })
    throw err
  }
  let directory: Awaited<ReturnType<typeof open>> | undefined
  try {
    directory = await open(dir, 'r')
    await directory.sync()
  } catch {
    // Some file systems (and Windows) cannot fsync a directory; the rename is still atomic.
  } finally {
    await directory?.close()
  }
}
