/**
 * A security file for a bench server (SPEC §8), written into a fresh
 * temporary directory: the given users with keelson's own scrypt hashes, the
 * ACLs, mode 0600. The server opens it with `--security FILE`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hashPassword } from '../../src/security/passwords.js'
import { formatSecurityFile, newSecurityFile } from '../../src/security/security-file.js'
import type { Acl, UserType } from '../../src/security/types.js'

/** A user to create, with its password in clear (the bench logs in with it). */
export interface BenchUser {
  username: string
  type: UserType
  password: string
}

/** A written security file and how to remove it. */
export interface BenchSecurityFile {
  file: string
  remove(): Promise<void>
}

/** Writes `users` (none: security off, the no-users rule) and `acls` into a new temporary directory. */
export async function writeBenchSecurityFile(
  users: BenchUser[],
  acls: Acl[] = [],
): Promise<BenchSecurityFile> {
  const dir = await mkdtemp(join(tmpdir(), 'keelson-bench-security-'))
  const content = newSecurityFile()
  content.users = await Promise.all(
    users.map(async (u) => ({
      username: u.username,
      type: u.type,
      password: await hashPassword(u.password),
    })),
  )
  content.acls = acls
  const file = join(dir, 'security.json')
  await writeFile(file, formatSecurityFile(content), { mode: 0o600 })
  return { file, remove: () => rm(dir, { recursive: true, force: true }) }
}
