/**
 * The course as the tree holds it, read back: on a cluster node (SPEC §9)
 * the tree is the same on every node, so the course any node set is the
 * state of all of them, and a node started late has it from the cluster's
 * snapshot; no node keeps a `course.json` that could disagree.
 *
 * The state is what the course API (`$source` `courseApi`) last wrote to
 * `navigation.course.{startTime,...,previousPoint}`, checked as the kept
 * file is ({@link parseCourseInfo}): anything else there reads as no
 * course. The calculated values are what the course provider last wrote
 * to `navigation.course.calcValues.*`, whichever node calculated them.
 */
import { deepEqual, isObject, type Json, type JsonObject } from '../core/json.js'
import type { StateTree } from '../core/state-tree.js'
import { fromSource } from '../resources/tree-copy.js'
import { CALC_PATHS, CALC_SOURCE, emptyValues } from './calc-values.js'
import {
  COURSE_SOURCE,
  type CourseInfo,
  courseJson,
  NO_COURSE,
  parseCourseInfo,
} from './course-info.js'

/** The members of the course state under `navigation.course`. */
const STATE_KEYS = Object.keys(courseJson(NO_COURSE))

/** The course of one tree's self vessel, as the tree holds it. */
export class CourseInTree {
  private node: Json | undefined
  private version: number | undefined
  private info: CourseInfo = NO_COURSE

  constructor(private readonly tree: StateTree) {}

  /**
   * The course state the tree holds: the same object as long as it is the
   * same state (the calculated values written beside it every period do
   * not make a new one), so a change queued against it can tell whether
   * the course moved on meanwhile.
   */
  state(): CourseInfo {
    const node = this.courseNode()
    const version = isObject(node) ? this.tree.versionOf(node) : undefined
    if (node === this.node && version === this.version) return this.info
    this.node = node
    this.version = version
    const json: JsonObject = {}
    for (const key of STATE_KEYS) {
      json[key] = this.valueAt(node, [key], COURSE_SOURCE) ?? null
    }
    if (typeof json.arrivalCircle !== 'number') json.arrivalCircle = 0
    const info = parseCourseInfo(json) ?? NO_COURSE
    if (!deepEqual(courseJson(info), courseJson(this.info))) this.info = info
    return this.info
  }

  /** True when the tree holds a calculated value (all are emptied when a course ends). */
  holdsValues(): boolean {
    const node = this.courseNode()
    for (const path of CALC_PATHS) {
      if (path === 'calcMethod') continue
      const value = this.valueAt(node, ['calcValues', ...path.split('.')], CALC_SOURCE)
      if (value !== undefined && value !== null) return true
    }
    return false
  }

  /** The calculated values the tree holds, by path below `calcValues` (null where none). */
  values(): Record<string, Json> {
    const node = this.courseNode()
    const out = emptyValues()
    for (const path of CALC_PATHS) {
      const value = this.valueAt(node, ['calcValues', ...path.split('.')], CALC_SOURCE)
      if (value !== undefined) out[path] = value
    }
    return out
  }

  private courseNode(): Json | undefined {
    const segments = ['vessels', this.tree.selfKey, 'navigation', 'course']
    return this.tree.get({ segments, starAt: -1 })
  }

  /** The value `source` last wrote at `keys` below `node`, or undefined. */
  private valueAt(
    node: Json | undefined,
    keys: readonly string[],
    source: string,
  ): Json | undefined {
    let at = node
    for (const key of keys) at = isObject(at) ? at[key] : undefined
    return isObject(at) ? fromSource(at, source)?.value : undefined
  }
}
