/**
 * Scenario (h)'s permission classes: four users, each with its own ACL over
 * the same paths, and the admin who writes. The ACL is signalk-server's
 * format (SPEC §8); {@link ClassDef.reads} is the load generator's own
 * statement of what a class may read, written from the intent, not from the
 * server's code, so a delivered path is checked against it independently.
 */
import type { Acl } from '../../src/security/types.js'

/** The paths the injector rotates over in (h), one of them per permission class at least. */
export const ACL_PATHS = [
  'navigation.position',
  'navigation.speedOverGround',
  'navigation.headingTrue',
  'navigation.courseOverGroundTrue',
  'environment.depth.belowTransducer',
  'environment.wind.speedApparent',
  'propulsion.main.revolutions',
  'electrical.batteries.house.voltage',
] as const

/** The user who writes (PATCH with `Authorization: Bearer`). */
export const WRITER = { username: 'bench-admin', type: 'admin' as const }

/** One permission class: a user and what it may read. */
export interface ClassDef {
  /** The user (and the class's name in the tables). */
  username: string
  /** Whether a dot path below the self vessel is readable (checked on every leaf a client gets). */
  reads(path: string): boolean
}

const under = (path: string, prefix: string): boolean =>
  path === prefix || path.startsWith(`${prefix}.`)

/** The four classes of (h), as the brief gives them. */
export const CLASSES: ClassDef[] = [
  { username: 'nav', reads: (p) => under(p, 'navigation') },
  { username: 'position', reads: (p) => under(p, 'navigation.position') },
  { username: 'env', reads: (p) => under(p, 'environment') },
  { username: 'no-depth', reads: (p) => !under(p, 'environment.depth') },
]

/** Every path readable: the classes of the "all readable" variant, and everyone with security off. */
export const READS_ALL = (): boolean => true

const glob = (prefix: string): string[] => [prefix, `${prefix}.*`]
const read = (...subjects: string[]) =>
  subjects.map((subject) => ({ subject, permission: 'read' as const }))
const write = { subject: WRITER.username, permission: 'write' as const }

/**
 * The ACL of (h): first matching resource decides, so the narrow ones come
 * first (environment.depth before environment, navigation.position before
 * navigation), `*` last.
 */
export const FILTERING_ACL: Acl[] = [
  {
    context: 'vessels.self',
    resources: [
      { paths: glob('environment.depth'), permissions: [write, ...read('env')] },
      {
        paths: glob('navigation.position'),
        permissions: [write, ...read('nav', 'position', 'no-depth')],
      },
      { paths: glob('navigation'), permissions: [write, ...read('nav', 'no-depth')] },
      { paths: glob('environment'), permissions: [write, ...read('env', 'no-depth')] },
      { paths: ['*'], permissions: [write, ...read('no-depth')] },
    ],
  },
]

/**
 * The "all readable" variant: four users whose ACL rules differ (so four
 * permission classes, four filtered views) but who each may read every path
 * the injector writes. Every client is owed every change, as with security
 * off, so delivered/s compares directly.
 */
export const ALL_READABLE_ACL: Acl[] = [
  {
    context: 'vessels.self',
    resources: [
      { paths: ['design', 'design.*'], permissions: [write, ...read('nav', 'position', 'env')] },
      {
        paths: glob('navigation'),
        permissions: [write, ...read('nav', 'position', 'env', 'no-depth')],
      },
      { paths: ['name'], permissions: [write, ...read('position')] },
      {
        paths: glob('environment'),
        permissions: [write, ...read('nav', 'position', 'env', 'no-depth')],
      },
      { paths: ['mmsi'], permissions: [write, ...read('env')] },
      { paths: ['*'], permissions: [write, ...read('nav', 'position', 'env', 'no-depth')] },
    ],
  },
]
