import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isObject, type Json, type JsonObject } from '../../src/core/json.js'
import { applyPatch, composeEffects, type Effect } from '../../src/core/merge-patch.js'
import { getAt, pathOf, readPath, type TreePath } from '../../src/core/path.js'
import { scopeEffect } from '../../src/core/scope.js'
import { compileAcl, type Permissions } from '../../src/security/acl.js'
import { AclView } from '../../src/security/acl-view.js'
import type { Acl, AclPermission, AclResource, UserType } from '../../src/security/types.js'

const SELF = 'S'
const clone = <T>(value: T): T => structuredClone(value)
const fold = (doc: Json | undefined, patch: Json): Json | undefined =>
  applyPatch(doc === undefined ? undefined : clone(doc), clone(patch)).doc

/** A tree, the view of `acls` for an anonymous reader over it, and helpers. */
function setup(acls: Acl[] | undefined, root: JsonObject, subject = {}) {
  const permissions = compileAcl(acls, subject, SELF)
  const view = new AclView(permissions, (segments) => getAt(root, segments))
  const read = (keys: string[]) => {
    const path = pathOf(keys)
    return view.read(path, readPath(root, path))
  }
  /** Applies `patch` to the tree; the change as a reader of `keys` sees it. */
  const write = (patch: JsonObject, keys: string[]) => {
    const { effect } = applyPatch(root, patch)
    const path = pathOf(keys)
    const scoped = effect && scopeEffect(effect, path)
    return scoped && view.scope(path, scoped)
  }
  return { view, read, write }
}

const leaf = (value: Json, $source = 'gps.GP'): JsonObject => ({
  value,
  $source,
  timestamp: '2024-05-01T12:00:00Z',
})

function boat(): JsonObject {
  return {
    version: '1.7.0',
    self: `vessels.${SELF}`,
    vessels: {
      S: {
        name: 'Keel',
        navigation: {
          speedOverGround: { ...leaf(3.2), meta: { units: 'm/s' } },
          position: leaf({ latitude: 60.1, longitude: 24.9 }),
        },
        environment: { wind: { speedApparent: leaf(7, 'ais.AI') } },
      },
      O: { navigation: { position: leaf({ latitude: 59, longitude: 24 }, 'ais.AI') } },
    },
    sources: { gps: { type: 'NMEA0183' } },
  }
}

/** The self vessel's navigation branch of {@link boat}. */
const NAV = getAt(boat(), ['vessels', SELF, 'navigation'])
const anyRead: AclPermission[] = [{ subject: 'any', permission: 'read' }]
const NAV_ONLY: Acl[] = [
  { context: 'vessels.self', resources: [{ paths: ['navigation.*'], permissions: anyRead }] },
]

describe('AclView', () => {
  it('leaves unreadable branches out of a read', () => {
    const { read } = setup(NAV_ONLY, boat())
    expect(read(['vessels', SELF])).toEqual({ navigation: NAV })
    expect(read([])).toEqual({
      version: '1.7.0',
      self: `vessels.${SELF}`,
      vessels: { S: { navigation: NAV } },
    })
  })

  it('reads nothing where nothing is readable, so the REST layer answers 403', () => {
    const { read } = setup(NAV_ONLY, boat())
    expect(read(['vessels', SELF, 'environment'])).toBeUndefined()
    expect(read(['vessels', 'O'])).toBeUndefined()
    expect(read(['vessels', SELF, 'name'])).toBeUndefined()
    expect(read(['sources'])).toBeUndefined()
  })

  it('reads primitives it may read', () => {
    const { read } = setup(NAV_ONLY, boat())
    expect(read(['vessels', SELF, 'navigation', 'speedOverGround', 'value'])).toBe(3.2)
    expect(read(['version'])).toBe('1.7.0')
  })

  it('reads wildcard paths as their prefix holding only readable matching branches', () => {
    const { read } = setup(NAV_ONLY, boat())
    expect(read(['vessels', '*', 'navigation', 'position', 'value'])).toEqual({
      S: { navigation: { position: { value: { latitude: 60.1, longitude: 24.9 } } } },
    })
    expect(read(['vessels', SELF, '*', 'speedOverGround', 'value'])).toEqual({
      navigation: { speedOverGround: { value: 3.2 } },
    })
  })

  it('keeps an empty container that the ACLs let it read into', () => {
    const root = boat()
    ;(root.vessels as JsonObject).S = { navigation: {} }
    expect(setup(NAV_ONLY, root).read(['vessels', SELF, 'navigation'])).toEqual({})
  })

  it('filters a change to the positions it may read', () => {
    const { write } = setup(NAV_ONLY, boat())
    expect(
      write({ vessels: { S: { navigation: { speedOverGround: { value: 4 } }, name: 'X' } } }, [
        'vessels',
        SELF,
      ]),
    ).toEqual({
      patch: { navigation: { speedOverGround: { value: 4 } } },
      inverse: { navigation: { speedOverGround: { value: 3.2 } } },
    })
  })

  it('gives no change when nothing it may read changed', () => {
    const { write } = setup(NAV_ONLY, boat())
    expect(write({ vessels: { S: { name: 'X' }, O: { name: 'Y' } } }, [])).toBeUndefined()
  })

  it('filters the old and the new value of a replaced subtree separately', () => {
    const acls: Acl[] = [
      {
        context: 'vessels.self',
        resources: [
          { paths: ['navigation.position.value.latitude'], permissions: [] },
          { paths: ['navigation.*'], permissions: anyRead },
        ],
      },
    ]
    const { write } = setup(acls, boat())
    // The position leaf is replaced by a number, then by an object again.
    expect(write({ vessels: { S: { navigation: { position: 5 } } } }, ['vessels', SELF])).toEqual({
      patch: { navigation: { position: 5 } },
      inverse: {
        navigation: {
          position: {
            value: { longitude: 24.9 },
            $source: 'gps.GP',
            timestamp: '2024-05-01T12:00:00Z',
          },
        },
      },
    })
    expect(
      write(
        { vessels: { S: { navigation: { position: { value: { latitude: 1, longitude: 2 } } } } } },
        ['vessels', SELF, 'navigation'],
      ),
    ).toEqual({ patch: { position: { value: { longitude: 2 } } }, inverse: { position: 5 } })
  })

  it("re-decides a leaf's members when its $source changes under a sources resource", () => {
    const acls: Acl[] = [
      { context: 'vessels.*', resources: [{ sources: ['gps.*'], permissions: anyRead }] },
    ]
    const { read, write } = setup(acls, boat())
    const at = ['vessels', SELF, 'navigation', 'speedOverGround']
    expect(read(at)).toEqual({ ...leaf(3.2), meta: {} })
    expect(
      write({ vessels: { S: { navigation: { speedOverGround: { $source: 'ais.AI' } } } } }, at),
    ).toEqual({
      patch: { value: null, $source: null, timestamp: null },
      inverse: { value: 3.2, $source: 'gps.GP', timestamp: '2024-05-01T12:00:00Z' },
    })
    expect(read(at)).toEqual({ meta: {} })
  })

  it('is the full view when there are no ACLs', () => {
    const view = new AclView(compileAcl(undefined, { type: 'readonly' }, SELF))
    expect(view.full).toBe(true)
    expect(view.key).toBe('full')
  })

  it('shares its key with views of the same permission class', () => {
    const a = new AclView(compileAcl(NAV_ONLY, { name: 'a', type: 'readonly' }, SELF))
    const b = new AclView(compileAcl(NAV_ONLY, {}, SELF))
    expect(a.key).toBe(b.key)
    expect(a.full).toBe(false)
  })
})

// ---------------------------------------------------------------------------
// Property: the §4 invariant for the visible part, and nothing unreadable shown.

/** Keys by depth: `$source` only at depth 4, so leaves are the `vessels.X.<group>.<name>` nodes. */
const KEYS: readonly (readonly string[])[] = [
  ['vessels', 'sources', 'version', 'self'],
  ['S', 'O', 'gps'],
  ['navigation', 'environment', 'name', 'type'],
  ['speed', 'position'],
  ['value', '$source', 'timestamp', 'meta', 'values'],
  ['lat', 'units', 'gps.1', 'ais.2'],
  ['value', 'lon'],
]
const primitive: fc.Arbitrary<Json> = fc.oneof(
  fc.integer({ min: 0, max: 3 }),
  fc.constantFrom('gps.1', 'ais.2', 'x'),
  fc.constant<Json>([1]),
)

const nodeArbs: fc.Arbitrary<Json>[] = []
for (let depth = KEYS.length; depth >= 1; depth--) {
  const below = nodeArbs[depth + 1]
  nodeArbs[depth] =
    below === undefined
      ? fc.oneof(primitive, fc.constant(null))
      : fc.oneof(
          { weight: 2, arbitrary: primitive },
          { weight: 1, arbitrary: fc.constant(null) },
          {
            weight: 4,
            arbitrary: fc.dictionary(fc.constantFrom(...KEYS[depth]!), below, { maxKeys: 3 }),
          },
        )
}
const rootPatchArb = fc.dictionary(fc.constantFrom(...KEYS[0]!), nodeArbs[1]!, {
  minKeys: 1,
  maxKeys: 2,
}) as fc.Arbitrary<JsonObject>

/** Signal K-like value updates: a leaf's value, `$source` or timestamp, often alone. */
const leafPatchArb: fc.Arbitrary<JsonObject> = fc
  .record({
    id: fc.constantFrom('S', 'O'),
    group: fc.constantFrom('navigation', 'environment'),
    name: fc.constantFrom('speed', 'position'),
    leaf: fc.record(
      {
        value: fc.oneof(
          fc.integer({ min: 0, max: 2 }),
          fc.constant({ lat: 1, lon: 2 }),
          fc.constant(null),
        ),
        $source: fc.constantFrom('gps.1', 'ais.2', null),
        timestamp: fc.constantFrom('t1', 't2'),
        values: fc.constant({ 'gps.1': { value: 1 }, 'ais.2': { value: 2 } }),
      },
      { requiredKeys: [] },
    ),
  })
  .map(({ id, group, name, leaf }) => ({ vessels: { [id]: { [group]: { [name]: leaf } } } }))
const patchArb = fc.oneof(rootPatchArb, { weight: 2, arbitrary: leafPatchArb })

const permissionArb = fc.record({
  subject: fc.constantFrom('alice', 'any', 'bob'),
  permission: fc.constantFrom<AclPermission['permission']>('read', 'write', 'put'),
})
const resourceArb: fc.Arbitrary<AclResource> = fc.oneof(
  fc.record({
    paths: fc.array(
      fc.constantFrom(
        '*',
        'navigation',
        'navigation.*',
        'navigation.speed',
        'navigation.speed.value',
        'navigation.position.*',
        'environment.*',
        '*.position',
        'navigation.position.value.lat',
        '*.meta.*',
        'type',
      ),
      { minLength: 1, maxLength: 2 },
    ),
    permissions: fc.array(permissionArb, { maxLength: 2 }),
  }),
  fc.record({
    sources: fc.array(fc.constantFrom('gps.*', 'ais.2', '*'), { minLength: 1, maxLength: 2 }),
    permissions: fc.array(permissionArb, { maxLength: 2 }),
  }),
)
const aclsArb: fc.Arbitrary<Acl[]> = fc.array(
  fc.record({
    context: fc.constantFrom('vessels.self', 'vessels.*', 'vessels.O', '*', 'sources.*'),
    resources: fc.array(resourceArb, { minLength: 1, maxLength: 3 }),
  }),
  { minLength: 1, maxLength: 3 },
)
const subjectArb = fc.record({
  name: fc.constantFrom('alice', undefined),
  type: fc.constantFrom<UserType | undefined>('readonly', 'readwrite', 'admin', undefined),
})

const PATHS: string[][] = [
  [],
  ['vessels'],
  ['vessels', 'S'],
  ['vessels', 'S', 'navigation'],
  ['vessels', 'S', 'navigation', 'speed'],
  ['vessels', 'O', 'navigation', 'position', 'value'],
  ['vessels', 'S', 'navigation', 'speed', '$source'],
  ['vessels', '*'],
  ['vessels', '*', 'navigation'],
  ['vessels', '*', 'navigation', '*'],
  ['vessels', '*', '*', 'speed'],
  ['vessels', 'S', 'navigation', '*', 'value'],
  ['vessels', '*', 'navigation', 'position', 'value', 'lat'],
  ['vessels', '*', 'navigation', 'speed', '*'],
  ['sources'],
  ['sources', '*', 'type'],
  ['version'],
]

/** The `$source` governing the value at `segments` (the oracle's own reading of the rule). */
function sourceAt(root: Json | undefined, segments: readonly string[]): string | undefined {
  if (segments.length <= 4) return undefined
  const node = getAt(root, segments, 0, 4)
  if (!isObject(node) || typeof node.$source !== 'string') return undefined
  if (segments[4] === 'values') return segments[5]
  return segments[4] === 'meta' ? undefined : node.$source
}

/** Throws unless every non-object value in `value` (at `at`) may be read. */
function checkReadable(
  permissions: Permissions,
  root: Json | undefined,
  at: string[],
  value: Json | undefined,
): void {
  if (value === undefined || value === null) return
  if (isObject(value)) {
    for (const key in value) checkReadable(permissions, root, [...at, key], value[key])
    return
  }
  if (!permissions.canRead(at, sourceAt(root, at))) {
    throw new Error(`${JSON.stringify(value)} at ${at.join('/')} may not be read`)
  }
}

/** True when a stream on `path` might miss a `$source` change (see the AclView notes). */
const insideLeaf = ({ segments }: TreePath) =>
  segments.length > 4 && !(segments.length === 5 && segments[4] === '*')

describe('AclView property', () => {
  it('folds filtered changes into the filtered read, and shows nothing unreadable', () => {
    fc.assert(
      fc.property(
        aclsArb,
        subjectArb,
        rootPatchArb,
        fc.array(patchArb, { minLength: 1, maxLength: 6 }),
        fc.array(fc.constantFrom(...PATHS), { minLength: 1, maxLength: 4 }),
        (acls, subject, initial, patches, paths) => {
          const usesSources = acls.some((a) => a.resources.some((r) => r.sources !== undefined))
          const permissions = compileAcl(acls, subject, SELF)
          const root: JsonObject = { version: '1.7.0', self: 'vessels.S', vessels: {} }
          applyPatch(root, clone(initial))
          const view = new AclView(permissions, (segments) => getAt(root, segments))
          const streams = paths
            .map((keys) => pathOf(keys))
            .filter((path) => !(usesSources && insideLeaf(path)))
            .map((path) => ({
              path,
              // Reads share the tree's objects, which later writes mutate: keep a copy.
              folded: clone(view.read(path, readPath(root, path))),
              effects: [] as Effect[],
            }))
          const start = streams.map((s) => clone(s.folded))
          for (const patch of patches) {
            const { effect } = applyPatch(root, clone(patch))
            for (const stream of streams) {
              const { path } = stream
              const prefix = path.segments.slice(0, path.starAt < 0 ? undefined : path.starAt)
              const scoped = effect && scopeEffect(effect, path)
              const seen = scoped && view.scope(path, scoped)
              if (seen) {
                checkReadable(permissions, root, prefix, seen.patch)
                const before = stream.folded
                stream.folded = fold(stream.folded, seen.patch)
                expect(fold(stream.folded, seen.inverse)).toEqual(before)
                stream.effects.push(seen)
              }
              const expected = view.read(path, readPath(root, path))
              checkReadable(permissions, root, prefix, expected)
              expect(stream.folded).toEqual(expected)
            }
          }
          // Coalescing: the composed filtered effects take the first read to the last.
          streams.forEach((stream, i) => {
            if (stream.effects.length === 0) return
            const composed = stream.effects.reduce(composeEffects)
            expect(fold(start[i], composed.patch)).toEqual(stream.folded)
          })
        },
      ),
      { numRuns: 300 },
    )
  })
})
