/**
 * The client library (src/client) as one browser ES module for `/client.js`.
 * esbuild bundles it on the first request and the result is kept: from a
 * clone it reads the TypeScript sources, from a build (or an installed
 * package) the tsc output in dist/client. No build step is needed to serve it.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

/** The entry of the client library beside this file: `.ts` from src/, `.js` from dist/. */
export function clientEntry(): string {
  for (const name of ['../client/index.ts', '../client/index.js']) {
    const file = fileURLToPath(new URL(name, import.meta.url))
    if (existsSync(file)) return file
  }
  throw new Error('the client library (client/index.ts or .js) is missing beside web/')
}

let bundled: Promise<string> | undefined

/**
 * The bundled module's text (ES2020, ESM, no source map). Built once per
 * process; a failed build is retried on the next call.
 */
export function clientBundle(): Promise<string> {
  bundled ??= build({
    entryPoints: [clientEntry()],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
  }).then(
    (result) => result.outputFiles[0]!.text,
    (err: unknown) => {
      bundled = undefined
      throw err
    },
  )
  return bundled
}
