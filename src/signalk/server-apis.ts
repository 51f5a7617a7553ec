/**
 * signalk-server's own endpoints that apps call besides the data API (SPEC
 * §11), in its shapes: the plugin list, feature detection, unit preferences
 * and the state of Signal K requests.
 *
 * - `GET /plugins` (and `/skServer/plugins`): `[]`. keelson runs no
 *   signalk-server plugins; its resources and course APIs are built in and
 *   listed by `/signalk/v2/features`. `/plugins/<id>` is then answered 404,
 *   as signalk-server answers a plugin that is not installed: KIP reads that
 *   as "plugin missing" and Freeboard-SK ignores it.
 * - `GET /signalk/v2/features[?enabled=true|1|false|0]`:
 *   `{"apis":[...],"plugins":[]}` as `app.getFeatures` builds it.
 * - `GET /signalk/v1/unitpreferences/active`: Signal K's default preset.
 * - `GET /signalk/v1/requests/:id`: a PUT request's reply
 *   (src/signalk/requests.ts); other ids are left to security's device access
 *   requests when security is on.
 *
 * @see https://github.com/SignalK/signalk-server/blob/master/src/api/discovery/index.ts
 */
import express, { type Router } from 'express'
import { Errors, KeelsonError } from '../core/errors.js'
import { REQUESTS_PATH, type Requests, replyJson } from './requests.js'
import { ACTIVE_UNIT_PREFERENCES } from './unit-preferences.js'

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
}

/** The router of signalk-server's own endpoints (see the module notes). */
export function serverApisRouter(options: ServerApisOptions): Router {
  const router = express.Router()

  router.get(['/plugins', '/skServer/plugins'], (_req, res) => {
    res.json([])
  })

  router.get('/signalk/v2/features', (req, res) => {
    // As signalk-server: true/1 lists what is enabled, false/0 what is not, anything else all.
    const raw = req.query.enabled
    const enabled =
      raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : undefined
    // Every API keelson answers is enabled, and it runs no plugins.
    res.json({ apis: enabled === false ? [] : [...options.apis()], plugins: [] })
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
    let id: string
    try {
      id = decodeURIComponent(match[1]!)
    } catch {
      throw new KeelsonError(Errors.BAD_PATH, 'The request id is not valid percent-encoding')
    }
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
