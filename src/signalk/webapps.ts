/**
 * Installed Signal K webapps, served as signalk-server serves them: every
 * package in `node_modules` whose package.json `keywords` hold
 * `signalk-webapp` is served at `/<package name>/`, from its `public/`
 * directory when it has one. `GET /skServer/webapps` lists them.
 *
 * @see https://demo.signalk.org/documentation/Developing/Plugins/WebApps.html
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import express, { type Router } from 'express'

/** The keyword that marks a package as a webapp. */
export const WEBAPP_KEYWORD = 'signalk-webapp'

/** One installed webapp. */
export interface Webapp {
  name: string
  version: string
  description: string
  keywords: string[]
  /** The URL path it is served at: `/<name>/`. */
  location: string
  /** The directory served. */
  dir: string
  /** The package's own directory (where its package.json is). */
  packageDir: string
}

/** The `node_modules` directories searched by default: the working directory's and keelson's own. */
export function defaultModuleDirs(): string[] {
  const own = resolve(dirname(fileURLToPath(import.meta.url)), '../../node_modules')
  return [...new Set([resolve('node_modules'), own])]
}

/** Finds the webapps installed in `moduleDirs` (first found wins for a name). */
export function findWebapps(moduleDirs: readonly string[] = defaultModuleDirs()): Webapp[] {
  const found = new Map<string, Webapp>()
  for (const modules of moduleDirs) {
    for (const dir of packageDirs(modules)) {
      const app = readWebapp(dir)
      if (app && !found.has(app.name)) found.set(app.name, app)
    }
  }
  return [...found.values()]
}

function packageDirs(modules: string): string[] {
  const out: string[] = []
  for (const entry of list(modules)) {
    if (entry.startsWith('.')) continue
    if (entry.startsWith('@')) {
      for (const scoped of list(join(modules, entry))) out.push(join(modules, entry, scoped))
    } else {
      out.push(join(modules, entry))
    }
  }
  return out
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

function readWebapp(dir: string): Webapp | undefined {
  let pkg: { name?: unknown; version?: unknown; description?: unknown; keywords?: unknown }
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  } catch {
    return undefined
  }
  const keywords = Array.isArray(pkg.keywords)
    ? pkg.keywords.filter((k) => typeof k === 'string')
    : []
  if (typeof pkg.name !== 'string' || !keywords.includes(WEBAPP_KEYWORD)) return undefined
  const publicDir = join(dir, 'public')
  return {
    name: pkg.name,
    version: typeof pkg.version === 'string' ? pkg.version : '',
    description: typeof pkg.description === 'string' ? pkg.description : '',
    keywords,
    location: `/${pkg.name}/`,
    dir: existsSync(publicDir) ? publicDir : dir,
    packageDir: dir,
  }
}

let installed: Webapp[] | undefined

/** The webapps of {@link defaultModuleDirs}, found once per process. */
export function installedWebapps(): Webapp[] {
  installed ??= findWebapps()
  return installed
}

/** A router serving `webapps` as static files, plus the `/skServer/webapps` listing. */
export function webappsRouter(webapps: readonly Webapp[] = installedWebapps()): Router {
  const router = express.Router()
  const listing = webapps.map(({ dir: _dir, packageDir: _packageDir, ...app }) => app)
  router.get('/skServer/webapps', (_req, res) => {
    res.json(listing)
  })
  for (const app of webapps) {
    router.use(`/${app.name}`, express.static(app.dir, { index: 'index.html', dotfiles: 'ignore' }))
  }
  return router
}
