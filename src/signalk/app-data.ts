/**
 * Application data (SPEC §11): JSON documents that apps keep on the server,
 * as signalk-server's `applicationData` interface serves them — KIP keeps
 * its dashboards there, Freeboard-SK its settings.
 *
 * - `GET /signalk/v1/applicationData/global|user/<appid>`: the versions kept.
 * - `GET .../<appid>/<version>[/<path>]`: the document (`{}` when none), or
 *   the value at `path` (404 when none); `?keys=true` lists its keys.
 * - `POST .../<appid>/<version>[/<path>]` with JSON: sets the value at
 *   `path`, or replaces the document; an array posted to the document is a
 *   JSON Patch (RFC 6902), as signalk-server applies it.
 * - `PATCH` with `application/json-patch+json`: a JSON Patch at the
 *   document or at `path`.
 *
 * `user` is the caller's own data: it needs a login (401), and each user (or
 * device) has its own. Writing `global` needs an admin, as in signalk-server
 * (with no users at all, a writer as SPEC §8 allows). Every write is all or
 * nothing, checked as every input is (forbidden keys, depth, size), and
 * persisted before it is answered: one file per document, written
 * atomically, under `<persistDir>/applicationData` in signalk-server's
 * layout (`global/<appid>/<version>.json`, `users/<name>/<appid>/<version>.json`),
 * so a boat's files move over unchanged. Without a persist dir the data is
 * kept in memory only. Bounded: each document by the body limit, all of
 * them by `maxAppDataBytes` and `maxAppDataDocuments`.
 *
 * @see https://github.com/SignalK/signalk-server/blob/master/src/interfaces/applicationData.js
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import { dirname, join } from 'node:path'
import express, { type Request, type Response, type Router } from 'express'
import type { Logger } from 'pino'
import { Errors, KeelsonError } from '../core/errors.js'
import { isObject, type Json, type JsonObject } from '../core/json.js'
import { checkKey, decodeSegment } from '../core/path.js'
import { parseJson, validateValue } from '../core/validate.js'
import { readJsonBody } from '../http/body.js'
import type { KeelsonOptions } from '../options.js'
import type { Principal, PrincipalOf } from '../security/principal.js'
import { writeFileAtomically } from '../security/security-file.js'
import { applyJsonPatch } from './json-patch.js'

/** Where application data is served. */
export const APP_DATA_PATH = '/signalk/v1/applicationData'

/** The folder under the persist dir, as signalk-server names it under its config dir. */
export const APP_DATA_DIR = 'applicationData'

/** Options of {@link AppData}. */
export type AppDataOptions = Pick<
  KeelsonOptions,
  'maxBodyBytes' | 'maxDepth' | 'maxAppDataBytes' | 'maxAppDataDocuments'
> & {
  /** The folder of the documents (`<persistDir>/applicationData`); undefined: memory only. */
  readonly dir?: string
  readonly log?: Logger
}

/** An appid: what signalk-server accepts (under 30 characters, no `/` or `\`), in a file-safe alphabet. */
const APP_ID = /^[A-Za-z0-9_@+-][A-Za-z0-9._@+-]{0,28}$/
/** An array index in a path: no leading zeros, no sign. */
const INDEX = /^(?:0|[1-9][0-9]{0,8})$/
/** A kept version's file name: `<major>.<minor>.<patch>.json`. */
const VERSION_FILE = /^(\d{1,16}\.\d{1,16}\.\d{1,16})\.json$/

/** The application data documents, by `<owner>/<appid>/<version>` (owner `global` or `users/<name>`). */
export class AppData {
  /** Each document as its JSON text: what is counted, kept and written. */
  private readonly documents = new Map<string, string>()
  private totalBytes = 0
  /** The last write in progress: writes run one after another. */
  private tail: Promise<unknown> = Promise.resolve()

  /** Opens the store, reading what `options.dir` holds (synchronously: at start-up). */
  constructor(private readonly options: AppDataOptions) {
    if (options.dir !== undefined) this.load(options.dir)
  }

  /** Bytes held by every document together. */
  get bytes(): number {
    return this.totalBytes
  }

  /** The versions kept of `appid` for `owner`, or undefined when none is. */
  versions(owner: string, appid: string): string[] | undefined {
    const prefix = `${owner}/${appid}/`
    const out: string[] = []
    for (const key of this.documents.keys()) {
      if (key.startsWith(prefix)) out.push(key.slice(prefix.length))
    }
    return out.length === 0 ? undefined : out
  }

  /** The document of `owner`, `appid` and `version`: `{}` when none is kept, as signalk-server. */
  read(owner: string, appid: string, version: string): Json {
    const text = this.documents.get(`${owner}/${appid}/${version}`)
    return text === undefined ? {} : (JSON.parse(text) as Json)
  }

  /**
   * Replaces a document with what `change` makes of it (given a copy),
   * checked and persisted before it counts: all or nothing. Writes run one
   * after another, so each reads what the one before wrote.
   */
  update(
    owner: string,
    appid: string,
    version: string,
    change: (document: Json) => Json,
  ): Promise<void> {
    const run = () => this.write(`${owner}/${appid}/${version}`, change)
    const done = this.tail.then(run, run)
    this.tail = done.catch(() => undefined)
    return done
  }

  private async write(key: string, change: (document: Json) => Json): Promise<void> {
    const { maxBodyBytes, maxDepth, maxAppDataBytes, maxAppDataDocuments } = this.options
    const current = this.documents.get(key)
    const after = change(current === undefined ? {} : (JSON.parse(current) as Json))
    validateValue(after, { maxDepth })
    const text = JSON.stringify(after)
    const bytes = Buffer.byteLength(text)
    const before = current === undefined ? 0 : Buffer.byteLength(current)
    if (bytes > maxBodyBytes) {
      throw new KeelsonError(
        Errors.APP_DATA_FULL,
        `The document would be ${bytes} bytes; a document holds at most ${maxBodyBytes}`,
      )
    }
    if (current === undefined && this.documents.size >= maxAppDataDocuments) {
      throw new KeelsonError(
        Errors.APP_DATA_FULL,
        `${maxAppDataDocuments} documents are kept already`,
      )
    }
    if (this.totalBytes - before + bytes > maxAppDataBytes) {
      throw new KeelsonError(
        Errors.APP_DATA_FULL,
        `Application data would hold more than ${maxAppDataBytes} bytes`,
      )
    }
    if (this.options.dir !== undefined) {
      const file = join(this.options.dir, `${key}.json`)
      await mkdir(dirname(file), { recursive: true, mode: 0o700 })
      await writeFileAtomically(file, `${text}\n`)
    }
    this.documents.set(key, text)
    this.totalBytes += bytes - before
  }

  /** Reads the documents kept in `dir`; a file that cannot be read or checked is logged and left out. */
  private load(dir: string): void {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const owners = ['global', ...names(join(dir, 'users')).map((name) => `users/${name}`)]
    for (const owner of owners) {
      for (const appid of names(join(dir, owner))) {
        if (!APP_ID.test(appid)) continue
        for (const file of names(join(dir, owner, appid))) {
          const version = VERSION_FILE.exec(file)?.[1]
          if (version !== undefined) this.loadOne(dir, `${owner}/${appid}/${version}`)
        }
      }
    }
  }

  private loadOne(dir: string, key: string): void {
    const { maxBodyBytes, maxDepth, maxAppDataBytes, maxAppDataDocuments, log } = this.options
    const file = join(dir, `${key}.json`)
    try {
      const raw = readFileSync(file, 'utf8')
      if (Buffer.byteLength(raw) > maxBodyBytes)
        throw new Error(`larger than ${maxBodyBytes} bytes`)
      const text = JSON.stringify(parseJson(raw, { maxDepth }))
      const bytes = Buffer.byteLength(text)
      if (this.documents.size >= maxAppDataDocuments || this.totalBytes + bytes > maxAppDataBytes) {
        throw new Error('application data is full')
      }
      this.documents.set(key, text)
      this.totalBytes += bytes
    } catch (err) {
      log?.warn({ err, file }, 'application data file left out')
    }
  }
}

/** The names in a folder; none when it cannot be read. */
function names(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

/** Limits of the bodies the routes read. */
export type AppDataRouteOptions = Pick<KeelsonOptions, 'maxBodyBytes' | 'maxDepth'>

const POST_TYPES = ['application/json']
const PATCH_TYPES = ['application/json-patch+json', 'application/json']
const ALLOW = 'GET, HEAD, POST, PATCH'

/** A request's address in the store: owner, appid, version (coerced) and the keys below. */
interface Address {
  readonly scope: 'global' | 'user'
  readonly appid: string
  readonly version?: string
  readonly keys: readonly string[]
}

/** The routes of application data on `store` (see the module notes). */
export function appDataRouter(
  store: AppData,
  principalOf: PrincipalOf,
  options: AppDataRouteOptions,
): Router {
  const router = express.Router()
  // A patch may copy no more than a document may hold.
  const copyBound = { maxCopyBytes: options.maxBodyBytes }
  const body = (req: IncomingMessage, types: string[]) =>
    readJsonBody(req, {
      types,
      limit: options.maxBodyBytes,
      maxDepth: options.maxDepth,
      allowNullMembers: true,
    })

  // `use`, not routes with parameters: express would answer a malformed percent-encoding 500.
  router.use(APP_DATA_PATH, async (req: Request, res: Response) => {
    const method = req.method
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST' && method !== 'PATCH') {
      res.setHeader('Allow', ALLOW)
      throw new KeelsonError(
        Errors.METHOD_NOT_ALLOWED,
        `${method} is not supported on application data`,
      )
    }
    const at = parseAddress(req.path)
    const who = await principalOf(req)
    const owner = ownerOf(at.scope, who)
    const read = method === 'GET' || method === 'HEAD'
    if (!read) checkWriter(at.scope, who)
    res.setHeader('Cache-Control', 'no-store')
    if (at.version === undefined) {
      if (!read) throw new KeelsonError(Errors.BAD_APP_DATA_NAME, 'Name a version to write')
      const versions = store.versions(owner, at.appid)
      if (versions === undefined) {
        throw new KeelsonError(Errors.PATH_NOT_FOUND, `No application data of ${at.appid}`)
      }
      res.json(versions)
      return
    }
    const version = at.version
    if (read) {
      let value: Json | undefined = store.read(owner, at.appid, version)
      if (at.keys.length > 0) value = getAt(value, at.keys)
      if (value === undefined) {
        throw new KeelsonError(Errors.PATH_NOT_FOUND, `Nothing is stored at ${req.path}`)
      }
      if (req.query.keys === 'true') {
        if (!isObject(value) && !Array.isArray(value)) {
          throw new KeelsonError(
            Errors.PATH_NOT_FOUND,
            `No keys at ${req.path}: it is not an object`,
          )
        }
        value = Object.keys(value)
      }
      res.json(value)
      return
    }
    if (method === 'POST') {
      const input = await body(req, POST_TYPES)
      await store.update(owner, at.appid, version, (document) => {
        if (at.keys.length > 0) return setAt(document, at.keys, input)
        // As signalk-server: an array posted to the document is a JSON Patch, anything else replaces it.
        return Array.isArray(input) ? applyJsonPatch(document, input, copyBound) : input
      })
    } else {
      const input = await body(req, PATCH_TYPES)
      await store.update(owner, at.appid, version, (document) => {
        if (at.keys.length === 0) return applyJsonPatch(document, input, copyBound)
        const target = getAt(document, at.keys)
        if (target === undefined) {
          throw new KeelsonError(Errors.PATH_NOT_FOUND, `Nothing is stored at ${req.path}`)
        }
        return setAt(document, at.keys, applyJsonPatch(target, input, copyBound))
      })
    }
    res.json('ApplicationData saved')
  })

  return router
}

/**
 * Parses `/<scope>/<appid>[/<version>[/<path>]]`: each segment
 * percent-decoded, the path split on `/` and `.` as signalk-server's lodash
 * paths are, every key checked (SPEC §2).
 */
function parseAddress(urlPath: string): Address {
  const parts = urlPath
    .split('/')
    .filter((part, i, all) => i > 0 && !(part === '' && i === all.length - 1))
    .map(decodeSegment)
  const [scope, appid, version, ...rest] = parts
  if (scope !== 'global' && scope !== 'user') {
    throw new KeelsonError(Errors.NOT_FOUND, `${APP_DATA_PATH}/${scope ?? ''}: use global or user`)
  }
  if (appid === undefined || !APP_ID.test(appid)) {
    throw new KeelsonError(
      Errors.BAD_APP_DATA_NAME,
      `The appid ${JSON.stringify(appid ?? '')} is not allowed`,
    )
  }
  if (version === undefined) return { scope, appid, keys: [] }
  const coerced = coerceVersion(version)
  if (coerced === undefined) {
    throw new KeelsonError(
      Errors.BAD_APP_DATA_NAME,
      `The version ${JSON.stringify(version)} is not a version`,
    )
  }
  const keys = rest.flatMap((part) => part.split('.')).map(checkKey)
  return { scope, appid, version: coerced, keys }
}

/**
 * A version as signalk-server reads one (`semver.coerce`): the first one to
 * three dotted numbers in the text, missing parts 0 (`9` is `9.0.0`).
 */
export function coerceVersion(text: string): string | undefined {
  if (text.length > 256) return undefined
  const match = /(?:^|\D)(\d{1,16})(?:\.(\d{1,16}))?(?:\.(\d{1,16}))?(?:$|\D)/.exec(text)
  if (match === null) return undefined
  const number = (digits: string | undefined) => (digits ?? '0').replace(/^0+(?=\d)/, '')
  return `${number(match[1])}.${number(match[2])}.${number(match[3])}`
}

/** The owner of the data a request addresses: `global`, or the caller's own (a login needed). */
function ownerOf(scope: 'global' | 'user', who: Principal): string {
  if (scope === 'global') return 'global'
  if (who.name === undefined) {
    throw new KeelsonError(Errors.UNAUTHORIZED, 'Log in to use your own application data')
  }
  // A file-safe name, the same as the user name for plain ones: no "/", no "." (no ".." folder).
  return `users/${encodeURIComponent(who.name).replace(/\./g, '%2E')}`
}

/** Throws unless `who` may write `scope`: a writer, and an admin for global data (as signalk-server). */
function checkWriter(scope: 'global' | 'user', who: Principal): void {
  if (who.writeRefusal !== undefined) throw who.writeRefusal
  // With no users at all nobody has a type: the writers SPEC §8 allows write global data too.
  if (scope === 'global' && who.type !== undefined && who.type !== 'admin') {
    throw new KeelsonError(Errors.FORBIDDEN, 'Only an admin writes global application data')
  }
}

/** The value at `keys` below `value` (own members only), or undefined. */
function getAt(value: Json, keys: readonly string[]): Json | undefined {
  let node: Json | undefined = value
  for (const key of keys) {
    if (Array.isArray(node) && INDEX.test(key)) node = node[Number(key)]
    else if (isObject(node) && Object.hasOwn(node, key)) node = node[key]
    else return undefined
  }
  return node
}

/** `document` with `value` at `keys`, objects made on the way (a value in the way is replaced). */
function setAt(document: Json, keys: readonly string[], value: Json): Json {
  const root: JsonObject = isObject(document) ? document : {}
  let node: Json[] | JsonObject = root
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    const last = i === keys.length - 1
    if (Array.isArray(node)) {
      // An index within the array or just past its end: never a sparse array of a billion holes.
      const index = INDEX.test(key) ? Number(key) : -1
      if (index < 0 || index > node.length) {
        throw new KeelsonError(Errors.BAD_PATH, `"${key}" is not an index of the array it names`)
      }
      if (last) node[index] = value
      else node = container(node, index)
    } else if (last) node[key] = value
    else node = container(node, key)
  }
  return root
}

/** The object or array at `key` of `node`, an empty object put there when it holds neither. */
function container(node: Json[] | JsonObject, key: number | string): Json[] | JsonObject {
  const next = Array.isArray(node)
    ? node[key as number]
    : Object.hasOwn(node, key)
      ? node[key as string]
      : undefined
  if (isObject(next) || Array.isArray(next)) return next
  const made: JsonObject = {}
  if (Array.isArray(node)) node[key as number] = made
  else node[key as string] = made
  return made
}
