import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isEmptyObject, isObject, type Json, type JsonObject } from '../../src/core/json.js'
import { compileAcl } from '../../src/security/acl.js'
import { checkWrite } from '../../src/security/acl-write.js'
import type { Acl, AclPermission, UserType } from '../../src/security/types.js'

const SELF = 'S'
const skipper = { name: 'skipper', type: 'readwrite' as UserType }
const write = (subject: string): AclPermission[] => [{ subject, permission: 'write' }]
const NAV_WRITE: Acl[] = [
  {
    context: 'vessels.self',
    resources: [
      { paths: ['navigation.position.value.latitude'], permissions: [] },
      { paths: ['navigation.*'], permissions: write('skipper') },
      { paths: ['*'], permissions: [{ subject: 'any', permission: 'read' }] },
    ],
  },
]
const check = (patch: JsonObject, root?: Json, acls = NAV_WRITE, subject = skipper) =>
  checkWrite(compileAcl(acls, subject, SELF), patch, root)

describe('checkWrite', () => {
  it('allows a write that touches only writable positions', () => {
    expect(
      check({ vessels: { S: { navigation: { speedOverGround: { value: 3, $source: 'x' } } } } }),
    ).toBeUndefined()
  })

  it('names the first position the writer may not write', () => {
    expect(
      check({ vessels: { S: { navigation: { speedOverGround: { value: 3 } }, name: 'Keel' } } }),
    ).toEqual(['vessels', SELF, 'name'])
  })

  it('does not count the containers a write creates on the way as touched', () => {
    expect(
      check({ vessels: { S: { navigation: { position: { value: { longitude: 2 } } } } } }),
    ).toBeUndefined()
  })

  it('counts an empty object it creates as touched', () => {
    expect(check({ vessels: { S: { design: {} } } })).toEqual(['vessels', SELF, 'design'])
  })

  it('checks a deleted branch at its position', () => {
    expect(check({ vessels: { S: { navigation: null } } })).toEqual(['vessels', SELF, 'navigation'])
  })

  it('checks every value a deletion removes, given the tree', () => {
    const root = {
      vessels: { S: { navigation: { position: { value: { latitude: 1, longitude: 2 } } } } },
    }
    expect(check({ vessels: { S: { navigation: { position: null } } } })).toBeUndefined()
    expect(check({ vessels: { S: { navigation: { position: null } } } }, root)).toEqual([
      'vessels',
      SELF,
      'navigation',
      'position',
      'value',
      'latitude',
    ])
  })

  it('checks a value an object replaces, given the tree', () => {
    const root = { vessels: { S: { name: 'Keel' } } }
    const acls: Acl[] = [
      {
        context: 'vessels.self',
        resources: [{ paths: ['name.*'], permissions: write('skipper') }],
      },
    ]
    expect(check({ vessels: { S: { name: { first: 'K' } } } }, undefined, acls)).toBeUndefined()
    expect(check({ vessels: { S: { name: { first: 'K' } } } }, root, acls)).toEqual([
      'vessels',
      SELF,
      'name',
    ])
  })

  it('refuses a readonly user at the first position, whatever the ACLs grant', () => {
    expect(
      check(
        { vessels: { S: { navigation: { speedOverGround: { value: 3 } } } } },
        undefined,
        NAV_WRITE,
        {
          name: 'skipper',
          type: 'readonly',
        },
      ),
    ).toEqual(['vessels', SELF, 'navigation', 'speedOverGround', 'value'])
  })

  it('allows every write of a readwrite user when there are no ACLs', () => {
    expect(check({ vessels: { S: { name: 'Keel' } }, version: 'x' }, undefined, [])).toBeUndefined()
  })

  it('never lets ACLs write the root version or self', () => {
    const acls: Acl[] = [{ context: '*', resources: [{ paths: ['*'], permissions: write('any') }] }]
    expect(check({ self: 'vessels.O' }, undefined, acls)).toEqual(['self'])
  })

  it("decides a sources resource with the $source the write sets, else the leaf's current one", () => {
    const acls: Acl[] = [
      {
        context: 'vessels.*',
        resources: [{ sources: ['skipper.*'], permissions: write('skipper') }],
      },
    ]
    const leaf = (patch: JsonObject) => ({ vessels: { S: { navigation: { log: patch } } } })
    expect(check(leaf({ value: 1, $source: 'skipper.app' }), undefined, acls)).toBeUndefined()
    expect(check(leaf({ value: 1, $source: 'gps.GP' }), undefined, acls)).toEqual([
      'vessels',
      SELF,
      'navigation',
      'log',
      'value',
    ])
    const root = leaf({ value: 0, $source: 'skipper.app' })
    expect(check(leaf({ value: 1 }), root, acls)).toBeUndefined()
    expect(check(leaf({ value: 1 }), undefined, acls)).toEqual([
      'vessels',
      SELF,
      'navigation',
      'log',
      'value',
    ])
  })
})

// ---------------------------------------------------------------------------
// Property: refused exactly when a touched position is not writable, and the one named is.

const KEYS = [
  ['vessels', 'self'],
  ['S', 'O'],
  ['navigation', 'name'],
  ['speed', 'position'],
  ['value', 'meta'],
]
const nodeArb = (depth: number): fc.Arbitrary<Json> =>
  depth >= KEYS.length
    ? fc.oneof(fc.integer({ min: 0, max: 2 }), fc.constant(null))
    : fc.oneof(
        fc.integer({ min: 0, max: 2 }),
        fc.constant(null),
        fc.dictionary(fc.constantFrom(...KEYS[depth]!), nodeArb(depth + 1), { maxKeys: 2 }),
      )
const patchArb = fc.dictionary(fc.constantFrom(...KEYS[0]!), nodeArb(1), {
  minKeys: 1,
  maxKeys: 2,
}) as fc.Arbitrary<JsonObject>
const aclsArb: fc.Arbitrary<Acl[]> = fc.array(
  fc.record({
    context: fc.constantFrom('vessels.self', 'vessels.*', '*'),
    resources: fc.array(
      fc.record({
        paths: fc.array(
          fc.constantFrom('*', 'navigation.*', 'navigation', 'name', '*.value', 'navigation.speed'),
          {
            minLength: 1,
            maxLength: 2,
          },
        ),
        permissions: fc.array(
          fc.record({
            subject: fc.constantFrom('skipper', 'any', 'crew'),
            permission: fc.constantFrom<AclPermission['permission']>('read', 'write', 'put'),
          }),
          { maxLength: 2 },
        ),
      }),
      { minLength: 1, maxLength: 3 },
    ),
  }),
  { maxLength: 2 },
)

/** The positions a patch touches, by the rule of acl-write.ts, in patch order. */
function touched(patch: JsonObject, at: string[] = [], out: string[][] = []): string[][] {
  for (const key in patch) {
    const value = patch[key]!
    if (isObject(value) && !isEmptyObject(value)) touched(value, [...at, key], out)
    else out.push([...at, key])
  }
  return out
}

describe('checkWrite property', () => {
  it('refuses exactly the writes touching a position it may not write, naming the first', () => {
    fc.assert(
      fc.property(
        aclsArb,
        fc.constantFrom<UserType>('readonly', 'readwrite', 'admin'),
        patchArb,
        (acls, type, patch) => {
          const permissions = compileAcl(acls, { name: 'skipper', type }, SELF)
          const refused = touched(patch).find((at) => !permissions.canWrite(at))
          expect(checkWrite(permissions, patch)).toEqual(refused)
        },
      ),
      { numRuns: 300 },
    )
  })
})
