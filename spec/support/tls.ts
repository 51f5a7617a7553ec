/**
 * A self-signed certificate made at test time with the `openssl` CLI, for
 * `localhost` and 127.0.0.1, written to a temporary directory: the files
 * `--tls-cert`/`--tls-key` take and the PEM text a client trusts as its CA.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface SelfSigned {
  /** The directory holding the files; remove it with {@link SelfSigned.remove}. */
  dir: string
  certFile: string
  keyFile: string
  cert: Buffer
  key: Buffer
  remove(): void
}

/** Whether the `openssl` command runs here (.ci/run installs it). */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Makes a key and a self-signed certificate for `localhost` and 127.0.0.1, valid one day. */
export function selfSigned(): SelfSigned {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-tls-'))
  const certFile = join(dir, 'cert.pem')
  const keyFile = join(dir, 'key.pem')
  // ECDSA P-256: made in milliseconds, where an RSA key takes a noticeable while.
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  )
  return {
    dir,
    certFile,
    keyFile,
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
