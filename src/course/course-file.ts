/**
 * `course.json`: the course kept across restarts, as signalk-server keeps
 * it in its server state. Read once at start-up; written after each
 * change, one write at a time and only the latest state (a burst of
 * changes makes at most two writes), through a temporary file renamed over
 * the old one so a crash never leaves half a file.
 */
import { mkdirSync, readFileSync } from 'node:fs'
import { rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Logger } from 'pino'
import { type CourseInfo, courseJson, parseCourseInfo } from './course-info.js'

/** The file name of the kept course in the persist directory. */
export const COURSE_FILE = 'course.json'

/** The kept course of one server. */
export class CourseFile {
  private writing: Promise<void> | undefined
  private pending: CourseInfo | undefined

  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {}

  /** The kept course; undefined when there is none or it is not valid (then logged and ignored). */
  read(): CourseInfo | undefined {
    let text: string
    try {
      text = readFileSync(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.log.warn(
          { err, file: this.path },
          'the kept course cannot be read; starting with none',
        )
      }
      return undefined
    }
    let info: CourseInfo | undefined
    try {
      info = parseCourseInfo(JSON.parse(text))
    } catch {
      info = undefined
    }
    if (info === undefined) {
      this.log.warn({ file: this.path }, 'the kept course is not valid; starting with none')
    }
    return info
  }

  /** Keeps `info` (soon: the write is queued behind the one under way). */
  write(info: CourseInfo): void {
    this.pending = info
    this.writing ??= this.drain()
  }

  /** Resolves once every queued state is on disk (or failed, logged). */
  flush(): Promise<void> {
    return this.writing ?? Promise.resolve()
  }

  private async drain(): Promise<void> {
    try {
      mkdirSync(dirname(this.path), { recursive: true })
    } catch {
      // writeFile reports it.
    }
    while (this.pending !== undefined) {
      const info = this.pending
      this.pending = undefined
      const temporary = `${this.path}.${process.pid}.tmp`
      try {
        await writeFile(temporary, `${JSON.stringify(courseJson(info), null, 2)}\n`)
        await rename(temporary, this.path)
      } catch (err) {
        this.log.error({ err, file: this.path }, 'the course could not be kept')
      }
    }
    this.writing = undefined
  }
}
