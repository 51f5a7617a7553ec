/**
 * keelson's security (SPEC §8) as one service: who a request or connection
 * acts for (its token, checked once; its view through the ACLs; its write
 * rights), login with a per-address limit, and the end of the streams of a
 * user who is removed or changes type. The security file (./store.ts) is
 * its source; with no users in it, the no-users rule holds (./principal.ts).
 */

import type { IncomingMessage } from 'node:http'
import type { Logger } from 'pino'
import { Errors, KeelsonError } from '../core/errors.js'
import { isObject, type JsonObject } from '../core/json.js'
import { getAt } from '../core/path.js'
import type { StateTree } from '../core/state-tree.js'
import { FULL_VIEW, type View } from '../core/view.js'
import type { Authorize } from '../core/write-port.js'
import type { WritePolicy } from '../http/guard.js'
import { clientHost, clientScheme, TRUST_NONE } from '../http/proxy.js'
import type { Streams } from '../stream/streams.js'
import { compileAcl, type Permissions } from './acl.js'
import { AclView } from './acl-view.js'
import { checkWrite } from './acl-write.js'
import { verifyPassword, verifyUnknownUser } from './passwords.js'
import { openPrincipal, type Principal, tokenOf } from './principal.js'
import type { RateLimiter } from './rate-limit.js'
import type { SecurityStore } from './store.js'
import { signToken, type TokenClaims, TokenVerifier } from './tokens.js'
import type { SecurityFile, UserType } from './types.js'

/** A successful login. */
export interface LoginResult {
  token: string
  /** Seconds the token lives; absent when it never expires. */
  timeToLive?: number
  principal: Principal
}

/** What `GET /skServer/loginStatus` answers, as signalk-server does. */
export interface LoginStatus {
  status: 'loggedIn' | 'notLoggedIn'
  readOnlyAccess: boolean
  authenticationRequired: boolean
  userLevel?: UserType
  username?: string
  securityWasEnabled?: boolean
}

/** Tokens whose principal is remembered (each is checked once, then until it expires). */
const MAX_REMEMBERED = 10_000

/** The security of one app. */
export class Security {
  private readonly verifier: TokenVerifier
  private readonly views = new Map<string, View>()
  private readonly principals = new Map<string, Principal>()
  private anonymous: Principal | undefined
  /** The password check running now; the next waits for it ({@link oneAtATime}). */
  private checking: Promise<unknown> = Promise.resolve()
  private readonly stopWatching: () => void

  constructor(
    readonly store: SecurityStore,
    private readonly tree: StateTree,
    private readonly policy: WritePolicy,
    /** Login (and access request) attempts per address. */
    readonly attempts: RateLimiter,
    private readonly streams: Streams,
    private readonly log: Logger,
  ) {
    this.verifier = new TokenVerifier(store.current.secretKey)
    this.stopWatching = store.onChange((before, after) => this.changed(before, after))
  }

  /** True when the security file has users or devices: logins count, the no-users rule is off. */
  get enabled(): boolean {
    const file = this.store.current
    return file.users.length > 0 || (file.devices?.length ?? 0) > 0
  }

  /**
   * Who `req` acts for: its token's user or device, an anonymous reader, or
   * (no users) the no-users rule. Synchronous unless a token needs checking.
   * Throws (or rejects with) 401 for a forged, expired or orphaned token, or
   * when anonymous reads are off.
   */
  readonly principalOf = (req: IncomingMessage): Principal | Promise<Principal> => {
    const carried = tokenOf(req)
    if (carried === undefined) {
      if (!this.enabled) return openPrincipal(req, this.policy)
      if (!this.store.current.allowReadonly) {
        throw new KeelsonError(
          Errors.UNAUTHORIZED,
          'This server allows no anonymous access: log in',
        )
      }
      this.anonymous ??= this.build({}, undefined)
      return this.anonymous
    }
    const known = this.principals.get(carried.token)
    if (known !== undefined && (known.expiresAt === undefined || known.expiresAt > Date.now())) {
      return this.crossSite(req, carried.from, known)
    }
    return this.verifier.verify(carried.token).then((claims) => {
      const principal = this.fromClaims(claims)
      if (this.principals.size >= MAX_REMEMBERED) this.principals.clear()
      this.principals.set(carried.token, principal)
      return this.crossSite(req, carried.from, principal)
    })
  }

  /**
   * Checks a user name and password and signs a token (SPEC §8). Unknown
   * users cost the same time as wrong passwords; attempts from one address
   * are limited (429). Only failed attempts count against the limit.
   */
  async login(username: string, password: string, address: string): Promise<LoginResult> {
    const attempt = this.attempts.hit(address)
    if (!attempt.allowed) {
      throw new KeelsonError(
        Errors.TOO_MANY_ATTEMPTS,
        `Too many login attempts; retry in ${attempt.retryAfterS} s`,
        attempt.retryAfterS,
      )
    }
    const file = this.store.current
    const user = file.users.find((u) => u.username === username)
    const ok = await this.oneAtATime(() =>
      user !== undefined && typeof user.password === 'string'
        ? verifyPassword(password, user.password)
        : verifyUnknownUser(password, file.users[0]?.password),
    )
    if (!ok || user === undefined) {
      this.log.info({ username: username.slice(0, 64), address }, 'login failed')
      throw new KeelsonError(Errors.LOGIN_FAILED)
    }
    this.attempts.refund(address)
    const { token, timeToLive } = await signToken(file.secretKey, { id: username }, file.expiration)
    const principal = this.build({ name: username, type: user.type }, this.expiryOf(timeToLive))
    this.log.info({ username }, 'logged in')
    return { token, ...(timeToLive !== undefined && { timeToLive }), principal }
  }

  /**
   * Runs password checks one at a time. scrypt runs on libuv's pool, off the
   * event loop, but a flood of them on every pool thread would take every
   * core from the event loop too (bench login: p99 loop lag 54 ms with four
   * at once on 2 cores, 19 ms with one).
   */
  private oneAtATime<T>(check: () => Promise<T>): Promise<T> {
    const run = this.checking.then(check, check)
    this.checking = run.then(
      () => undefined,
      () => undefined,
    )
    return run
  }

  /** `GET /skServer/loginStatus` for `req`, as signalk-server answers it. */
  async loginStatus(req: IncomingMessage): Promise<LoginStatus> {
    const file = this.store.current
    if (!this.enabled) {
      return { status: 'notLoggedIn', readOnlyAccess: false, authenticationRequired: false }
    }
    const base = { readOnlyAccess: file.allowReadonly, authenticationRequired: true }
    if (tokenOf(req) === undefined) return { status: 'notLoggedIn', ...base }
    try {
      const who = await this.principalOf(req)
      if (who.name === undefined) return { status: 'notLoggedIn', ...base }
      return {
        status: 'loggedIn',
        ...base,
        ...(who.type !== undefined && { userLevel: who.type }),
        username: who.name,
        securityWasEnabled: true,
      }
    } catch {
      return { status: 'notLoggedIn', ...base }
    }
  }

  /** Stops watching the security file. */
  close(): void {
    this.stopWatching()
  }

  /**
   * The principal of the user or device `name` as a token of theirs would
   * give it (no expiry), or undefined when no such user or device exists:
   * for a server-side grant made to that subject, such as a unit token
   * (src/telemetry), checked again each time it is used.
   */
  principalFor(name: string): Principal | undefined {
    const user = this.store.findUser(name)
    if (user !== undefined) return this.build({ name: user.username, type: user.type }, undefined)
    const device = this.store.findDevice(name)
    if (device !== undefined)
      return this.build({ name: device.clientId, type: device.permissions }, undefined)
    return undefined
  }

  private fromClaims(claims: Readonly<TokenClaims>): Principal {
    const expiresAt = claims.exp === undefined ? undefined : claims.exp * 1000
    if (claims.id !== undefined) {
      const user = this.store.findUser(claims.id)
      if (user === undefined) {
        throw new KeelsonError(
          Errors.UNAUTHORIZED,
          'The user of this token no longer exists: log in again',
        )
      }
      return this.build({ name: user.username, type: user.type }, expiresAt)
    }
    const device = claims.device === undefined ? undefined : this.store.findDevice(claims.device)
    if (device === undefined) {
      throw new KeelsonError(Errors.UNAUTHORIZED, 'The device of this token is no longer approved')
    }
    return this.build({ name: device.clientId, type: device.permissions }, expiresAt)
  }

  /** The principal of a subject: its permissions compiled once, its view shared by its class. */
  private build(
    subject: { name?: string; type?: UserType },
    expiresAt: number | undefined,
  ): Principal {
    const permissions = compileAcl(this.store.current.acls, subject, this.tree.selfKey)
    const writes = subject.type === 'readwrite' || subject.type === 'admin'
    return {
      ...(subject.name !== undefined && { name: subject.name }),
      ...(subject.type !== undefined && { type: subject.type }),
      view: this.viewOf(permissions),
      ...(!writes && {
        writeRefusal:
          subject.type === undefined
            ? new KeelsonError(Errors.UNAUTHORIZED, 'Log in to write')
            : new KeelsonError(Errors.FORBIDDEN, `A ${subject.type} user does not write`),
      }),
      ...(writes && !permissions.writesAll && { authorize: this.authorizer(permissions) }),
      // As signalk-server's shouldAllowPut: the `put` permission of the path, its source unknown.
      ...(writes &&
        !permissions.writesAll && {
          mayPut: (keys: readonly string[]) => permissions.canPut(keys),
        }),
      ...(expiresAt !== undefined && { expiresAt }),
    }
  }

  private viewOf(permissions: Permissions): View {
    if (permissions.readsAll) return FULL_VIEW
    let view = this.views.get(permissions.key)
    if (view === undefined) {
      const tree = this.tree
      view = new AclView(permissions, (segments) => getAt(tree.get(ROOT), segments))
      this.views.set(permissions.key, view)
    }
    return view
  }

  /** The per-path check of writes (SPEC §8: refused whole, 403 naming the path). */
  private authorizer(permissions: Permissions): Authorize {
    return (patch, operation) => {
      // A delta's bookkeeping of its source under the root `sources` is not the writer's choice.
      let checked: JsonObject = patch
      if (operation.kind === 'delta' && isObject(patch.sources)) {
        const { sources: _sources, ...rest } = patch
        checked = rest
      }
      const refused = checkWrite(permissions, checked, this.tree.get(ROOT))
      if (refused !== undefined) {
        throw new KeelsonError(Errors.FORBIDDEN, `You may not write ${refused.join('.')}`)
      }
    }
  }

  /**
   * A token from the cookie on a request from a foreign page: the browser
   * sent the cookie, the user did not mean to write (CSRF). It reads, and
   * writes only from this server's own pages or `--cors-origin`s.
   */
  private crossSite(req: IncomingMessage, from: string, principal: Principal): Principal {
    if (from !== 'cookie' || principal.writeRefusal !== undefined) return principal
    const origin = req.headers.origin
    if (origin === undefined || this.policy.corsOrigins.includes(origin)) return principal
    // keelson's own page, reached directly or through a trusted proxy (the scheme and host the
    // proxy forwards, --trust-proxy).
    const trust = this.policy.proxyTrust ?? TRUST_NONE
    if (origin === `${clientScheme(req, trust)}://${clientHost(req, trust)}`) return principal
    return {
      ...principal,
      writeRefusal: new KeelsonError(
        Errors.CORS_ORIGIN,
        `Writes from origin ${origin} are not allowed`,
      ),
    }
  }

  private expiryOf(timeToLive: number | undefined): number | undefined {
    return timeToLive === undefined ? undefined : Date.now() + timeToLive * 1000
  }

  /** The security file changed: forget what was derived from it, end what it no longer allows. */
  private changed(before: SecurityFile, after: SecurityFile): void {
    this.verifier.secretKey = after.secretKey
    this.principals.clear()
    this.views.clear()
    this.anonymous = undefined
    const everything =
      before.secretKey !== after.secretKey ||
      JSON.stringify(before.acls ?? []) !== JSON.stringify(after.acls ?? []) ||
      before.allowReadonly !== after.allowReadonly ||
      hasUsers(before) !== hasUsers(after)
    const typeOf = (file: SecurityFile): Map<string, string> =>
      new Map([
        ...file.users.map((u) => [u.username, u.type] as const),
        ...(file.devices ?? []).map((d) => [d.clientId, d.permissions] as const),
      ])
    const was = typeOf(before)
    const now = typeOf(after)
    let ended = 0
    for (const [name, type] of was) {
      if (everything || now.get(name) !== type) ended += this.streams.endFor(name)
    }
    if (everything) ended += this.streams.endFor(undefined)
    if (ended > 0)
      this.log.info({ ended }, 'security file changed: streams it no longer allows ended')
  }
}

const ROOT = { segments: [] as string[], starAt: -1 }

function hasUsers(file: SecurityFile): boolean {
  return file.users.length > 0 || (file.devices?.length ?? 0) > 0
}
