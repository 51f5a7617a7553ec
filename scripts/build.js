#!/usr/bin/env node
/**
 * `npm run build`: compiles src/ with tsconfig.build.json, then copies the
 * files tsc does not emit (src/web/index.html, read by src/app.ts next to
 * itself) into the output, so `import('keelson')` works from dist/.
 *
 * Usage: node scripts/build.js [--outDir DIR] [other tsc flags]
 * Flags pass through to tsc; the output is DIR, default dist/.
 * Node only (no shell), so it runs the same on every platform.
 */
import { spawnSync } from 'node:child_process'
import { cpSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

/** Folders of src/ whose files are read at run time beside the compiled code; .ts files are left out. */
const ASSET_DIRS = ['web']

const args = process.argv.slice(2)
const at = args.indexOf('--outDir')
const outDir = at >= 0 && args[at + 1] ? resolve(args[at + 1]) : join(root, 'dist')

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const built = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), ...args], {
  stdio: 'inherit',
})
if (built.status !== 0) process.exit(built.status ?? 1)

for (const dir of ASSET_DIRS) {
  cpSync(join(root, 'src', dir), join(outDir, dir), {
    recursive: true,
    filter: (source) => !source.endsWith('.ts'),
  })
}
