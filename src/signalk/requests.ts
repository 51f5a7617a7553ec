/**
 * The requests of Signal K's Request/Response protocol that keelson answered
 * (SPEC §11): what `GET /signalk/v1/requests/:id` returns, as signalk-server
 * keeps them (`requestResponse.ts`). The store is bounded twice: by count
 * (the oldest goes first) and by age (signalk-server prunes after an hour),
 * so a client making requests without end cannot grow it.
 *
 * Device access requests are not here: the security store keeps them, with
 * their tokens (src/security/access-requests.ts); the route asks this store
 * first and then security's.
 *
 * @see https://signalk.org/specification/1.7.0/doc/request_response.html
 */
import type { Json, JsonObject } from '../core/json.js'
import { REQUESTS_KEPT } from '../options.js'

/** Where a request is: answered (`COMPLETED`) or still under way (`PENDING`). */
export type RequestState = 'PENDING' | 'COMPLETED'

/** Where the state of a request is read. */
export const REQUESTS_PATH = '/signalk/v1/requests'

/** The reply to a request, in signalk-server's shape. */
export interface RequestReply {
  /** The client's id (echoed as sent), or one made for it. */
  readonly requestId: Json
  readonly state: RequestState
  /** An HTTP status: 200 done, 400 bad request, 401/403 not allowed, 5xx failed. */
  readonly statusCode: number
  /** Why it was refused (always present on a refusal: apps show it). */
  readonly message?: string
  /** keelson's error code of a refusal (the error table), for logs and tests. */
  readonly code?: string
  /** Where the state of the request can be read again, when it is kept. */
  readonly href?: string
}

/** Options of {@link Requests}. */
export interface RequestsOptions {
  /** Requests kept at most; the oldest are forgotten first. Default {@link REQUESTS_KEPT}.count. */
  maxCount?: number
  /** A request is forgotten this long after it was made, ms. Default {@link REQUESTS_KEPT}.ageMs. */
  maxAgeMs?: number
  /** The clock, ms. Default `Date.now`. */
  now?: () => number
}

/** Longest request id kept (a UUID is 36 characters): longer ones are answered but not kept. */
const MAX_ID_LENGTH = 200

/** The requests answered lately, by id. */
export class Requests {
  private readonly maxCount: number
  private readonly maxAgeMs: number
  private readonly now: () => number
  /** In the order they were made (a Map keeps insertion order): the oldest first. */
  private readonly byId = new Map<string, { reply: RequestReply; at: number }>()

  constructor(options: RequestsOptions = {}) {
    this.maxCount = options.maxCount ?? REQUESTS_KEPT.count
    this.maxAgeMs = options.maxAgeMs ?? REQUESTS_KEPT.ageMs
    this.now = options.now ?? Date.now
  }

  /** Number of requests kept. */
  get size(): number {
    return this.byId.size
  }

  /**
   * Keeps `reply` under its id and returns it with its `href`; an id that
   * cannot be kept (not a string, too long) is answered without one. A
   * request with the id of an earlier one replaces it, as in signalk-server.
   */
  record(reply: RequestReply): RequestReply {
    const id = reply.requestId
    if (typeof id !== 'string' || id === '' || id.length > MAX_ID_LENGTH) return reply
    const kept: RequestReply = { ...reply, href: `${REQUESTS_PATH}/${encodeURIComponent(id)}` }
    const at = this.now()
    this.byId.delete(id)
    this.byId.set(id, { reply: kept, at })
    this.prune(at)
    return kept
  }

  /** The reply kept under `id`, or undefined when there is none (never made, forgotten). */
  get(id: string): RequestReply | undefined {
    const entry = this.byId.get(id)
    if (entry === undefined) return undefined
    if (this.now() - entry.at > this.maxAgeMs) {
      this.byId.delete(id)
      return undefined
    }
    return entry.reply
  }

  /** Forgets requests past the age limit and, past the count, the oldest. */
  private prune(now: number): void {
    for (const [id, entry] of this.byId) {
      if (this.byId.size <= this.maxCount && now - entry.at <= this.maxAgeMs) break
      this.byId.delete(id)
    }
  }
}

/** `reply` as a JSON object (its members in signalk-server's order). */
export function replyJson(reply: RequestReply): JsonObject {
  const out: JsonObject = {
    requestId: reply.requestId,
    state: reply.state,
    statusCode: reply.statusCode,
  }
  if (reply.message !== undefined) out.message = reply.message
  if (reply.code !== undefined) out.code = reply.code
  if (reply.href !== undefined) out.href = reply.href
  return out
}
