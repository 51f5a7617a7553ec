/**
 * The package as npm would publish it: `npm run build`'s script
 * (scripts/build.js) builds into a copy of the package, which must import
 * by its `main` and pack the files the `keelson` command needs.
 */
import { execFile } from 'node:child_process'
import { cpSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const run = promisify(execFile)
/** tsc takes 10-30 s on a busy machine. */
const BUILD_TIMEOUT_MS = 180_000

let dir: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keelson-package-'))
  for (const entry of ['package.json', 'README.md', 'bin', 'src', 'fixtures']) {
    cpSync(join(ROOT, entry), join(dir, entry), { recursive: true })
  }
  // The dependencies, as an install would provide them ('junction' is what Windows needs).
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'junction')
  // Type errors are `npm run typecheck`'s business; this spec is about what the build emits.
  await run(process.execPath, [
    join(ROOT, 'scripts/build.js'),
    '--outDir',
    join(dir, 'dist'),
    '--noCheck',
  ])
}, BUILD_TIMEOUT_MS)

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('the built package', () => {
  it('imports by its main entry in plain node, and createApp() builds and closes', async () => {
    const script = `
      import { createRequire } from 'node:module'
      import { pathToFileURL } from 'node:url'
      const dir = ${JSON.stringify(`${dir}/`)}
      const main = createRequire(dir).resolve(dir)
      const keelson = await import(pathToFileURL(main).href)
      if (typeof keelson.createApp !== 'function') throw new Error('no createApp in ' + main)
      const app = keelson.createApp()
      app.close()
      console.log(JSON.stringify({ main, version: keelson.VERSION }))
    `
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: dir,
    })
    const { main, version } = JSON.parse(stdout) as { main: string; version: string }
    expect(main).toBe(realpathSync(join(dir, 'dist', 'index.js')))
    expect(version).toMatch(/^\d+\.\d+\.\d+/)
  })

  it('packs the build with its web page, the types, the command and the demo voyage', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: dir,
      shell: process.platform === 'win32',
    })
    const [pack] = JSON.parse(stdout) as { files: { path: string }[] }[]
    const files = pack!.files.map((file) => file.path)
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/web/index.html',
        'bin/keelson.js',
        'src/cli.ts',
        'src/web/index.html',
        'fixtures/demo-voyage.nmea',
      ]),
    )
    expect(files.filter((file) => file.startsWith('node_modules/'))).toEqual([])
  })
})
