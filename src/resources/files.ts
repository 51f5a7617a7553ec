/**
 * Resources on disk, laid out as signalk-server's resources-provider lays
 * them out, so a boat's resources move over by copying the folder: one file
 * per resource, `<dir>/<type>/<id>`, holding the resource's JSON; its
 * modification time is the resource's `timestamp`. The custom types
 * registered are listed in `<dir>/custom-types.json`.
 *
 * Every file is written atomically: to a temporary name in the same folder,
 * flushed, then renamed over the old one, so a crash leaves the old or the
 * new resource, never half of one. The temporary names start with `.`,
 * which no id may, so a left-over one is never read as a resource.
 *
 * @see https://github.com/SignalK/signalk-server/tree/master/packages/resources-provider-plugin
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { mkdir, open, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'

/** One resource file read at start-up: its text and modification time. */
export interface StoredFile {
  readonly id: string
  readonly text: string
  readonly mtime: Date
}

/** A registered custom type, as kept in `custom-types.json`. */
export interface CustomType {
  readonly name: string
  readonly description: string
}

const TYPES_FILE = 'custom-types.json'

/** The folder of resource files. */
export class ResourceFiles {
  constructor(readonly dir: string) {}

  /** The custom types registered, `[]` when none are (or the file is unreadable: `onBad` is told). */
  readTypes(onBad: (err: unknown) => void): CustomType[] {
    let text: string
    try {
      text = readFileSync(join(this.dir, TYPES_FILE), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') onBad(err)
      return []
    }
    try {
      const parsed = JSON.parse(text) as unknown
      if (!Array.isArray(parsed)) throw new Error(`${TYPES_FILE} is not an array`)
      return parsed.flatMap((t: unknown) =>
        typeof t === 'object' && t !== null && typeof (t as CustomType).name === 'string'
          ? [
              {
                name: (t as CustomType).name,
                description: String((t as CustomType).description ?? ''),
              },
            ]
          : [],
      )
    } catch (err) {
      onBad(err)
      return []
    }
  }

  /**
   * The files of `type` whose names pass `isId`, in name order, each at
   * most `maxBytes` long (a longer one is passed to `onBad`, unread).
   */
  readType(
    type: string,
    isId: (id: string) => boolean,
    maxBytes: number,
    onBad: (id: string, err: unknown) => void,
  ): StoredFile[] {
    const folder = join(this.dir, type)
    let names: string[]
    try {
      names = readdirSync(folder)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') onBad('', err)
      return []
    }
    names.sort()
    const out: StoredFile[] = []
    for (const id of names) {
      if (!isId(id)) continue
      try {
        const path = join(folder, id)
        const stat = statSync(path)
        if (!stat.isFile()) continue
        if (stat.size > maxBytes) throw new Error(`larger than ${maxBytes} bytes`)
        out.push({ id, text: readFileSync(path, 'utf8'), mtime: stat.mtime })
      } catch (err) {
        onBad(id, err)
      }
    }
    return out
  }

  /** Makes the folder of `type` (and the resources folder), synchronously: at start-up. */
  ensureTypeSync(type: string): void {
    mkdirSync(join(this.dir, type), { recursive: true })
  }

  /** Writes `text` as the resource `id` of `type`, atomically. */
  async write(type: string, id: string, text: string): Promise<void> {
    const folder = join(this.dir, type)
    await mkdir(folder, { recursive: true })
    return atomicWrite(folder, id, text)
  }

  /** Removes the resource `id` of `type`; a missing file is no error. */
  async remove(type: string, id: string): Promise<void> {
    await rm(join(this.dir, type, id), { force: true })
  }

  /** Writes the list of custom types, atomically. */
  async writeTypes(types: readonly CustomType[]): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    await atomicWrite(this.dir, TYPES_FILE, `${JSON.stringify(types, null, 2)}\n`)
  }
}

/** Writes `<folder>/<name>` through a flushed temporary file and a rename. */
async function atomicWrite(folder: string, name: string, text: string): Promise<void> {
  const temp = join(folder, `.${name}.${randomBytes(6).toString('hex')}.tmp`)
  const handle = await open(temp, 'w', 0o600)
  try {
    await handle.writeFile(text, 'utf8')
    await handle.sync()
    await handle.close()
    await rename(temp, join(folder, name))
  } catch (err) {
    await handle.close().catch(() => {})
    await rm(temp, { force: true })
    throw err
  }
}
