/**
 * Device access requests (SPEC §8, Signal K's "Access Requests"): a device
 * asks with `{"clientId","description","permissions"?}`, an admin approves
 * or denies it, by REST or with `keelson access approve|deny ID` in another
 * process, and the device polls its request until it is COMPLETED with its
 * token. So requests live in the security file, in an `accessRequests`
 * member (signalk-server keeps them in memory and keeps unknown members of
 * the file), at most {@link MAX_ACCESS_REQUESTS}, each kept
 * {@link ACCESS_REQUEST_TTL_MS} after it was made or answered.
 *
 * These functions work on a draft of the file; src/security/store.ts writes it.
 *
 * @see https://signalk.org/specification/1.7.0/doc/access_requests.html
 */
import { Errors, KeelsonError } from '../core/errors.js'
import { type Fail, failIn, isUserType, USER_TYPES } from './security-file.js'
import type { SecurityFile, UserType } from './types.js'

/** Requests kept at most, pending and answered; the oldest is dropped first. */
export const MAX_ACCESS_REQUESTS = 100

/** How long a request is kept after it was made (pending) or answered (with its token), ms: 1 h. */
export const ACCESS_REQUEST_TTL_MS = 3_600_000

/** Longest clientId and description accepted, characters. */
const MAX_CLIENT_ID = 128
const MAX_DESCRIPTION = 256

/** One access request, as the `accessRequests` member of the security file keeps it. */
export interface AccessRequestRecord {
  /** A random UUID: the device polls `/signalk/v1/requests/<requestId>`. */
  requestId: string
  /** The device's id: its ACL subject and the `device` claim of its token. */
  clientId: string
  /** What the device says it is, for the admin. */
  description: string
  /** The type the device asked for, if it asked. */
  permissions?: UserType
  state: 'PENDING' | 'COMPLETED'
  /** The answer, once COMPLETED. */
  permission?: 'APPROVED' | 'DENIED'
  /** The type granted, when approved. */
  granted?: UserType
  /** The device's token, when approved; the device fetches it by polling. */
  token?: string
  /** When the token expires (ISO 8601); absent for a token that never expires. */
  expirationTime?: string
  /** The address the request came from, for the admin. */
  ip?: string
  /** When it was made (ISO 8601). */
  requestedAt: string
  /** When it was answered (ISO 8601). */
  completedAt?: string
}

/** What a device sends to ask for access. */
export interface AccessRequestInput {
  clientId: string
  description: string
  permissions?: UserType
}

/** The answer to a device polling its request, in Signal K's shape (the body of 202 or 200). */
export interface AccessRequestReply {
  state: 'PENDING' | 'COMPLETED'
  requestId: string
  statusCode: 202 | 200
  /** Where to poll, while PENDING. */
  href?: string
  accessRequest?: {
    permission: 'APPROVED' | 'DENIED'
    token?: string
    expirationTime?: string
  }
}

const CONTROL = /\p{Cc}/u

/**
 * Reads the body of `POST /signalk/v1/access/requests`. Throws a
 * {@link KeelsonError} BAD_ACCESS_REQUEST (400) saying what is wrong.
 */
export function readAccessRequestInput(body: unknown): AccessRequestInput {
  const bad = (detail: string) => new KeelsonError(Errors.BAD_ACCESS_REQUEST, detail)
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw bad('The access request must be a JSON object {"clientId","description","permissions"}')
  }
  const { clientId, description, permissions } = body as Record<string, unknown>
  if (
    typeof clientId !== 'string' ||
    clientId === '' ||
    clientId.length > MAX_CLIENT_ID ||
    CONTROL.test(clientId)
  ) {
    throw bad(
      `"clientId" must be a string of 1 to ${MAX_CLIENT_ID} characters without control characters`,
    )
  }
  if (
    typeof description !== 'string' ||
    description.length > MAX_DESCRIPTION ||
    CONTROL.test(description)
  ) {
    throw bad(
      `"description" must be a string of at most ${MAX_DESCRIPTION} characters without control characters`,
    )
  }
  if (permissions !== undefined && !isUserType(permissions)) {
    throw bad(`"permissions" must be one of ${USER_TYPES.join(', ')} when given`)
  }
  return permissions === undefined
    ? { clientId, description }
    : { clientId, description, permissions }
}

/** The requests of a file still kept at `now` (ms since the epoch), oldest first. */
export function liveAccessRequests(file: SecurityFile, now: number): AccessRequestRecord[] {
  const all = (file.accessRequests ?? []) as AccessRequestRecord[]
  return all.filter(
    (request) =>
      Date.parse(request.completedAt ?? request.requestedAt) + ACCESS_REQUEST_TTL_MS > now,
  )
}

/**
 * The request `id` names at `now`: its requestId, or the clientId of a
 * pending request (signalk-server's admin routes name the device).
 */
export function findAccessRequest(
  file: SecurityFile,
  id: string,
  now: number,
): AccessRequestRecord | undefined {
  const live = liveAccessRequests(file, now)
  return (
    live.find((request) => request.requestId === id) ??
    live.find((request) => request.state === 'PENDING' && request.clientId === id)
  )
}

/**
 * Adds a pending request to the draft `file` (dropping expired ones and, past
 * {@link MAX_ACCESS_REQUESTS}, the oldest) and returns it. Throws a
 * {@link KeelsonError}: ACCESS_REQUEST_PENDING (409) when this clientId
 * already waits for an answer, BAD_ACCESS_REQUEST (400) when a user has
 * that name (the two would share ACL entries).
 */
export function addAccessRequest(
  file: SecurityFile,
  input: AccessRequestInput,
  requestId: string,
  now: number,
  ip?: string,
): AccessRequestRecord {
  const live = liveAccessRequests(file, now)
  if (live.some((request) => request.state === 'PENDING' && request.clientId === input.clientId)) {
    throw new KeelsonError(Errors.ACCESS_REQUEST_PENDING)
  }
  if (file.users.some((user) => user.username === input.clientId)) {
    throw new KeelsonError(
      Errors.BAD_ACCESS_REQUEST,
      `"clientId" "${input.clientId}" is the name of a user; pick another one`,
    )
  }
  const request: AccessRequestRecord = {
    requestId,
    ...input,
    state: 'PENDING',
    ...(ip !== undefined && { ip }),
    requestedAt: new Date(now).toISOString(),
  }
  live.push(request)
  file.accessRequests = live.slice(-MAX_ACCESS_REQUESTS)
  return request
}

/** How an admin answers a request. */
export type AccessAnswer =
  | { approved: true; type: UserType; token: string; timeToLive?: number }
  | { approved: false }

/**
 * Answers the pending request `request` of the draft `file`: approved, the
 * device joins `devices` with the granted type (replacing an earlier entry
 * of the same clientId) and the request keeps its token for the device to
 * fetch; denied, only the request changes. Returns the answered request.
 */
export function answerAccessRequest(
  file: SecurityFile,
  request: AccessRequestRecord,
  answer: AccessAnswer,
  now: number,
): AccessRequestRecord {
  const live = liveAccessRequests(file, now)
  const index = live.findIndex((r) => r.requestId === request.requestId)
  const answered: AccessRequestRecord = {
    ...request,
    state: 'COMPLETED',
    permission: answer.approved ? 'APPROVED' : 'DENIED',
    completedAt: new Date(now).toISOString(),
  }
  if (answer.approved) {
    answered.granted = answer.type
    answered.token = answer.token
    if (answer.timeToLive !== undefined) {
      answered.expirationTime = new Date(now + answer.timeToLive * 1000).toISOString()
    }
    const devices = (file.devices ?? []).filter((device) => device.clientId !== request.clientId)
    devices.push({
      clientId: request.clientId,
      permissions: answer.type,
      description: request.description,
    })
    file.devices = devices
  }
  if (index >= 0) live[index] = answered
  file.accessRequests = live
  return answered
}

/** What a device polling `/signalk/v1/requests/<requestId>` is answered. */
export function accessRequestReply(request: AccessRequestRecord): AccessRequestReply {
  if (request.state === 'PENDING') {
    return {
      state: 'PENDING',
      requestId: request.requestId,
      statusCode: 202,
      href: `/signalk/v1/requests/${encodeURIComponent(request.requestId)}`,
    }
  }
  const accessRequest: NonNullable<AccessRequestReply['accessRequest']> = {
    permission: request.permission ?? 'DENIED',
  }
  if (request.token !== undefined) accessRequest.token = request.token
  if (request.expirationTime !== undefined) accessRequest.expirationTime = request.expirationTime
  return { state: 'COMPLETED', requestId: request.requestId, statusCode: 200, accessRequest }
}

/** Checks the `accessRequests` member of a parsed file, naming `where` and the member at fault. */
export function checkAccessRequests(file: SecurityFile, where: string): void {
  const value = file.accessRequests
  if (value === undefined) return
  const fail: Fail = failIn(where)
  if (!Array.isArray(value)) fail('accessRequests', 'an array', value)
  value.forEach((request: unknown, i) => {
    const at = `accessRequests[${i}]`
    if (typeof request !== 'object' || request === null) fail(at, 'an object', request)
    const r = request as Record<string, unknown>
    for (const member of ['requestId', 'clientId', 'requestedAt'] as const) {
      if (typeof r[member] !== 'string' || r[member] === '')
        fail(`${at}.${member}`, 'a non-empty string', r[member])
    }
    if (typeof r.description !== 'string') fail(`${at}.description`, 'a string', r.description)
    if (Number.isNaN(Date.parse(r.requestedAt as string)))
      fail(`${at}.requestedAt`, 'an ISO 8601 time', r.requestedAt)
    if (r.state !== 'PENDING' && r.state !== 'COMPLETED')
      fail(`${at}.state`, 'PENDING or COMPLETED', r.state)
    if (r.state === 'COMPLETED') {
      if (r.permission !== 'APPROVED' && r.permission !== 'DENIED') {
        fail(`${at}.permission`, 'APPROVED or DENIED', r.permission)
      }
      if (typeof r.completedAt !== 'string' || Number.isNaN(Date.parse(r.completedAt))) {
        fail(`${at}.completedAt`, 'an ISO 8601 time', r.completedAt)
      }
    }
    if (r.permissions !== undefined && !isUserType(r.permissions)) {
      fail(`${at}.permissions`, `one of ${USER_TYPES.join(', ')}`, r.permissions)
    }
  })
}
