import { describe, expect, it } from 'vitest'
import { compileAcl } from '../../src/security/acl.js'
import type { Acl, AclPermission, UserType } from '../../src/security/types.js'

const SELF = 'urn:mrn:signalk:uuid:c0d79334-4e25-4245-8892-54e8ccc8021d'
const OTHER = 'urn:mrn:imo:mmsi:230099999'
const self = (...keys: string[]) => ['vessels', SELF, ...keys]
const other = (...keys: string[]) => ['vessels', OTHER, ...keys]
const SOG = self('navigation', 'speedOverGround', 'value')

const grant = (subject: string, permission: AclPermission['permission']): AclPermission => ({
  subject,
  permission,
})
const acl = (context: string, ...resources: Acl['resources']): Acl => ({ context, resources })
const user = (name: string | undefined, type?: UserType) => ({ name, type })

/** What `subject` may do at `segments`: 'r', 'w', 'rw' or '' (put left out). */
function rights(
  acls: Acl[] | undefined,
  subject: { name?: string; type?: UserType },
  segments: string[],
  source?: string,
): string {
  const p = compileAcl(acls, subject, SELF)
  return (p.canRead(segments, source) ? 'r' : '') + (p.canWrite(segments, source) ? 'w' : '')
}

describe('compileAcl: the rules of SPEC §8', () => {
  const cases: {
    rule: string
    acls: Acl[] | undefined
    subject: { name?: string; type?: UserType }
    at: string[]
    source?: string
    expected: string
  }[] = [
    {
      rule: 'the first ACL whose context matches decides, even when a later one grants more',
      acls: [
        acl('vessels.self', { paths: ['*'], permissions: [grant('alice', 'read')] }),
        acl('vessels.*', { paths: ['*'], permissions: [grant('alice', 'write')] }),
      ],
      subject: user('alice', 'readwrite'),
      at: SOG,
      expected: 'r',
    },
    {
      rule: 'a later ACL decides the contexts the first does not match',
      acls: [
        acl('vessels.self', { paths: ['*'], permissions: [grant('alice', 'read')] }),
        acl('vessels.*', { paths: ['*'], permissions: [grant('alice', 'write')] }),
      ],
      subject: user('alice', 'readwrite'),
      at: other('navigation', 'position', 'value'),
      expected: 'rw',
    },
    {
      rule: 'the first resource whose paths match decides',
      acls: [
        acl(
          '*',
          { paths: ['navigation.position'], permissions: [grant('bob', 'read')] },
          { paths: ['navigation.*'], permissions: [grant('bob', 'write')] },
        ),
      ],
      subject: user('bob', 'admin'),
      at: self('navigation', 'position', 'value', 'latitude'),
      expected: 'r',
    },
    {
      rule: 'a later resource decides the paths the first does not match',
      acls: [
        acl(
          '*',
          { paths: ['navigation.position'], permissions: [grant('bob', 'read')] },
          { paths: ['navigation.*'], permissions: [grant('bob', 'write')] },
        ),
      ],
      subject: user('bob', 'admin'),
      at: SOG,
      expected: 'rw',
    },
    {
      rule: 'a matching resource without the subject denies, whatever later resources say',
      acls: [
        acl(
          'vessels.self',
          { paths: ['navigation.*'], permissions: [grant('carol', 'read')] },
          { paths: ['*'], permissions: [grant('any', 'read')] },
        ),
      ],
      subject: user('dave', 'readonly'),
      at: SOG,
      expected: '',
    },
    {
      rule: 'write implies read',
      acls: [acl('vessels.self', { paths: ['*'], permissions: [grant('alice', 'write')] })],
      subject: user('alice', 'readwrite'),
      at: SOG,
      expected: 'rw',
    },
    {
      rule: 'put implies neither read nor write',
      acls: [acl('vessels.self', { paths: ['*'], permissions: [grant('alice', 'put')] })],
      subject: user('alice', 'readwrite'),
      at: SOG,
      expected: '',
    },
    {
      rule: 'a readonly user never writes, whatever the ACL grants',
      acls: [acl('vessels.self', { paths: ['*'], permissions: [grant('eve', 'write')] })],
      subject: user('eve', 'readonly'),
      at: SOG,
      expected: 'r',
    },
    {
      rule: 'the subject any matches an anonymous reader',
      acls: [acl('vessels.self', { paths: ['*'], permissions: [grant('any', 'write')] })],
      subject: {},
      at: SOG,
      expected: 'r',
    },
    {
      rule: 'the subject any matches every named user too',
      acls: [acl('vessels.self', { paths: ['*'], permissions: [grant('any', 'write')] })],
      subject: user('frank', 'readwrite'),
      at: SOG,
      expected: 'rw',
    },
    {
      rule: 'the rights of the name and of any add up',
      acls: [
        acl('vessels.self', {
          paths: ['*'],
          permissions: [grant('any', 'read'), grant('frank', 'write')],
        }),
      ],
      subject: user('frank', 'readwrite'),
      at: SOG,
      expected: 'rw',
    },
    {
      rule: 'no matching ACL denies',
      acls: [acl('aircraft.*', { paths: ['*'], permissions: [grant('any', 'write')] })],
      subject: user('alice', 'admin'),
      at: SOG,
      expected: '',
    },
    {
      rule: 'no matching resource denies',
      acls: [
        acl('vessels.self', { paths: ['environment.*'], permissions: [grant('any', 'read')] }),
      ],
      subject: user('alice', 'admin'),
      at: SOG,
      expected: '',
    },
    {
      rule: 'no ACLs: a readwrite user reads and writes everything',
      acls: undefined,
      subject: user('alice', 'readwrite'),
      at: other('navigation', 'position', 'value'),
      expected: 'rw',
    },
    {
      rule: 'an empty ACL list counts as no ACLs',
      acls: [],
      subject: user('alice', 'admin'),
      at: ['sources', 'gps', 'type'],
      expected: 'rw',
    },
    {
      rule: 'no ACLs: a readonly user reads everything and writes nothing',
      acls: undefined,
      subject: user('ro', 'readonly'),
      at: SOG,
      expected: 'r',
    },
    {
      rule: 'no ACLs: an anonymous reader reads everything and writes nothing',
      acls: undefined,
      subject: {},
      at: SOG,
      expected: 'r',
    },
    {
      rule: 'vessels.self does not match another vessel',
      acls: [acl('vessels.self', { paths: ['*'], permissions: [grant('any', 'read')] })],
      subject: {},
      at: other('navigation', 'position', 'value'),
      expected: '',
    },
    {
      rule: 'vessels.* matches the self vessel',
      acls: [acl('vessels.*', { paths: ['*'], permissions: [grant('any', 'read')] })],
      subject: {},
      at: SOG,
      expected: 'r',
    },
    {
      rule: "the self vessel's own key names it as a context too",
      acls: [acl(`vessels.${SELF}`, { paths: ['*'], permissions: [grant('any', 'read')] })],
      subject: {},
      at: SOG,
      expected: 'r',
    },
    {
      rule: 'a path pattern governs everything below what it matches',
      acls: [acl('vessels.self', { paths: ['navigation.*'], permissions: [grant('any', 'read')] })],
      subject: {},
      at: self('navigation', 'speedOverGround', 'meta', 'units'),
      expected: 'r',
    },
    {
      rule: 'a pattern without a star governs its whole branch',
      acls: [acl('vessels.self', { paths: ['navigation'], permissions: [grant('any', 'read')] })],
      subject: {},
      at: self('navigation', 'position', '$source'),
      expected: 'r',
    },
    {
      rule: 'navigation.* does not match navigation itself',
      acls: [acl('vessels.self', { paths: ['navigation.*'], permissions: [grant('any', 'read')] })],
      subject: {},
      at: self('navigation'),
      expected: '',
    },
    {
      rule: 'a dot in a pattern is literal',
      acls: [
        acl('vessels.self', { paths: ['navigation.s*'], permissions: [grant('any', 'read')] }),
      ],
      subject: {},
      at: self('navigationXs', 'value'),
      expected: '',
    },
    {
      rule: 'regex characters in a pattern are literal',
      acls: [acl('vessels.self', { paths: ['a(b|c)$'], permissions: [grant('any', 'read')] })],
      subject: {},
      at: self('a(b|c)$', 'value'),
      expected: 'r',
    },
    {
      rule: "a sources resource grants a leaf's values by their $source",
      acls: [acl('vessels.*', { sources: ['gps.*'], permissions: [grant('any', 'read')] })],
      subject: {},
      at: SOG,
      source: 'gps.GP',
      expected: 'r',
    },
    {
      rule: 'a sources resource does not grant values of another source',
      acls: [acl('vessels.*', { sources: ['gps.*'], permissions: [grant('any', 'read')] })],
      subject: {},
      at: SOG,
      source: 'ais.AI',
      expected: '',
    },
    {
      rule: 'a sources resource does not grant values without a source',
      acls: [acl('vessels.*', { sources: ['*'], permissions: [grant('any', 'read')] })],
      subject: {},
      at: self('name'),
      expected: '',
    },
    {
      rule: 'a paths resource before a sources resource wins',
      acls: [
        acl(
          'vessels.*',
          { paths: ['navigation.*'], permissions: [grant('other', 'read')] },
          { sources: ['gps.*'], permissions: [grant('any', 'read')] },
        ),
      ],
      subject: {},
      at: SOG,
      source: 'gps.GP',
      expected: '',
    },
    {
      rule: 'a sources resource before a paths resource wins',
      acls: [
        acl(
          'vessels.*',
          { sources: ['gps.*'], permissions: [grant('any', 'read')] },
          { paths: ['navigation.*'], permissions: [grant('other', 'read')] },
        ),
      ],
      subject: {},
      at: SOG,
      source: 'gps.GP',
      expected: 'r',
    },
    {
      rule: 'a resource with both paths and sources uses its paths, as signalk-server',
      acls: [
        acl('vessels.*', {
          paths: ['environment.*'],
          sources: ['*'],
          permissions: [grant('any', 'read')],
        }),
      ],
      subject: {},
      at: SOG,
      source: 'gps.GP',
      expected: '',
    },
    {
      rule: 'the root version is readable by every reader under ACLs',
      acls: [acl('aircraft.*', { paths: ['*'], permissions: [grant('x', 'read')] })],
      subject: {},
      at: ['version'],
      expected: 'r',
    },
    {
      rule: 'the root self is readable by every reader and written by nobody under ACLs',
      acls: [acl('*', { paths: ['*'], permissions: [grant('any', 'write')] })],
      subject: user('alice', 'admin'),
      at: ['self'],
      expected: 'r',
    },
    {
      rule: 'the root sources are the contexts sources.<label>',
      acls: [acl('sources.*', { paths: ['*'], permissions: [grant('any', 'read')] })],
      subject: {},
      at: ['sources', 'gps', 'type'],
      expected: 'r',
    },
    {
      rule: 'the root sources are denied when no ACL matches them',
      acls: [acl('vessels.*', { paths: ['*'], permissions: [grant('any', 'read')] })],
      subject: {},
      at: ['sources', 'gps', 'type'],
      expected: '',
    },
    {
      rule: 'a context pattern * covers the root sources',
      acls: [acl('*', { paths: ['*'], permissions: [grant('any', 'read')] })],
      subject: {},
      at: ['sources', 'gps', 'type'],
      expected: 'r',
    },
    {
      rule: 'other root members are denied under ACLs',
      acls: [acl('*', { paths: ['*'], permissions: [grant('any', 'read')] })],
      subject: {},
      at: ['motd'],
      expected: '',
    },
  ]

  for (const { rule, acls, subject, at, source, expected } of cases) {
    it(rule, () => {
      expect(rights(acls, subject, at, source)).toBe(expected)
    })
  }

  it('says whether a subject reads or writes everything (no ACLs only)', () => {
    const rules = [acl('*', { paths: ['*'], permissions: [grant('any', 'write')] })]
    expect(compileAcl(undefined, user('a', 'admin'), SELF)).toMatchObject({
      readsAll: true,
      writesAll: true,
    })
    expect(compileAcl(undefined, user('a', 'readonly'), SELF)).toMatchObject({
      readsAll: true,
      writesAll: false,
    })
    expect(compileAcl(rules, user('a', 'admin'), SELF)).toMatchObject({
      readsAll: false,
      writesAll: false,
    })
  })

  it('grants put only where an ACL gives put and the type writes', () => {
    const rules = [
      acl('vessels.self', { paths: ['steering.*'], permissions: [grant('any', 'put')] }),
    ]
    const at = self('steering', 'autopilot', 'target', 'headingTrue')
    expect(compileAcl(rules, user('a', 'readwrite'), SELF).canPut(at)).toBe(true)
    expect(compileAcl(rules, user('a', 'readonly'), SELF).canPut(at)).toBe(false)
    expect(compileAcl(undefined, user('a', 'admin'), SELF).canPut(at)).toBe(true)
  })

  it('gives subjects with the same effective rules the same key', () => {
    const rules = [
      acl(
        'vessels.self',
        { paths: ['navigation.*'], permissions: [grant('any', 'read'), grant('skipper', 'write')] },
        { paths: ['*'], permissions: [grant('crew', 'read'), grant('skipper', 'write')] },
      ),
    ]
    const key = (name: string | undefined, type?: UserType) =>
      compileAcl(rules, user(name, type), SELF).key
    expect(key('guest1', 'readwrite')).toBe(key('guest2', 'readonly'))
    expect(key('guest1', 'readonly')).toBe(key(undefined))
    expect(key('crew', 'readonly')).not.toBe(key('guest1', 'readonly'))
    expect(key('skipper', 'readwrite')).not.toBe(key('skipper', 'readonly'))
    expect(key('skipper', 'readwrite')).toBe(key('skipper', 'admin'))
    expect(compileAcl(undefined, user('a', 'readonly'), SELF).key).toBe(
      compileAcl(undefined, {}, SELF).key,
    )
    expect(compileAcl(undefined, user('a', 'admin'), SELF).key).not.toBe(
      compileAcl(undefined, {}, SELF).key,
    )
  })

  it('holds the containers on the way to what may be read, and no others', () => {
    const rules = [
      acl(
        'vessels.self',
        { paths: ['navigation.position.*'], permissions: [grant('other', 'read')] },
        { paths: ['navigation.*'], permissions: [grant('any', 'read')] },
      ),
    ]
    const p = compileAcl(rules, {}, SELF)
    const holds = (segments: string[]) => p.holds(p.at(segments))
    expect(holds([])).toBe(true)
    expect(holds(['vessels'])).toBe(true)
    expect(holds(self())).toBe(true)
    expect(holds(self('navigation'))).toBe(true)
    expect(holds(self('navigation', 'position'))).toBe(true)
    expect(holds(self('navigation', 'position', 'value'))).toBe(false)
    expect(holds(self('environment'))).toBe(false)
    expect(holds(other())).toBe(false)
    expect(holds(['sources'])).toBe(false)
  })
})
