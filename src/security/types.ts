/**
 * The shapes of keelson's security (SPEC §8), in signalk-server's format so
 * a boat moves its `security.json` over as it is.
 *
 * @see https://github.com/SignalK/signalk-server/blob/master/SECURITY.md
 */

/** What a user may do at most; an ACL never grants more (`readonly` never writes). */
export type UserType = 'readonly' | 'readwrite' | 'admin'

/** A permission an ACL grants; `write` implies `read`. `put` is for PUT requests (SPEC §11). */
export type Permission = 'read' | 'write' | 'put'

/** One subject's permission in an ACL resource; `any` is every reader, anonymous ones too. */
export interface AclPermission {
  subject: string
  permission: Permission
}

/**
 * One resource of an ACL: dot-path patterns inside the context (`navigation.*`,
 * `name`, `*`), or `$source` patterns of the values, with their permissions.
 */
export interface AclResource {
  paths?: string[]
  sources?: string[]
  permissions: AclPermission[]
}

/** One ACL: a context pattern (`vessels.self`, `vessels.*`, `*`) and its resources, in order. */
export interface Acl {
  context: string
  resources: AclResource[]
}

/** A user of the security file. `password` is a hash: `scrypt$...` (keelson) or bcrypt `$2a$`/`$2b$`. */
export interface SecurityUser {
  username: string
  type: UserType
  password: string
}

/** An approved (or pending) device of an access request (SPEC §8). */
export interface SecurityDevice {
  clientId: string
  permissions: UserType
  description?: string
  /** For signalk-server compatibility; keelson does not expire devices by itself. */
  config?: Record<string, unknown>
}

/** The security file, as signalk-server writes it (unknown members are kept). */
export interface SecurityFile {
  allowReadonly: boolean
  /** Token lifetime, e.g. `1d`, `12h`, `NEVER` (signalk-server's `expiration`). */
  expiration: string
  /** The HMAC key of tokens, as UTF-8 text. */
  secretKey: string
  users: SecurityUser[]
  devices?: SecurityDevice[]
  acls?: Acl[]
  [key: string]: unknown
}
