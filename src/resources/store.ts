/**
 * The resources of the Signal K v2 resources API (SPEC §11): routes,
 * waypoints, notes, regions, charts and registered custom types, each a map
 * of id to resource, checked against Signal K's schemas (src/resources/schema.ts),
 * kept on disk (src/resources/files.ts) and copied into the tree
 * (src/resources/tree-copy.ts) so every stream sees each change.
 *
 * On one server the store is the truth of what is saved. A write goes to
 * the tree first, through the write port with the writer's ACL check, and
 * is awaited; then the file is written; when the file cannot be written the
 * tree is put back and the write refused, so a refused write leaves nothing
 * applied. Writes are applied one at a time.
 *
 * On a cluster node ({@link ResourceStoreOptions.replicated}) the tree is
 * the truth: a write is only the tree write (appended to the cluster's log
 * and applied by every node), no file is read or written, and the store is
 * read back from the tree (src/resources/mirror.ts), so every node serves
 * what any node saved, and a node started late what the cluster holds.
 *
 * Other parts read it: the course API resolves a destination's `href` with
 * {@link ResourceStore.resolve}.
 *
 * @see https://signalk.org/specification/1.7.0/doc/resources.html
 * @see https://github.com/SignalK/signalk-server/blob/master/src/api/resources/index.ts
 */
import type { Logger } from 'pino'
import { Errors, KeelsonError } from '../core/errors.js'
import { isObject, type Json, type JsonObject, stripNulls } from '../core/json.js'
import { parseJson } from '../core/validate.js'
import type { View } from '../core/view.js'
import type { Authorize, WritePort } from '../core/write-port.js'
import type { KeelsonOptions } from '../options.js'
import { type CustomType, ResourceFiles } from './files.js'
import { type ListQuery, passes } from './filter.js'
import { type Entry, TreeMirror, TYPE_META } from './mirror.js'
import { checkId, checkResource, isValidId } from './schema.js'
import { type Copy, TreeCopy } from './tree-copy.js'

export { RESOURCE_SOURCE } from './tree-copy.js'

/** The types every server has (signalk-server's `SIGNALKRESOURCETYPES`). */
export const STANDARD_TYPES: readonly string[] = Object.freeze([
  'routes',
  'waypoints',
  'notes',
  'regions',
  'charts',
])

/**
 * Tree levels above a resource's body: `vessels`, the self key, `resources`,
 * the type, the id and the leaf's `value`. A body may nest `maxDepth` less these.
 */
export const LEVELS_ABOVE_BODY = 6

/** A custom type's name: safe as a folder name and as one key of a dot path. */
const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/

/** A resource named by its type and id, as an href names it. */
export interface ResourceRef {
  readonly type: string
  readonly id: string
}

/**
 * The type and id an href names: Signal K's `/resources/<type>/<id>` (the
 * course API's `href`, a note's `href`), also with the v2 API's prefix
 * `/signalk/v2/api/resources/<type>/<id>`. Undefined for anything else.
 */
export function parseHref(href: unknown): ResourceRef | undefined {
  if (typeof href !== 'string') return undefined
  const match = /^(?:\/signalk\/v2\/api)?\/resources\/([^/]+)\/([^/]+)\/?$/.exec(href)
  if (match === null) return undefined
  try {
    return { type: decodeURIComponent(match[1]!), id: decodeURIComponent(match[2]!) }
  } catch {
    return undefined
  }
}

/** Options of {@link ResourceStore}. */
export type ResourceStoreOptions = Pick<
  KeelsonOptions,
  'maxResourcesPerType' | 'maxResourceBytes' | 'maxResourceTypes' | 'maxBodyBytes' | 'maxDepth'
> & {
  /** The folder of resource files (`<persistDir>/resources`); undefined: kept in memory only. */
  readonly dir?: string
  /**
   * Whether start-up writes the resources read into the tree and removes
   * the tree's copies of resources whose files are gone. Default true; off
   * for a tree that is not this node's alone (a cluster's snapshot), where
   * writes of its own at start-up would put it out of step with the others.
   */
  readonly syncTree?: boolean
  /**
   * A cluster node (SPEC §9): the tree, which every node holds alike, is
   * the truth of the resources and custom types; `dir` is neither read nor
   * written. Default false.
   */
  readonly replicated?: boolean
  readonly log?: Logger
}

/** The resources this server holds, by type and id. */
export class ResourceStore {
  private readonly byType = new Map<string, Map<string, Entry>>()
  /** Registered custom types in registration order, with their descriptions. */
  private readonly custom: CustomType[] = []
  private readonly files: ResourceFiles | undefined
  private readonly copy: TreeCopy
  /** Set on a cluster node: the store is read from the tree. */
  private readonly mirror: TreeMirror | undefined
  private totalBytes = 0
  /** The last write in progress: writes run one after another. */
  private tail: Promise<unknown> = Promise.resolve()

  /**
   * Opens the store, reading what `options.dir` holds (synchronously: at
   * start-up) and writing it into the tree through `writes`; on a cluster
   * node, reading the tree instead and writing nothing.
   */
  constructor(
    writes: WritePort,
    private readonly options: ResourceStoreOptions,
  ) {
    this.copy = new TreeCopy(writes, options.log)
    for (const type of STANDARD_TYPES) this.byType.set(type, new Map())
    if (options.replicated === true) {
      this.files = undefined
      this.mirror = new TreeMirror(writes.tree, STANDARD_TYPES, options.maxResourceTypes, (name) =>
        TYPE_NAME.test(name),
      )
      return
    }
    this.mirror = undefined
    this.files = options.dir === undefined ? undefined : new ResourceFiles(options.dir)
    this.load()
  }

  /** The resource `id` of `type`, or undefined. Do not mutate it: it is the stored object. */
  get(type: string, id: string): JsonObject | undefined {
    this.refresh()
    return this.byType.get(type)?.get(id)?.value
  }

  /**
   * The resource an href names (`/resources/waypoints/<id>`, see
   * {@link parseHref}) with its type and id, or undefined when the href is
   * malformed or names nothing stored.
   */
  resolve(href: string): (ResourceRef & { readonly value: JsonObject }) | undefined {
    const ref = parseHref(href)
    if (ref === undefined) return undefined
    const value = this.get(ref.type, ref.id)
    return value === undefined ? undefined : { ...ref, value }
  }

  /** The types served: the five standard ones, then the registered custom types. */
  types(): string[] {
    this.refresh()
    return [...this.byType.keys()]
  }

  /** True when `type` is served. */
  has(type: string): boolean {
    this.refresh()
    return this.byType.has(type)
  }

  /** Throws RESOURCE_TYPE_NOT_FOUND unless `type` is served. */
  requireType(type: string): void {
    this.entries(type)
  }

  /** The registered custom types with their descriptions. */
  customTypes(): readonly CustomType[] {
    this.refresh()
    return this.custom
  }

  /**
   * The resources of `type` that `view` may read and that pass `query`, in
   * id order, keyed by id, each with its `timestamp` and `$source` (the
   * shape of signalk-server's list). Throws RESOURCE_TYPE_NOT_FOUND.
   */
  list(type: string, query: ListQuery, view: View): JsonObject {
    const entries = this.entries(type)
    if (query.distance !== undefined && query.position === undefined) {
      const own = this.copy.selfPosition(view)
      if (own !== undefined) query = { ...query, position: own }
    }
    const out: JsonObject = {}
    let count = 0
    for (const id of [...entries.keys()].sort()) {
      if (query.limit !== undefined && count >= query.limit) break
      const entry = entries.get(id)!
      if (!passes(entry.value, type, query)) continue
      const value = this.copy.visible(view, type, id, entry)
      if (value === undefined) continue
      out[id] = value
      count++
    }
    return out
  }

  /**
   * The resource `id` of `type` as `view` may read it, with `timestamp` and
   * `$source`. Throws RESOURCE_TYPE_NOT_FOUND, RESOURCE_NOT_FOUND, FORBIDDEN.
   */
  read(type: string, id: string, view: View): JsonObject {
    const entry = this.entries(type).get(id)
    if (entry === undefined) throw notFound(type, id)
    const value = this.copy.visible(view, type, id, entry)
    if (value === undefined) {
      throw new KeelsonError(Errors.FORBIDDEN, `You may not read ${type}/${id}`)
    }
    return value
  }

  /**
   * Saves `value` as the resource `id` of `type` (a new one or a
   * replacement), after checking the id and the body against the type's
   * schema, the store's bounds and `authorize` (the writer's ACLs, on
   * `resources.<type>.<id>`). Resolves true when it was new. Rejects with a
   * {@link KeelsonError}, nothing applied.
   */
  async set(type: string, id: string, value: Json, authorize?: Authorize): Promise<boolean> {
    this.entries(type)
    const standard = STANDARD_TYPES.includes(type)
    checkId(type, id, standard)
    if (this.mirror !== undefined && !standard && id === TYPE_META) {
      throw new KeelsonError(
        Errors.BAD_RESOURCE_ID,
        `Invalid resource id provided ("${TYPE_META}"): in a cluster it holds the type's description`,
      )
    }
    const body = isObject(value) ? (stripNulls(value) as JsonObject) : value
    checkResource(type, body)
    const text = JSON.stringify(body)
    const bytes = Buffer.byteLength(text)
    return this.serial(async () => {
      // Read again in turn: a write queued before this one may have changed the store.
      const entries = this.entries(type)
      const before = entries.get(id)
      if (before === undefined && entries.size >= this.options.maxResourcesPerType) {
        throw new KeelsonError(
          Errors.RESOURCES_FULL,
          `${type} holds ${entries.size} resources, the most allowed (maxResourcesPerType)`,
        )
      }
      if (this.totalBytes - (before?.bytes ?? 0) + bytes > this.options.maxResourceBytes) {
        throw new KeelsonError(
          Errors.RESOURCES_FULL,
          `The resources would pass ${this.options.maxResourceBytes} bytes (maxResourceBytes)`,
        )
      }
      const entry: Entry = { value: body, timestamp: new Date().toISOString(), bytes }
      await this.copy.set(type, id, entry, authorize)
      // On a cluster node the tree write is the whole write: the store reads it back from there.
      if (this.mirror !== undefined) return before === undefined
      if (this.files !== undefined) {
        try {
          await this.files.write(type, id, text)
        } catch (err) {
          await this.copy.putBack(type, id, before)
          throw notSaved(err, this.options.log)
        }
      }
      entries.set(id, entry)
      this.totalBytes += bytes - (before?.bytes ?? 0)
      return before === undefined
    })
  }

  /**
   * Removes the resource `id` of `type` when `authorize` allows. Rejects
   * with RESOURCE_NOT_FOUND, a refusal of `authorize`, or UNAVAILABLE when
   * its file cannot be removed (then nothing is removed).
   */
  async delete(type: string, id: string, authorize?: Authorize): Promise<void> {
    this.entries(type)
    return this.serial(async () => {
      const entries = this.entries(type)
      const before = entries.get(id)
      if (before === undefined) throw notFound(type, id)
      try {
        await this.copy.remove(type, id, authorize)
      } catch (err) {
        // On a cluster node another node's delete may have come first in the log.
        if (err instanceof KeelsonError && err.kind === Errors.PATH_NOT_FOUND) {
          throw notFound(type, id)
        }
        throw err
      }
      if (this.mirror !== undefined) return
      if (this.files !== undefined) {
        try {
          await this.files.remove(type, id)
        } catch (err) {
          await this.copy.putBack(type, id, before)
          throw notSaved(err, this.options.log)
        }
      }
      entries.delete(id)
      this.totalBytes -= before.bytes
    })
  }

  /**
   * Registers the custom type `name` (signalk-server's resources-provider
   * `POST /plugins/resources-provider/_config/<name>`), with the resources
   * its folder already holds. `authorize` must allow writing
   * `resources.<name>`. Rejects with BAD_RESOURCE_TYPE,
   * RESOURCE_TYPE_EXISTS, RESOURCES_FULL or UNAVAILABLE.
   */
  async registerType(name: string, description: string, authorize?: Authorize): Promise<void> {
    if (!TYPE_NAME.test(name)) {
      throw new KeelsonError(
        Errors.BAD_RESOURCE_TYPE,
        `${JSON.stringify(name.slice(0, 80))} is not a custom type name`,
      )
    }
    return this.serial(async () => {
      this.refresh()
      const lower = name.toLowerCase()
      if (this.types().some((t) => t.toLowerCase() === lower)) {
        throw new KeelsonError(Errors.RESOURCE_TYPE_EXISTS, `Collection already exists! (${name})`)
      }
      if (this.custom.length >= this.options.maxResourceTypes) {
        throw new KeelsonError(
          Errors.RESOURCES_FULL,
          `${this.custom.length} custom types are registered, the most allowed (maxResourceTypes)`,
        )
      }
      this.copy.authorizeType(name, authorize)
      const type = { name, description: description.slice(0, 1024) }
      if (this.mirror !== undefined) {
        // Registered in the tree, so on every node; unregistering removes it, resources and all.
        await this.copy.describe(name, type.description)
        return
      }
      if (this.files !== undefined) {
        try {
          this.files.ensureTypeSync(name)
          await this.files.writeTypes([...this.custom, type])
        } catch (err) {
          throw notSaved(err, this.options.log)
        }
      }
      this.custom.push(type)
      this.byType.set(name, new Map())
      this.loadType(name)
    })
  }

  /**
   * Unregisters the custom type `name` (signalk-server's `DELETE
   * /plugins/resources-provider/_config/<name>`): it is no longer served
   * and its copies leave the tree; its files stay on disk, as there, and
   * come back if it is registered again. `authorize` must allow writing
   * `resources.<name>`. Rejects with RESOURCE_TYPE_NOT_FOUND,
   * BAD_RESOURCE_TYPE (a standard type) or UNAVAILABLE.
   */
  async unregisterType(name: string, authorize?: Authorize): Promise<void> {
    if (STANDARD_TYPES.includes(name)) {
      throw new KeelsonError(Errors.BAD_RESOURCE_TYPE, `${name} is a standard type`)
    }
    return this.serial(async () => {
      const entries = this.entries(name)
      await this.copy.remove(name, undefined, authorize)
      if (this.mirror !== undefined) return
      const custom = this.custom.filter((t) => t.name !== name)
      if (this.files !== undefined) {
        try {
          await this.files.writeTypes(custom)
        } catch (err) {
          // Still registered: its copies go back into the tree.
          for (const [id, entry] of entries) await this.copy.putBack(name, id, entry)
          throw notSaved(err, this.options.log)
        }
      }
      this.custom.splice(0, this.custom.length, ...custom)
      for (const entry of entries.values()) this.totalBytes -= entry.bytes
      this.byType.delete(name)
    })
  }

  /** Runs `task` after every write before it, so writes never interleave. */
  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task, task)
    this.tail = run.catch(() => {})
    return run
  }

  /** On a cluster node, brings the store in step with the tree (cheap when nothing changed). */
  private refresh(): void {
    if (this.mirror !== undefined) {
      this.totalBytes = this.mirror.sync({ byType: this.byType, custom: this.custom })
    }
  }

  private entries(type: string): Map<string, Entry> {
    this.refresh()
    const entries = this.byType.get(type)
    if (entries === undefined) {
      throw new KeelsonError(
        Errors.RESOURCE_TYPE_NOT_FOUND,
        `No resource type ${JSON.stringify(type.slice(0, 80))} is served`,
      )
    }
    return entries
  }

  /** Reads every type's folder at start-up, and drops the tree's copies of what is gone. */
  private load(): void {
    if (this.files === undefined) return
    const log = this.options.log
    for (const { name, description } of this.files.readTypes((err) =>
      log?.warn({ err }, 'the custom resource types file is unreadable; none registered'),
    )) {
      if (!TYPE_NAME.test(name) || this.byType.has(name)) continue
      if (this.custom.length >= this.options.maxResourceTypes) break
      this.custom.push({ name, description })
      this.byType.set(name, new Map())
    }
    for (const type of this.byType.keys()) this.loadType(type)
    if (this.options.syncTree === false) return
    this.copy.dropStale((type, id) => this.byType.get(type)?.has(id))
  }

  /**
   * Reads the folder of `type` into the store and writes what it holds into
   * the tree. A file that is not a valid resource, or one past the store's
   * bounds, is left out and logged.
   */
  private loadType(type: string): void {
    if (this.files === undefined) return
    const log = this.options.log
    const entries = this.byType.get(type)!
    const standard = STANDARD_TYPES.includes(type)
    const maxDepth = this.options.maxDepth - LEVELS_ABOVE_BODY
    const files = this.files.readType(
      type,
      (id) => isValidId(type, id, standard),
      this.options.maxBodyBytes,
      (id, err) => log?.warn({ err, type, id }, 'a resource file is unreadable; left out'),
    )
    const loaded: (Copy & { id: string })[] = []
    for (const file of files) {
      try {
        const parsed = parseJson(file.text, { maxDepth })
        const value = isObject(parsed) ? (stripNulls(parsed) as JsonObject) : parsed
        checkResource(type, value)
        const bytes = Buffer.byteLength(file.text)
        if (entries.size >= this.options.maxResourcesPerType) {
          throw new Error('maxResourcesPerType reached')
        }
        if (this.totalBytes + bytes > this.options.maxResourceBytes) {
          throw new Error('maxResourceBytes reached')
        }
        const held = this.copy.holds(type, file.id, value)
        const entry: Entry = {
          value,
          timestamp: held?.timestamp ?? file.mtime.toISOString(),
          bytes,
        }
        entries.set(file.id, entry)
        this.totalBytes += bytes
        if (held === undefined) loaded.push({ id: file.id, ...entry })
      } catch (err) {
        log?.warn({ err, type, id: file.id }, 'a resource file is not a valid resource; left out')
      }
    }
    if (this.options.syncTree !== false) this.copy.load(type, loaded)
  }
}

function notFound(type: string, id: string): KeelsonError {
  return new KeelsonError(
    Errors.RESOURCE_NOT_FOUND,
    `Resource not found! (${type}/${JSON.stringify(id.slice(0, 140))})`,
  )
}

function notSaved(err: unknown, log: Logger | undefined): KeelsonError {
  log?.error({ err }, 'a resource could not be saved')
  return new KeelsonError(
    Errors.UNAVAILABLE,
    'The resource could not be saved to disk; retry later',
  )
}
