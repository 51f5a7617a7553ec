/**
 * The Signal K v2 course API over HTTP (SPEC §11), at
 * `/signalk/v2/api/vessels/self/navigation/course`, as signalk-server
 * serves it: `GET` the course, `PUT destination | activeRoute |
 * activeRoute/<action> | arrivalCircle | targetArrivalTime | restart`,
 * `DELETE` to clear, `GET calcValues`. A change is answered
 * `{"state":"COMPLETED","statusCode":200,"message":"OK"}` once it is in the
 * tree (and durable, with a journal); a refusal is problem+json.
 *
 * @see https://demo.signalk.io/documentation/Developing/REST_APIs/Course_API.html
 */
import type { IncomingMessage } from 'node:http'
import express, { type Request, type Response, type Router } from 'express'
import { Errors, KeelsonError } from '../core/errors.js'
import type { Json } from '../core/json.js'
import type { StateTree } from '../core/state-tree.js'
import { readThrough } from '../core/view.js'
import { readJsonBody } from '../http/body.js'
import type { Principal, PrincipalOf } from '../security/principal.js'
import type { Course } from './course.js'
import { courseJson } from './course-info.js'

/** Where the course API is mounted. */
export const COURSE_API_PATH = '/signalk/v2/api/vessels/self/navigation/course'

/** signalk-server's answer to a change it made. */
const COMPLETED = Object.freeze({ state: 'COMPLETED', statusCode: 200, message: 'OK' })

/** Options of {@link courseRouter}. */
export interface CourseRouteOptions {
  principalOf: PrincipalOf
  /** Largest request body, bytes. */
  maxBodyBytes: number
  /** Deepest nesting of a body. */
  maxDepth: number
}

/** The router of the course API, to mount at {@link COURSE_API_PATH}. */
export function courseRouter(course: Course, tree: StateTree, options: CourseRouteOptions): Router {
  const router = express.Router()
  const bodyOptions = {
    types: ['application/json'],
    limit: options.maxBodyBytes,
    maxDepth: options.maxDepth,
    allowNullMembers: true,
  }

  /** The principal of `req`, refused at once when it may not write at all. */
  const writer = async (req: IncomingMessage): Promise<Principal> => {
    const who = await options.principalOf(req)
    if (who.writeRefusal !== undefined) throw who.writeRefusal
    return who
  }

  /**
   * The body of a change. `optional`: apps send these with no body at all
   * (Freeboard's `restart` sends null, KIP's `nextPoint` nothing), read as `{}`.
   */
  const body = (req: IncomingMessage, optional: boolean): Promise<Json> =>
    optional && hasNoBody(req) ? Promise.resolve({}) : readJsonBody(req, bodyOptions)

  const change =
    (optional: boolean, apply: (req: Request, body: Json, who: Principal) => Promise<void>) =>
    async (req: Request, res: Response): Promise<void> => {
      const who = await writer(req)
      let json = await body(req, optional)
      if (optional && json === null) json = {}
      await apply(req, json, who)
      res.json(COMPLETED)
    }

  /**
   * Refuses a reader who may not read `navigation.course` (a login the
   * security file requires, an ACL): what the tree's REST API would refuse.
   */
  const reader = async (req: IncomingMessage): Promise<void> => {
    const who = await options.principalOf(req)
    if (who.view.full) return
    const path = { segments: ['vessels', tree.selfKey, 'navigation', 'course'], starAt: -1 }
    if (tree.get(path) !== undefined && readThrough(tree, path, who.view) === undefined) {
      throw new KeelsonError(Errors.FORBIDDEN, 'You may not read navigation.course')
    }
  }

  router.get('/', async (req, res) => {
    await reader(req)
    res.json(courseJson(course.state))
  })
  router.get('/calcValues', async (req, res) => {
    await reader(req)
    res.json(course.calcValues())
  })
  router.get('/arrivalCircle/meta', (_req, res) => {
    res.json({
      arrivalCircle: {
        description:
          'The circle which indicates arrival when vessel position is within its radius.',
        units: 'm',
      },
    })
  })
  router.put(
    '/destination',
    change(false, (_req, json, who) => course.setDestination(json, who.authorize)),
  )
  router.put(
    '/activeRoute',
    change(false, (_req, json, who) => course.activateRoute(json, who.authorize)),
  )
  router.put(
    '/activeRoute/:action',
    change(true, (req, json, who) =>
      course.routeAction(String(req.params.action), json, who.authorize),
    ),
  )
  router.put(
    '/arrivalCircle',
    change(false, (_req, json, who) => course.setArrivalCircle(json, who.authorize)),
  )
  router.put(
    '/targetArrivalTime',
    change(false, (_req, json, who) => course.setTargetArrivalTime(json, who.authorize)),
  )
  router.put(
    '/restart',
    change(true, (_req, _json, who) => course.restart(who.authorize)),
  )
  router.delete(
    '/',
    change(true, (_req, _json, who) => course.clear(who.authorize)),
  )
  return router
}

/** True when the request carries no body (no length, or 0, and not chunked). */
function hasNoBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  if (length !== undefined) return Number(length) === 0
  return req.headers['transfer-encoding'] === undefined
}
