/**
 * The HTTP endpoints of security, in signalk-server's shapes (SPEC §8):
 * login, logout, login status, and device access requests with their
 * approval by an admin.
 *
 * @see https://signalk.org/specification/1.7.0/doc/security.html
 * @see https://signalk.org/specification/1.7.0/doc/access_requests.html
 */
import type { IncomingMessage } from 'node:http'
import express, { type Request, type Response, type Router } from 'express'
import { Errors, KeelsonError } from '../core/errors.js'
import { isObject } from '../core/json.js'
import { readJsonBody } from '../http/body.js'
import { clientAddress, clientScheme, type ProxyTrust, TRUST_NONE } from '../http/proxy.js'
import { accessRequestReply, readAccessRequestInput } from './access-requests.js'
import { TOKEN_COOKIE } from './principal.js'
import type { Security } from './security.js'
import { cookieMaxAgeMs } from './tokens.js'
import type { UserType } from './types.js'

/** Limits of the bodies these endpoints read. */
export interface SecurityRouteOptions {
  maxBodyBytes: number
  maxDepth: number
  /** Which peers are trusted proxies (src/http/proxy.ts): the client's address and scheme behind them. */
  proxyTrust?: ProxyTrust
}

const JSON_BODY = ['application/json']
const TYPES: readonly string[] = ['readonly', 'readwrite', 'admin']

/**
 * `loginStatus` for a server with no security file at all (SPEC §11: apps
 * call it everywhere): nobody needs to log in.
 */
export const OPEN_LOGIN_STATUS = Object.freeze({
  status: 'notLoggedIn',
  readOnlyAccess: false,
  authenticationRequired: false,
})

/** The security endpoints of `security`. */
export function securityRouter(security: Security, options: SecurityRouteOptions): Router {
  const trust = options.proxyTrust ?? TRUST_NONE
  const router = express.Router()
  const body = (req: IncomingMessage) =>
    readJsonBody(req, {
      types: JSON_BODY,
      limit: Math.min(options.maxBodyBytes, 64 * 1024),
      maxDepth: options.maxDepth,
      allowNullMembers: true,
    })

  router.post('/signalk/v1/auth/login', async (req, res) => {
    const input = await body(req)
    if (
      !isObject(input) ||
      typeof input.username !== 'string' ||
      typeof input.password !== 'string'
    ) {
      throw new KeelsonError(Errors.BAD_JSON, 'Send {"username","password"} as strings')
    }
    const address = clientAddress(req, trust) ?? ''
    const { token, timeToLive } = await security.login(input.username, input.password, address)
    const maxAge = cookieMaxAgeMs(security.store.current.expiration, input.rememberMe === true)
    res.setHeader('Set-Cookie', cookie(req, trust, token, maxAge))
    res.json(timeToLive === undefined ? { token } : { token, timeToLive })
  })

  const logout = (req: Request, res: Response) => {
    res.setHeader('Set-Cookie', cookie(req, trust, '', 0))
    res.json({ status: 'loggedOut' })
  }
  router.put('/signalk/v1/auth/logout', logout)
  router.post('/signalk/v1/auth/logout', logout)

  router.get('/skServer/loginStatus', async (req, res) => {
    res.set('Cache-Control', 'no-store').json(await security.loginStatus(req))
  })

  router.post('/signalk/v1/access/requests', async (req, res) => {
    const address = clientAddress(req, trust) ?? ''
    const attempt = security.attempts.hit(`access:${address}`)
    if (!attempt.allowed) {
      throw new KeelsonError(
        Errors.TOO_MANY_ATTEMPTS,
        'Too many access requests from this address',
        attempt.retryAfterS,
      )
    }
    const input = readAccessRequestInput(await body(req))
    const record = await security.store.requestAccess(input, address)
    const reply = accessRequestReply(record)
    res.status(reply.statusCode).json(reply)
  })

  router.get('/signalk/v1/requests/:id', (req, res) => {
    const id = String(req.params.id)
    const record = security.store.accessRequest(id)
    // Only by requestId: the store also finds a pending request by its clientId (for admins), which
    // would hand the requestId, and after approval the token, to whoever knows a device's id.
    if (record === undefined || record.requestId !== id) {
      throw new KeelsonError(Errors.ACCESS_REQUEST_NOT_FOUND, `No request ${id.slice(0, 80)}`)
    }
    const reply = accessRequestReply(record)
    res.status(reply.statusCode).json(reply)
  })

  router.put('/skServer/security/access/requests/:id/:answer', async (req, res) => {
    const who = await security.principalOf(req)
    if (who.type !== 'admin')
      throw new KeelsonError(Errors.FORBIDDEN, 'Only an admin answers access requests')
    // An answer is a write: an admin's cookie sent by a foreign page (CSRF) does not answer.
    if (who.writeRefusal !== undefined) throw who.writeRefusal
    const id = String(req.params.id)
    const answer = String(req.params.answer)
    if (answer !== 'approved' && answer !== 'denied') {
      throw new KeelsonError(Errors.NOT_FOUND, 'Answer a request with /approved or /denied')
    }
    let type: UserType | undefined
    let expiration: string | undefined
    if (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') {
      const input = await body(req)
      if (isObject(input)) {
        if (typeof input.permissions === 'string' && TYPES.includes(input.permissions)) {
          type = input.permissions as UserType
        }
        const config = input.config
        if (isObject(config) && typeof config.expiration === 'string')
          expiration = config.expiration
      }
    }
    const record =
      answer === 'approved'
        ? await security.store.approveAccessRequest(id, type, expiration)
        : await security.store.denyAccessRequest(id)
    res.json(accessRequestReply(record))
  })

  return router
}

/**
 * The token cookie: HttpOnly, SameSite=Strict, Secure over TLS (a trusted
 * proxy's TLS too); `maxAgeMs` 0 clears it.
 */
function cookie(
  req: IncomingMessage,
  trust: ProxyTrust,
  token: string,
  maxAgeMs: number | undefined,
): string {
  const parts = [
    `${TOKEN_COOKIE}=${encodeURIComponent(token)}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
  ]
  if (maxAgeMs !== undefined) parts.push(`Max-Age=${Math.floor(maxAgeMs / 1000)}`)
  if (clientScheme(req, trust) === 'https') parts.push('Secure')
  return parts.join('; ')
}
