/**
 * signalk-server's own endpoints that apps call besides the data API (SPEC
 * §11), in its shapes: the plugin list, feature detection, unit preferences
 * and the state of Signal K requests.
 *
 * - `GET /plugins` (and `/skServer/plugins`): the signalk-server plugins
 *   installed beside keelson, each disabled: packages served as webapps
 *   that are plugins too (keyword `signalk-node-server-plugin`, such as KIP
 *   and Freeboard-SK). keelson runs no plugin code, so none is ever enabled;
 *   its resources and course APIs are built in and listed by
 *   `/signalk/v2/features`. `GET /plugins/<id>` answers such a plugin as
 *   signalk-server answers a disabled one, and 404 for any other id, as
 *   signalk-server answers a plugin that is not installed. With users,
 *   these need an admin, as in signalk-server with security on: a 401 here
 *   tells Freeboard-SK that nobody is logged in.
 * - `GET /signalk/v2/features[?enabled=true|1|false|0]`:
 *   `{"apis":[...],"plugins":[...]}` as `app.getFeatures` builds it.
 * - `GET /signalk/v1/unitpreferences/active`: Signal K's default preset.
 * - `GET /signalk/v2/api/vessels/self/radars`: no radars, as signalk-server
 *   answers with no radar provider.
 * - `GET /signalk/v1/requests/:id`: a PUT request's reply
 *   (src/signalk/requests.ts); other ids are left to security's device access
 *   requests when security is on.
 *
 * @see https://github.com/SignalK/signalk-server/blob/master/src/api/discovery/index.ts
 * @see https://github.com/SignalK/signalk-server/blob/master/src/interfaces/plugins.ts
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import express, { type Request, type Router } from 'express'
import { Errors, KeelsonError } from '../core/errors.js'
import { decodeSegment } from '../core/path.js'
import type { PrincipalOf } from '../security/principal.js'
import { REQUESTS_PATH, type Requests, replyJson } from './requests.js'
import { ACTIVE_UNIT_PREFERENCES } from './unit-preferences.js'
import type { Webapp } from './webapps.js'

/** The ids signalk-server gives its APIs in `/signalk/v2/features` (`SignalKApiId`). */
export type SignalKApiId =
  | 'weather'
  | 'course'
  | 'resources'
  | 'history'
  | 'autopilot'
  | 'anchor'
  | 'logbook'
  | 'radar'
  | 'historyplayback'
  | 'historysnapshot'
  | 'notifications'
  | 'sensors'

/** What the server APIs report and read. */
export interface ServerApisOptions {
  /** The Signal K APIs this server answers, read at each request (they are wired one by one). */
  readonly apis: () => readonly SignalKApiId[]
  /** The kept Signal K requests (`GET /signalk/v1/requests/:id`). */
  readonly requests: Requests
  /**
   * True when another route answers ids unknown here (security's device
   * access requests): the request is passed on instead of answered 404.
   */
  readonly passUnknownRequests: boolean
  /** The installed webapp packages: those that are signalk-server plugins too are listed, disabled. */
  readonly webapps: readonly Webapp[]
  /** Who a request acts for; with {@link secured}, the plugin routes need an admin. */
  readonly principalOf: PrincipalOf
  /**
   * True while security is on: the security file has users (read at each
   * request: `keelson user add` turns it on without a restart).
   */
  readonly secured: () => boolean
}

/** The radar API version signalk-server 2.32.0 answers with its radar list. */
const RADAR_API_VERSION = '3.4.0'

/** The keyword of a package that is a signalk-server plugin. */
export const PLUGIN_KEYWORD = 'signalk-node-server-plugin'

/** A signalk-server plugin installed beside keelson, which keelson does not run. */
export interface InstalledPlugin {
  readonly id: string
  readonly name: string
  readonly packageName: string
  readonly version: string
  readonly description: string
  readonly keywords: readonly string[]
}

/** Largest plugin entry file read for its id, bytes. */
const MAX_PLUGIN_SOURCE = 4 * 1024 * 1024
/** A plugin object's `id: '<literal>'`, and the `name:` after it (signalk-server reads them from the module). */
const PLUGIN_ID = /\bid\s*:\s*(['"`])([A-Za-z0-9._@-]{1,64})\1/
const PLUGIN_NAME = /^[\s\S]{0,200}?\bname\s*:\s*(['"`])([^'"`\n]{1,100})\1/

/**
 * The plugins among `webapps`: packages with {@link PLUGIN_KEYWORD} whose
 * entry file names the plugin's id as a literal. signalk-server takes the
 * id from the loaded module; keelson runs no plugin code, so it reads the
 * literal from the source instead, and leaves out a package whose id it
 * cannot read that way.
 */
export function installedPlugins(webapps: readonly Webapp[]): InstalledPlugin[] {
  const out: InstalledPlugin[] = []
  for (const app of webapps) {
    if (!app.keywords.includes(PLUGIN_KEYWORD)) continue
    let source: string
    try {
      const pkg = JSON.parse(readFileSync(join(app.packageDir, 'package.json'), 'utf8'))
      const main = typeof pkg.main === 'string' ? pkg.main : 'index.js'
      const file = join(app.packageDir, main)
      if (!file.startsWith(app.packageDir)) continue
      source = readFileSync(file, 'utf8').slice(0, MAX_PLUGIN_SOURCE)
    } catch {
      continue
    }
    const id = PLUGIN_ID.exec(source)
    if (id === null) continue
    const after = source.slice(id.index + id[0].length)
    out.push({
      id: id[2]!,
      name: PLUGIN_NAME.exec(after)?.[2] ?? app.name,
      packageName: app.name,
      version: app.version,
      description: app.description,
      keywords: app.keywords,
    })
  }
  return out
}

/** The router of signalk-server's own endpoints (see the module notes). */
export function serverApisRouter(options: ServerApisOptions): Router {
  const router = express.Router()

  const plugins = installedPlugins(options.webapps)
  const byId = new Map(plugins.map((plugin) => [plugin.id, plugin]))
  const admin = async (req: Request): Promise<void> => {
    // With no users, as signalk-server with security off: anyone reads the plugins (KIP
    // reads its own there; a 401 makes it toast and Freeboard-SK report a failed login).
    if (!options.secured()) return
    const who = await options.principalOf(req)
    if (who.type === 'admin') return
    throw who.name === undefined
      ? new KeelsonError(Errors.UNAUTHORIZED, 'Log in as an admin to see the plugins')
      : new KeelsonError(Errors.FORBIDDEN, 'Only an admin sees the plugins')
  }

  // As signalk-server's plugin list, each plugin disabled: keelson runs no plugin code.
  router.get(['/plugins', '/skServer/plugins'], async (req, res) => {
    await admin(req)
    res.json(
      plugins.map((plugin) => ({
        ...plugin,
        schema: {},
        statusMessage: 'Not run: keelson runs no signalk-server plugins',
        data: { configuration: {}, enabled: false, enableLogging: false, enableDebug: false },
      })),
    )
  })

  // As signalk-server answers an installed plugin that is disabled; any other id is not installed (404).
  // `use`, not a `:id` route: express would answer a malformed percent-encoding 500.
  router.use(['/plugins', '/skServer/plugins'], async (req, res, next) => {
    const match = /^\/([^/]+)\/?$/.exec(req.path)
    const plugin = match === null ? undefined : byId.get(decodeSegment(match[1]!))
    if (plugin === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
      next()
      return
    }
    await admin(req)
    const { id, name, version } = plugin
    res.json({ enabled: false, enabledByDefault: false, id, name, version })
  })

  router.get('/signalk/v2/features', (req, res) => {
    // As signalk-server: true/1 lists what is enabled, false/0 what is not, anything else all.
    const raw = req.query.enabled
    const enabled =
      raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : undefined
    // Every API keelson answers is enabled; the plugins installed beside it are not.
    const listed = plugins
      .filter(() => enabled !== true)
      .map(({ id, name, version }) => ({ id, name, version, enabled: false }))
    res.json({ apis: enabled === false ? [] : [...options.apis()], plugins: listed })
  })

  // signalk-server's radar API with no radar provider: no radars (Freeboard-SK asks at load).
  router.get('/signalk/v2/api/vessels/self/radars', (_req, res) => {
    res.json({ version: RADAR_API_VERSION, radars: {} })
  })

  router.get('/signalk/v1/unitpreferences/active', (_req, res) => {
    res.json(ACTIVE_UNIT_PREFERENCES)
  })

  // `use`, not a `:id` route: express would answer a malformed percent-encoding 500.
  router.use(REQUESTS_PATH, (req, res, next) => {
    const match = /^\/([^/]+)\/?$/.exec(req.path)
    if ((req.method !== 'GET' && req.method !== 'HEAD') || match === null) {
      next()
      return
    }
    const id = decodeSegment(match[1]!)
    const reply = options.requests.get(id)
    if (reply !== undefined) {
      res.set('Cache-Control', 'no-store').json(replyJson(reply))
      return
    }
    if (options.passUnknownRequests) {
      next()
      return
    }
    throw new KeelsonError(Errors.REQUEST_NOT_FOUND, `No request ${id.slice(0, 80)}`)
  })

  return router
}
