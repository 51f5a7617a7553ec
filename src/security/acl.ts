/**
 * ACLs in signalk-server's format, compiled once per subject into
 * {@link Permissions}: who may read, write or PUT each position of the tree
 * (SPEC §8).
 *
 * The rules, as signalk-server's `checkACL` applies them:
 * - The first ACL whose `context` matches decides; in it, the first resource
 *   whose `paths` (or, for a resource without `paths`, `sources`) match
 *   decides; in that resource, the permissions of the subject's name and of
 *   `any` are granted together. `write` implies `read`; `put` is only `put`.
 *   No matching ACL, resource or subject denies.
 * - Patterns are globs: `*` matches any text (dots included), every other
 *   character is literal. signalk-server builds a regex escaping only `.`;
 *   keelson escapes every regex character, so a `$` or `(` in a pattern is
 *   literal rather than a broken or surprising regex.
 * - The user's type caps what ACLs grant: `readonly` (and an anonymous
 *   reader, who has no type) never writes or PUTs.
 * - No ACLs at all (`acls` absent or empty): every reader reads everything;
 *   `readwrite` and `admin` write and PUT everywhere.
 *
 * How tree positions meet ACLs (where signalk-server and the SPEC are silent):
 * - A position's context is `<group>.<id>`, its first two keys
 *   (`vessels.urn:mrn:...`, `aircraft.x`, and the root `sources.<label>`).
 *   The self vessel's context matches a pattern through either of its names,
 *   `vessels.self` (as signalk-server) or `vessels.<selfKey>`.
 * - A position's path is the dot path of its keys after the context (`''` for
 *   the context node itself). A `paths` resource governs a position when one
 *   of its patterns matches the position's path or the path of an ancestor
 *   inside the context (the context node's `''` included): `navigation.*`
 *   grants `navigation.speedOverGround` and everything below it (its `value`,
 *   `$source`, `timestamp`, `meta`), and `navigation` alone grants the whole
 *   `navigation` branch.
 * - A `sources` resource governs the positions of a leaf (an object with a
 *   string `$source`, below the context node) by that `$source`: its `value`,
 *   `$source`, `timestamp` and everything else in it, except `meta` (governed
 *   by paths only) and its `values` map, whose entries are governed by their
 *   own key (the source that wrote them).
 * - The root's `version` and `self` are readable by every reader (never
 *   written through ACLs); any other non-object root member is denied.
 * - An object (a container) is part of what a reader sees, possibly as `{}`,
 *   when it is readable itself or when a resource before the one that governs
 *   it could grant `read` below it ({@link Permissions.holds}); this depends
 *   on the ACLs only, never on data, which is what lets a view filter a change
 *   from its patch alone. So a reader may see the keys of containers on the
 *   way to what it may read (vessel ids of a matching context, `navigation`),
 *   never a value it may not read.
 */
import { createHash } from 'node:crypto'
import type { Json } from '../core/json.js'
import { isObject } from '../core/json.js'
import type { Acl, AclResource, UserType } from './types.js'

/** Permission bits of a position. */
export const READ = 1
/** Permission bit: merge, replace or delete values (`write`). */
export const WRITE = 2
/** Permission bit: PUT requests (`put`, SPEC §11). */
export const PUT = 4

/** Who the permissions are for: a user or device name (none when anonymous) and its type. */
export interface AclSubject {
  /** The user name or device `clientId`; undefined for an anonymous reader (subject `any` only). */
  name?: string
  /** The user's type; undefined for an anonymous reader, capped like `readonly`. */
  type?: UserType
}

/** A `*` glob compiled once: its regex, and its text before the first `*` for prefix tests. */
interface Glob {
  readonly re: RegExp
  readonly head: string
  readonly star: boolean
}

/** One compiled resource: its kind, its patterns and what it grants the subject. */
interface Rule {
  readonly sources: boolean
  readonly globs: readonly Glob[]
  readonly grant: number
}

/** The compiled resources of the one ACL that decides a context. */
export interface ContextRules {
  readonly rules: readonly Rule[]
  /** Index of the first `sources` rule (`rules.length` when none). */
  readonly firstSources: number
}

/**
 * Where a walk of the tree stands: what decides the position's rights. Made
 * by {@link Permissions.root} and {@link Permissions.child}; shared, never mutated.
 */
export interface Position {
  /** 0: the root; 1: a group (`vessels`); 2: a context node or below. */
  readonly level: 0 | 1 | 2
  /** The group key (levels 1 and 2). */
  readonly group: string
  /** The deciding ACL's rules (level 2). */
  readonly rules: ContextRules | undefined
  /** The dot path inside the context (`''` at the context node). */
  readonly path: string
  /** Index of the first `paths` rule matching the path or an ancestor's (`rules.length`: none). */
  readonly first: number
  /** When >= 0, the rights of the position and of everything below it, whatever the data. */
  readonly fixed: number
}

const FIXED: readonly Position[] = Array.from({ length: 8 }, (_, grant) =>
  Object.freeze({ level: 2, group: '', rules: undefined, path: '', first: 0, fixed: grant }),
)
const ROOT: Position = Object.freeze({
  level: 0,
  group: '',
  rules: undefined,
  path: '',
  first: 0,
  fixed: -1,
})
/** Root members every reader may read (SPEC §1): the version and the self pointer. */
const ROOT_MEMBERS = new Set(['version', 'self'])
const CACHE_LIMIT = 10_000

/**
 * What one subject may do, position by position: the ACLs compiled once (no
 * regex is built after {@link compileAcl}). Readers with the same effective
 * rules get the same {@link key}.
 */
export class Permissions {
  /** Equal for two subjects whose effective rules are the same (a hash of them). */
  readonly key: string
  /** True when there are no ACLs: the subject reads everything (SPEC §8). */
  readonly readsAll: boolean
  /** True when there are no ACLs and the subject's type writes (`readwrite`, `admin`). */
  readonly writesAll: boolean
  private readonly rootPosition: Position
  private readonly contexts = new Map<string, ContextRules | null>()
  private readonly groups = new Map<string, Position>()

  /** @internal Use {@link compileAcl}. */
  constructor(
    private readonly acls: readonly { readonly context: Glob; readonly rules: ContextRules }[],
    private readonly selfKey: string,
    allGrant: number | undefined,
  ) {
    this.readsAll = allGrant !== undefined
    this.writesAll = allGrant !== undefined && (allGrant & WRITE) !== 0
    this.rootPosition = allGrant === undefined ? ROOT : FIXED[allGrant]!
    this.key = allGrant !== undefined ? `all:${allGrant}` : `acl:${digest(acls)}`
  }

  /** The position of the tree's root. */
  root(): Position {
    return this.rootPosition
  }

  /** The position of `key` below `pos`. */
  child(pos: Position, key: string): Position {
    if (pos.fixed >= 0) return pos
    if (pos.level === 0) {
      if (ROOT_MEMBERS.has(key)) return FIXED[READ]!
      return this.groupOf(key)
    }
    if (pos.level === 1) {
      const rules = this.contextOf(pos.group, key)
      if (rules === undefined) return FIXED[0]!
      return this.settle(pos.group, rules, '', firstPath(rules, '', rules.rules.length))
    }
    const rules = pos.rules!
    const path = pos.path === '' ? key : `${pos.path}.${key}`
    return this.settle(pos.group, rules, path, firstPath(rules, path, pos.first))
  }

  /** The position of `segments` (tree keys from the root). */
  at(segments: readonly string[], to = segments.length): Position {
    let pos = this.rootPosition
    for (let i = 0; i < to; i++) pos = this.child(pos, segments[i]!)
    return pos
  }

  /**
   * The rights (bits {@link READ}, {@link WRITE}, {@link PUT}) of a value at
   * `pos` that is not an object; `source` is the `$source` that governs it
   * (the enclosing leaf's, see the module notes), needed by `sources` resources.
   */
  grant(pos: Position, source?: string): number {
    if (pos.fixed >= 0) return pos.fixed
    if (pos.level < 2) return 0
    const { rules, firstSources } = pos.rules!
    let decided = pos.first
    if (source !== undefined) {
      for (let i = firstSources; i < decided; i++) {
        const rule = rules[i]!
        if (rule.sources && matchesAny(rule.globs, source)) decided = i
      }
    }
    return decided < rules.length ? rules[decided]!.grant : 0
  }

  /**
   * True when an object at `pos` is part of what the subject sees (possibly as
   * `{}`): it is readable, or a rule before the one that governs it could
   * grant `read` to something below it. Depends on the ACLs only, never on data.
   */
  holds(pos: Position): boolean {
    if (pos.fixed >= 0) return (pos.fixed & READ) !== 0
    if (pos.level < 2) return true
    const { rules } = pos.rules!
    if (pos.first < rules.length && (rules[pos.first]!.grant & READ) !== 0) return true
    const prefix = pos.path === '' ? '' : `${pos.path}.`
    for (let i = 0; i < pos.first; i++) {
      const rule = rules[i]!
      if ((rule.grant & READ) === 0) continue
      if (rule.sources || viableAny(rule.globs, prefix)) return true
    }
    return false
  }

  /** True when the rights below `pos` may depend on a leaf's `$source` (a `sources` rule can decide). */
  sourcesMatter(pos: Position): boolean {
    return pos.fixed < 0 && pos.level === 2 && pos.rules!.firstSources < pos.first
  }

  /** True when a value at `segments` that is not an object may be read (`source`: its leaf's `$source`). */
  canRead(segments: readonly string[], source?: string): boolean {
    return (this.grant(this.at(segments), source) & READ) !== 0
  }

  /** True when a value at `segments` may be written (`source`: its leaf's `$source` after the write). */
  canWrite(segments: readonly string[], source?: string): boolean {
    return (this.grant(this.at(segments), source) & WRITE) !== 0
  }

  /** True when a PUT request may address `segments` (`source`: its leaf's `$source`). */
  canPut(segments: readonly string[], source?: string): boolean {
    return (this.grant(this.at(segments), source) & PUT) !== 0
  }

  /**
   * A level-2 position; settled into a fixed one when no rule before the one
   * that governs it could match anything below it (nothing can change its
   * rights any more), so the rest of a walk costs nothing.
   */
  private settle(group: string, rules: ContextRules, path: string, first: number): Position {
    const prefix = path === '' ? '' : `${path}.`
    for (let i = 0; i < first; i++) {
      const rule = rules.rules[i]!
      if (rule.sources || viableAny(rule.globs, prefix)) {
        return { level: 2, group, rules, path, first, fixed: -1 }
      }
    }
    return FIXED[first < rules.rules.length ? rules.rules[first]!.grant : 0]!
  }

  /** The rules of the first ACL matching context `<group>.<id>`, or undefined when none does. */
  private contextOf(group: string, id: string): ContextRules | undefined {
    const name = `${group}.${id}`
    let rules = this.contexts.get(name)
    if (rules === undefined) {
      const self = group === 'vessels' && id === this.selfKey
      const acl = this.acls.find(
        ({ context }) => context.re.test(name) || (self && context.re.test('vessels.self')),
      )
      rules = acl?.rules ?? null
      if (this.contexts.size >= CACHE_LIMIT) this.contexts.clear()
      this.contexts.set(name, rules)
    }
    return rules ?? undefined
  }

  /** The position of root member `group`: nothing below it unless an ACL granting anything could match one of its contexts. */
  private groupOf(group: string): Position {
    let pos = this.groups.get(group)
    if (pos === undefined) {
      const prefix = `${group}.`
      const holds = this.acls.some(
        ({ context, rules }) =>
          viable(context, prefix) && rules.rules.some((rule) => rule.grant !== 0),
      )
      pos = holds ? Object.freeze({ ...ROOT, level: 1, group }) : FIXED[0]!
      if (this.groups.size >= CACHE_LIMIT) this.groups.clear()
      this.groups.set(group, pos)
    }
    return pos
  }
}

/** Marks the members of a leaf's `values` map: each is governed by its own key (its source). */
export const IN_VALUES: unique symbol = Symbol('values')

/** The `$source` that governs a position: a source label, none, or {@link IN_VALUES}. */
export type SourceContext = string | undefined | typeof IN_VALUES

/** True for positions that may be a leaf: below a context node, rights not yet fixed. */
export function isLeafLevel(pos: Position): boolean {
  return pos.level === 2 && pos.fixed < 0 && pos.path !== ''
}

/** The `$source` of a node, when it is a leaf (an object with a string `$source`). */
export function sourceOf(node: Json | undefined): string | undefined {
  if (!isObject(node)) return undefined
  const source = node.$source
  return typeof source === 'string' ? source : undefined
}

/**
 * The source context of member `key` of a node: a leaf's `$source` governs
 * its members, except `meta` (paths only) and `values` (each entry by its key).
 */
export function childSource(
  src: SourceContext,
  leafSource: string | undefined,
  key: string,
): SourceContext {
  if (leafSource !== undefined) {
    if (key === 'values') return IN_VALUES
    return key === 'meta' ? undefined : leafSource
  }
  return src === IN_VALUES ? key : src
}

/** Patterns compiled once per ACL list (a reload of the security file makes a new list). */
const compiled = new WeakMap<
  readonly Acl[],
  { context: Glob; resources: { sources: boolean; globs: Glob[]; resource: AclResource }[] }[]
>()

/**
 * Compiles `acls` for one subject (SPEC §8; the rules and the choices made
 * where signalk-server is silent are in this module's notes). `selfKey` is
 * the self vessel's key, which the context `vessels.self` names.
 */
export function compileAcl(
  acls: readonly Acl[] | undefined,
  subject: AclSubject,
  selfKey: string,
): Permissions {
  const cap = subject.type === 'readwrite' || subject.type === 'admin' ? READ | WRITE | PUT : READ
  if (acls === undefined || acls.length === 0) return new Permissions([], selfKey, cap)
  let patterns = compiled.get(acls)
  if (patterns === undefined) {
    patterns = acls.map((acl) => ({
      context: glob(String(acl.context)),
      resources: (acl.resources ?? []).map((resource) => {
        const sources = !Array.isArray(resource.paths) && Array.isArray(resource.sources)
        const list = (sources ? resource.sources : resource.paths) ?? []
        return { sources, globs: list.map((p) => glob(String(p))), resource }
      }),
    }))
    compiled.set(acls, patterns)
  }
  const forSubject = patterns.map(({ context, resources }) => {
    const rules = resources.map(({ sources, globs, resource }) => ({
      sources,
      globs,
      grant: grantOf(resource, subject.name) & cap,
    }))
    const firstSources = rules.findIndex((rule) => rule.sources)
    return {
      context,
      rules: { rules, firstSources: firstSources < 0 ? rules.length : firstSources },
    }
  })
  return new Permissions(forSubject, selfKey, undefined)
}

/** What `resource` grants the subject named `name` and `any`: `write` implies `read`. */
function grantOf(resource: AclResource, name: string | undefined): number {
  let grant = 0
  for (const { subject, permission } of resource.permissions ?? []) {
    if (subject !== 'any' && (name === undefined || subject !== name)) continue
    if (permission === 'read') grant |= READ
    else if (permission === 'write') grant |= READ | WRITE
    else if (permission === 'put') grant |= PUT
  }
  return grant
}

/** Index of the first `paths` rule before `limit` with a pattern matching `path`; `limit` when none. */
function firstPath(rules: ContextRules, path: string, limit: number): number {
  for (let i = 0; i < limit; i++) {
    const rule = rules.rules[i]!
    if (!rule.sources && matchesAny(rule.globs, path)) return i
  }
  return limit
}

function glob(pattern: string): Glob {
  const star = pattern.indexOf('*')
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[\\^$.|?+()[\]{}]/g, '\\$&'))
    .join('.*')
  return {
    re: new RegExp(`^${body}$`, 's'),
    head: star < 0 ? pattern : pattern.slice(0, star),
    star: star >= 0,
  }
}

function matchesAny(globs: readonly Glob[], text: string): boolean {
  for (const g of globs) if (g.re.test(text)) return true
  return false
}

/** True when `prefix` begins some text `g` matches. */
function viable(g: Glob, prefix: string): boolean {
  return g.head.startsWith(prefix) || (g.star && prefix.startsWith(g.head))
}

function viableAny(globs: readonly Glob[], prefix: string): boolean {
  for (const g of globs) if (viable(g, prefix)) return true
  return false
}

/** A short hash of the effective rules: context patterns, rule kinds, patterns and grants. */
function digest(acls: readonly { readonly context: Glob; readonly rules: ContextRules }[]): string {
  const canonical = acls.map(({ context, rules }) => [
    context.re.source,
    rules.rules.map((rule) => [
      rule.sources ? 's' : 'p',
      rule.globs.map((g) => g.re.source),
      rule.grant,
    ]),
  ])
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url').slice(0, 22)
}
