/**
 * `--tls-cert FILE --tls-key FILE` (SPEC §8): the certificate and key the
 * CLI serves HTTPS and WSS with, on the same port as plain HTTP would be.
 * Both or neither; files that cannot be read or used stop the start with a
 * {@link ConfigError} (exit status 2) that names the flag and the reason.
 */
import { readFileSync } from 'node:fs'
import { createSecureContext } from 'node:tls'
import type { CliSettings } from './settings.js'
import { ConfigError } from './values.js'

/** What `https.createServer` takes from the files: PEM text. */
export interface TlsFiles {
  readonly cert: Buffer
  readonly key: Buffer
}

/**
 * Reads and checks the certificate and key named by `settings`: undefined
 * when neither is set (plain HTTP). The pair is tried in a secure context
 * here, so a bad file or a key that does not match the certificate is a
 * clear error at start, not a failed handshake later.
 */
export function loadTls(settings: Pick<CliSettings, 'tlsCert' | 'tlsKey'>): TlsFiles | undefined {
  const { tlsCert, tlsKey } = settings
  if (tlsCert === undefined && tlsKey === undefined) return undefined
  if (tlsCert === undefined || tlsKey === undefined) {
    const [given, missing] = tlsCert === undefined ? ['key', 'cert'] : ['cert', 'key']
    throw new ConfigError(
      `--tls-${given} needs --tls-${missing} too: give both to serve HTTPS, or neither`,
    )
  }
  const files = { cert: read(tlsCert, '--tls-cert'), key: read(tlsKey, '--tls-key') }
  try {
    createSecureContext(files)
  } catch (err) {
    throw new ConfigError(
      `--tls-cert ${tlsCert} and --tls-key ${tlsKey} cannot be used: ${reason(err)} ` +
        '(PEM files expected: the certificate, and its unencrypted private key)',
    )
  }
  return files
}

function read(file: string, flag: string): Buffer {
  try {
    return readFileSync(file)
  } catch (err) {
    throw new ConfigError(`${flag} ${file} cannot be read: ${reason(err)}`)
  }
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
