/**
 * The self vessel's identity (SPEC §1): a UUID generated once and kept in the
 * state dir, so the self key stays the same across restarts.
 */
import { randomUUID } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from 'pino'

/** Where keelson keeps its identity: `$KEELSON_STATE_DIR`, else `$XDG_STATE_HOME/keelson`, else `~/.local/state/keelson`. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KEELSON_STATE_DIR) return env.KEELSON_STATE_DIR
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'keelson')
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** The kept self UUID, created on first use; a fresh one (logged) when the state dir cannot be written. */
export function loadSelfUuid(log: Logger, dir: string = stateDir()): string {
  const file = join(dir, 'identity.json')
  try {
    const kept = (JSON.parse(readFileSync(file, 'utf8')) as { uuid?: unknown }).uuid
    if (typeof kept === 'string' && UUID.test(kept)) return kept
  } catch {
    // First start, or an unreadable file: make a new identity below.
  }
  const uuid = randomUUID()
  try {
    mkdirSync(dir, { recursive: true })
    writeFileSync(file, `${JSON.stringify({ uuid }, null, 2)}\n`)
    log.info({ file, uuid }, 'created the self vessel identity')
  } catch (err) {
    log.warn({ err, file }, 'cannot keep the self vessel identity; using a new one for this run')
  }
  return uuid
}
