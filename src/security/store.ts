/**
 * The security file of a running keelson or of a `keelson user|access`
 * command (SPEC §8): users, devices, ACLs, the token secret and pending
 * access requests, in signalk-server's `security.json` shape.
 *
 * - Created on first start with a fresh secret (src/security/security-file.ts).
 * - Every change re-reads the file first (another process may have changed
 *   it), then goes through the one atomic writer, mode 0600.
 * - Changes by other processes (`keelson user add` while the server runs, an
 *   editor) are picked up by polling the file, within
 *   {@link DEFAULT_POLL_MS} plus a read; a file that does not check keeps the
 *   old content (logged with the reason). Listeners hear every change once,
 *   with the content before and after, so the server can end the streams of
 *   a removed user.
 *
 * `current` is deeply frozen: read it, change it only through the methods.
 */
import { randomUUID } from 'node:crypto'
import { type Stats, unwatchFile, watchFile } from 'node:fs'
import { chmod, mkdir, readFile, stat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import type { Logger } from 'pino'
import { Errors, KeelsonError } from '../core/errors.js'
import { stateDir as defaultStateDir } from '../identity.js'
import {
  type AccessRequestInput,
  type AccessRequestRecord,
  addAccessRequest,
  answerAccessRequest,
  checkAccessRequests,
  findAccessRequest,
  liveAccessRequests,
} from './access-requests.js'
import { hashPassword } from './passwords.js'
import {
  formatSecurityFile,
  isUserType,
  newSecurityFile,
  parseSecurityFile,
  SECURITY_FILE_MODE,
  SecurityFileError,
  writeFileAtomically,
} from './security-file.js'
import { signToken } from './tokens.js'
import type { SecurityDevice, SecurityFile, SecurityUser, UserType } from './types.js'

/** The security file's name in the state directory. */
export const SECURITY_FILE_NAME = 'security.json'

/** How often the file is polled for changes made by other processes, ms. */
export const DEFAULT_POLL_MS = 1000

/** Longest password accepted, characters (scrypt takes any length; this bounds the work). */
const MAX_PASSWORD = 1024

/** A user's name: letters, digits and `. _ @ + -`, starting with a letter or digit. */
const USERNAME = /^[\p{L}\p{N}][\p{L}\p{N}._@+-]{0,63}$/u

/** Names that mean someone else in signalk-server: every reader (`any`), the anonymous reader (`AUTO`). */
const RESERVED_NAMES = new Set(['any', 'auto'])

/** Options of {@link SecurityStore.open}. */
export interface SecurityStoreOptions {
  /** How often to poll the file for changes by other processes, ms. Default {@link DEFAULT_POLL_MS}. */
  pollMs?: number
  /** Watch the file for changes by other processes; a one-shot command does not. Default true. */
  watch?: boolean
}

/** Hears a change of the security file: the content before and after (both frozen). */
export type SecurityChangeListener = (before: SecurityFile, after: SecurityFile) => void

/**
 * Where the security file is: `securityFile` (`--security FILE`) when set,
 * else `security.json` in `stateDir` (`--state-dir DIR`), else in the
 * default state directory of src/identity.ts.
 */
export function securityFilePath(
  options: { securityFile?: string | undefined; stateDir?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (options.securityFile) return resolve(options.securityFile)
  return resolve(join(options.stateDir || defaultStateDir(env), SECURITY_FILE_NAME))
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const member of Object.values(value)) deepFreeze(member)
  }
  return value
}

function badUser(detail: string): KeelsonError {
  return new KeelsonError(Errors.BAD_USER, detail)
}

function checkPassword(password: string): void {
  if (typeof password !== 'string' || password === '')
    throw badUser('The password must not be empty')
  if (password.length > MAX_PASSWORD) {
    throw badUser(`The password must be at most ${MAX_PASSWORD} characters`)
  }
}

function checkType(type: string): asserts type is UserType {
  if (!isUserType(type))
    throw badUser(`The type must be readonly, readwrite or admin, got "${type}"`)
}

/** The security file, loaded, watched and changed atomically. */
export class SecurityStore {
  /** The file's absolute path. */
  readonly file: string
  readonly #log: Logger
  #current: SecurityFile
  /** The text last read or written, to tell our own writes and touches from changes. */
  #text: string
  /** The last bad text logged, so a bad file is logged once, not every poll. */
  #badText: string | undefined
  #queue: Promise<unknown> = Promise.resolve()
  readonly #listeners = new Set<SecurityChangeListener>()
  #watching = false

  private constructor(file: string, log: Logger, current: SecurityFile, text: string) {
    this.file = file
    this.#log = log
    this.#current = deepFreeze(current)
    this.#text = text
  }

  /**
   * Loads the security file at `file` (see {@link securityFilePath}),
   * creating it (and its directory, mode 0700) with a new secret when it
   * does not exist, tightening a file readable by others to 0600 (with a
   * warning), and generating a secret for a file that has none. Throws
   * {@link SecurityFileError} for a file that does not check.
   */
  static async open(
    file: string,
    log: Logger,
    options: SecurityStoreOptions = {},
  ): Promise<SecurityStore> {
    file = resolve(file)
    await mkdir(dirname(file), { recursive: true, mode: 0o700 })
    let text: string | undefined
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new SecurityFileError(`cannot read ${file}: ${(err as Error).message}`)
      }
    }
    let store: SecurityStore
    if (text === undefined) {
      const created = newSecurityFile()
      const createdText = formatSecurityFile(created)
      await writeFileAtomically(file, createdText)
      log.info({ file }, 'created the security file with a new token secret and no users')
      store = new SecurityStore(file, log, created, createdText)
    } else {
      const mode = (await stat(file)).mode & 0o777
      if (mode & 0o077) {
        await chmod(file, SECURITY_FILE_MODE)
        log.warn(
          { file, mode: mode.toString(8) },
          'the security file was readable by others; its mode is now 0600',
        )
      }
      const loaded = parseSecurityFile(text, file)
      checkAccessRequests(loaded, file)
      store = new SecurityStore(file, log, loaded, text)
      if (loaded.secretKey === '') {
        await store.#update((draft) => {
          draft.secretKey = newSecurityFile().secretKey
        })
        log.info({ file }, 'the security file had no token secret; generated one')
      }
    }
    if (options.watch !== false) store.#watch(options.pollMs ?? DEFAULT_POLL_MS)
    return store
  }

  /** The file's content now (deeply frozen). */
  get current(): SecurityFile {
    return this.#current
  }

  /** Calls `listener` after every change, ours or another process's; returns a function that stops it. */
  onChange(listener: SecurityChangeListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * Reads the file again now; true when its content changed. A file that
   * does not check (or is gone) keeps the current content and is logged.
   */
  reload(): Promise<boolean> {
    return this.#enqueue(() => this.#reload(false))
  }

  /** Stops watching the file. */
  close(): void {
    if (this.#watching) unwatchFile(this.file, this.#onStat)
    this.#watching = false
  }

  /** The user of this name. */
  findUser(username: string): SecurityUser | undefined {
    return this.#current.users.find((user) => user.username === username)
  }

  /** The approved device of this clientId. */
  findDevice(clientId: string): SecurityDevice | undefined {
    return this.#current.devices?.find((device) => device.clientId === clientId)
  }

  /**
   * Adds a user with a scrypt hash of `password`. Throws a
   * {@link KeelsonError}: BAD_USER for a bad name (see the table), type or
   * an empty password; USER_EXISTS when a user or device has the name.
   */
  async addUser(username: string, type: UserType, password: string): Promise<void> {
    if (typeof username !== 'string' || !USERNAME.test(username)) {
      throw badUser(
        `"${username}" is not a user name: use 1 to 64 letters, digits and . _ @ + -, starting with a letter or digit`,
      )
    }
    if (RESERVED_NAMES.has(username.toLowerCase())) {
      throw badUser(`"${username}" is reserved (it means every reader in ACLs); pick another name`)
    }
    checkType(type)
    checkPassword(password)
    const hash = await hashPassword(password)
    await this.#update((draft) => {
      if (draft.users.some((user) => user.username === username)) {
        throw new KeelsonError(Errors.USER_EXISTS, `The user "${username}" exists already`)
      }
      if (draft.devices?.some((device) => device.clientId === username)) {
        throw new KeelsonError(Errors.USER_EXISTS, `An approved device is called "${username}"`)
      }
      draft.users.push({ username, type, password: hash })
    })
  }

  /** Removes a user; its tokens stop working. Throws a {@link KeelsonError} USER_NOT_FOUND. */
  async removeUser(username: string): Promise<void> {
    await this.#update((draft) => {
      const index = draft.users.findIndex((user) => user.username === username)
      if (index < 0)
        throw new KeelsonError(Errors.USER_NOT_FOUND, `No user is called "${username}"`)
      draft.users.splice(index, 1)
    })
  }

  /** Changes a user's type. Throws a {@link KeelsonError} BAD_USER or USER_NOT_FOUND. */
  async setUserType(username: string, type: UserType): Promise<void> {
    checkType(type)
    await this.#update((draft) => {
      const user = draft.users.find((u) => u.username === username)
      if (!user) throw new KeelsonError(Errors.USER_NOT_FOUND, `No user is called "${username}"`)
      user.type = type
    })
  }

  /** Sets a user's password (a new scrypt hash). Throws a {@link KeelsonError} BAD_USER or USER_NOT_FOUND. */
  async setPassword(username: string, password: string): Promise<void> {
    checkPassword(password)
    const hash = await hashPassword(password)
    await this.#update((draft) => {
      const user = draft.users.find((u) => u.username === username)
      if (!user) throw new KeelsonError(Errors.USER_NOT_FOUND, `No user is called "${username}"`)
      user.password = hash
    })
  }

  /** Removes an approved device; its tokens stop working. False when there was none. */
  removeDevice(clientId: string): Promise<boolean> {
    return this.#update((draft) => {
      const before = draft.devices?.length ?? 0
      draft.devices = (draft.devices ?? []).filter((device) => device.clientId !== clientId)
      return draft.devices.length < before
    })
  }

  /**
   * Records a device's access request (read the body with
   * `readAccessRequestInput`) and returns it, PENDING with a new requestId.
   * Throws a {@link KeelsonError} ACCESS_REQUEST_PENDING or BAD_ACCESS_REQUEST.
   */
  requestAccess(input: AccessRequestInput, ip?: string): Promise<AccessRequestRecord> {
    return this.#update((draft) => addAccessRequest(draft, input, randomUUID(), Date.now(), ip))
  }

  /** The request of this requestId (or pending request of this clientId), while it is kept. */
  accessRequest(id: string): AccessRequestRecord | undefined {
    return findAccessRequest(this.#current, id, Date.now())
  }

  /** The requests waiting for an admin, oldest first. */
  pendingAccessRequests(): AccessRequestRecord[] {
    return liveAccessRequests(this.#current, Date.now()).filter((r) => r.state === 'PENDING')
  }

  /**
   * Approves a pending request (by requestId or clientId): the device joins
   * `devices` as `type` (default what it asked for, else `readonly`) and the
   * request gets a device token expiring after `expiration` (default the
   * file's). Throws a {@link KeelsonError} ACCESS_REQUEST_NOT_FOUND when no
   * such request is pending, BAD_ACCESS_REQUEST when a user has its clientId.
   */
  approveAccessRequest(
    id: string,
    type?: UserType,
    expiration?: string,
  ): Promise<AccessRequestRecord> {
    if (type !== undefined) checkType(type)
    return this.#update(async (draft) => {
      const now = Date.now()
      const request = this.#pending(draft, id, now)
      if (draft.users.some((user) => user.username === request.clientId)) {
        throw new KeelsonError(
          Errors.BAD_ACCESS_REQUEST,
          `A user is called "${request.clientId}"; deny this request`,
        )
      }
      const granted = type ?? request.permissions ?? 'readonly'
      const { token, timeToLive } = await signToken(
        draft.secretKey,
        { device: request.clientId },
        expiration ?? draft.expiration,
      )
      return answerAccessRequest(
        draft,
        request,
        { approved: true, type: granted, token, ...(timeToLive !== undefined && { timeToLive }) },
        now,
      )
    })
  }

  /** Denies a pending request (by requestId or clientId). Throws a {@link KeelsonError} ACCESS_REQUEST_NOT_FOUND. */
  denyAccessRequest(id: string): Promise<AccessRequestRecord> {
    return this.#update((draft) => {
      const now = Date.now()
      return answerAccessRequest(draft, this.#pending(draft, id, now), { approved: false }, now)
    })
  }

  #pending(file: SecurityFile, id: string, now: number): AccessRequestRecord {
    const request = findAccessRequest(file, id, now)
    if (request?.state === 'PENDING') return request
    throw new KeelsonError(
      Errors.ACCESS_REQUEST_NOT_FOUND,
      request ? `The request "${id}" was answered already` : `No pending access request "${id}"`,
    )
  }

  /** Runs `job` after every earlier reload and change of this store. */
  #enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(job, job)
    this.#queue = run.catch(() => undefined)
    return run
  }

  /**
   * Re-reads the file (another process may have changed it), applies
   * `mutate` to a copy, checks the result and writes it atomically. A file
   * on disk that does not check is not overwritten: the change throws
   * {@link SecurityFileError} until it is fixed.
   */
  #update<T>(mutate: (draft: SecurityFile) => T | Promise<T>): Promise<T> {
    return this.#enqueue(async () => {
      await this.#reload(true)
      const draft = structuredClone(this.#current)
      const result = await mutate(draft)
      const text = formatSecurityFile(draft)
      const checked = parseSecurityFile(text, this.file)
      checkAccessRequests(checked, this.file)
      await writeFileAtomically(this.file, text)
      this.#text = text
      this.#badText = undefined
      this.#set(checked)
      return result
    })
  }

  async #reload(strict: boolean): Promise<boolean> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT'
      // A change rewrites a missing file from what is in memory.
      if (strict && missing) return false
      const reason = missing ? 'the file is gone' : (err as Error).message
      if (this.#badText !== reason) {
        this.#log.warn(
          { file: this.file, reason },
          'cannot read the security file; keeping its last content',
        )
      }
      this.#badText = reason
      if (strict) throw new SecurityFileError(`cannot read ${this.file}: ${reason}`)
      return false
    }
    if (text === this.#text) return false
    let next: SecurityFile
    try {
      next = parseSecurityFile(text, this.file)
      checkAccessRequests(next, this.file)
      if (next.secretKey === '') {
        throw new SecurityFileError(`${this.file}: "secretKey" must be a non-empty string`)
      }
    } catch (err) {
      if (this.#badText !== text) {
        this.#log.warn(
          { file: this.file, reason: (err as Error).message },
          'the security file was changed but does not check; keeping its last content',
        )
      }
      this.#badText = text
      if (strict) {
        throw new SecurityFileError(`${(err as Error).message} (fix the file before changing it)`)
      }
      return false
    }
    this.#text = text
    this.#badText = undefined
    this.#log.info({ file: this.file }, 'reloaded the security file')
    this.#set(next)
    return true
  }

  #set(next: SecurityFile): void {
    const before = this.#current
    const after = deepFreeze(next)
    this.#current = after
    for (const listener of this.#listeners) {
      try {
        listener(before, after)
      } catch (err) {
        this.#log.error({ err }, 'a listener of the security file failed')
      }
    }
  }

  #watch(pollMs: number): void {
    watchFile(this.file, { interval: pollMs, persistent: false }, this.#onStat)
    this.#watching = true
  }

  readonly #onStat = (curr: Stats, prev: Stats): void => {
    if (curr.mtimeMs === prev.mtimeMs && curr.ino === prev.ino && curr.size === prev.size) return
    this.reload().catch((err: unknown) => {
      this.#log.error({ err, file: this.file }, 'cannot reload the security file')
    })
  }
}
