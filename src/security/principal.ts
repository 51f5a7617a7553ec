/**
 * Who a request or a connection acts for (SPEC §8), as every transport sees
 * it: the view it reads through, why it may not write (if so), the check a
 * write must pass path by path, and when its token expires. Checked once per
 * request or connection, never per event.
 */
import type { IncomingMessage } from 'node:http'
import type { KeelsonError } from '../core/errors.js'
import { FULL_VIEW, type View } from '../core/view.js'
import type { Authorize } from '../core/write-port.js'
import { type WritePolicy, writeRefusal } from '../http/guard.js'
import type { UserType } from './types.js'

/** The reader and writer behind a request or a connection. */
export interface Principal {
  /** The user name or device id; undefined for an anonymous reader. */
  readonly name?: string
  /** The user's type; undefined for an anonymous reader. */
  readonly type?: UserType
  /** What it may read. */
  readonly view: View
  /** Why it may not write at all; undefined when it may (path by path: {@link authorize}). */
  readonly writeRefusal?: KeelsonError
  /** The check of every path a write touches (ACLs); undefined: every path. */
  readonly authorize?: Authorize
  /**
   * Whether a Signal K PUT request (SPEC §11) may address `keys` (tree keys
   * from the root), by the ACLs' `put` permission; undefined: every path
   * (no ACLs). Asked only when {@link writeRefusal} is undefined.
   */
  readonly mayPut?: (keys: readonly string[]) => boolean
  /** When its token expires (epoch ms); undefined when it has none or it never expires. */
  readonly expiresAt?: number
}

/** Finds the principal of a request: synchronously when no token needs verifying. Throws 401. */
export type PrincipalOf = (req: IncomingMessage) => Principal | Promise<Principal>

/**
 * The principal of a request while no users exist (SPEC §8): everyone reads
 * everything; writes only from a loopback peer with a loopback (or
 * configured) Host and, from a browser, a loopback origin of this server or
 * a `--cors-origin`.
 */
export function openPrincipal(req: IncomingMessage, policy: WritePolicy): Principal {
  const refusal = writeRefusal(req, policy)
  return refusal === undefined ? OPEN_WRITER : { view: FULL_VIEW, writeRefusal: refusal }
}

const OPEN_WRITER: Principal = Object.freeze({ view: FULL_VIEW })

/** The token a request carries: `Authorization: Bearer`, the `JAUTHENTICATION` cookie or `?token=`. */
export function tokenOf(
  req: IncomingMessage,
): { token: string; from: 'header' | 'cookie' | 'query' } | undefined {
  const auth = req.headers.authorization
  if (auth !== undefined) {
    const match = /^(?:Bearer|JWT)\s+(\S+)\s*$/i.exec(auth)
    if (match) return { token: match[1]!, from: 'header' }
  }
  const cookie = req.headers.cookie
  if (cookie !== undefined) {
    for (const part of cookie.split(';')) {
      const eq = part.indexOf('=')
      if (eq < 0 || part.slice(0, eq).trim() !== TOKEN_COOKIE) continue
      const value = part.slice(eq + 1).trim()
      if (value !== '') return { token: decodeURIComponentSafe(value), from: 'cookie' }
    }
  }
  const url = req.url ?? ''
  const q = url.indexOf('?')
  if (q >= 0 && url.includes('token=', q)) {
    const token = new URLSearchParams(url.slice(q + 1)).get('token')
    if (token) return { token, from: 'query' }
  }
  return undefined
}

/** The cookie signalk-server and its apps use for the token. */
export const TOKEN_COOKIE = 'JAUTHENTICATION'

function decodeURIComponentSafe(value: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}
