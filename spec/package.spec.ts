/**
 * The package as npm would publish it: `npm run build`'s script
 * (scripts/build.js) builds into a copy of the package, which must import
 * by its `main` and pack the files the `keelson` command needs; packed and
 * installed into an empty folder, it gives a working `keelson` command and
 * `keelson/client` import.
 */
import { execFile } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const run = promisify(execFile)
/** tsc takes 10-30 s on a busy machine. */
const BUILD_TIMEOUT_MS = 180_000
/** `npm install` of the tarball fetches the dependencies from the registry. */
const INSTALL_TIMEOUT_MS = 300_000
/** npm's errors when the registry cannot be reached: the install test is skipped, with a notice. */
const OFFLINE = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|network|offline/i

let dir: string
const temps: string[] = []

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
  for (const temp of temps) rmSync(temp, { recursive: true, force: true })
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
        'dist/web/routes.js',
        'dist/web/display/main.js',
        'dist/web/display/display.css',
        'dist/client/index.js',
        'dist/client/index.d.ts',
        'src/client/index.ts',
        'bin/keelson.js',
        'src/cli.ts',
        'src/web/index.html',
        'fixtures/demo-voyage.nmea',
      ]),
    )
    expect(files.filter((file) => file.startsWith('node_modules/'))).toEqual([])
  })

  it(
    'installs from its tarball into an empty folder with a working keelson command and keelson/client import',
    async (ctx) => {
      const packs = mkdtempSync(join(tmpdir(), 'keelson-tgz-'))
      const app = mkdtempSync(join(tmpdir(), 'keelson-install-'))
      temps.push(packs, app)
      const shell = process.platform === 'win32'
      await run('npm', ['pack', '--ignore-scripts', '--pack-destination', packs], {
        cwd: dir,
        shell,
      })
      const [tarball] = readdirSync(packs).filter((name) => /^keelson-.*\.tgz$/.test(name))
      expect(tarball).toBeDefined()
      try {
        await run('npm', ['install', join(packs, tarball!), '--no-audit', '--no-fund'], {
          cwd: app,
          shell,
          timeout: INSTALL_TIMEOUT_MS - 30_000,
        })
      } catch (err) {
        const { stderr = '', message } = err as { stderr?: string; message: string }
        if (OFFLINE.test(stderr) || OFFLINE.test(message)) {
          console.warn(
            `package install test skipped: the npm registry is out of reach (${message})`,
          )
          ctx.skip()
        }
        throw err
      }
      const help = await run('npx', ['--no-install', 'keelson', '--help'], { cwd: app, shell })
      expect(help.stdout).toMatch(/^Usage: keelson \[options\]/m)
      expect(help.stdout).toMatch(/keelson watch +URL/)
      const script = `
        import { createServer } from 'node:http'
        import { applyMergePatch, subscribe } from 'keelson/client'
        import { createApp } from 'keelson'
        const keelson = createApp()
        const server = createServer(keelson.app).listen(0, '127.0.0.1')
        await new Promise((resolve) => server.once('listening', resolve))
        const base = 'http://127.0.0.1:' + server.address().port
        const served = await (await fetch(base + '/client.js')).text()
        const page = await (await fetch(base + '/')).text()
        keelson.close()
        server.close()
        console.log(typeof subscribe, JSON.stringify(applyMergePatch({ a: 1, b: { c: 2 } }, { a: null, b: { d: 3 } })))
        console.log(served.includes('function subscribe('), page.includes('/display/main.js'))
      `
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
        cwd: app,
      })
      expect(stdout.trim().split('\n')).toEqual(['function {"b":{"c":2,"d":3}}', 'true true'])
    },
    INSTALL_TIMEOUT_MS,
  )
})
