/**
 * What the journal answers about the past (SPEC §9 time travel): the
 * snapshot API, the Signal K WebSocket playback and SSE playback read the
 * retained history through this interface only. The journal
 * (src/journal/) implements it from its snapshots, checkpoints and records.
 */
import type { JsonObject } from '../core/json.js'

/** The tree as it was at a moment. */
export interface PastState {
  /** The whole tree (a copy the caller owns). */
  readonly root: JsonObject
  /** The revision current at that moment. */
  readonly rev: number
  /** The time of that revision's record, ms since 1970 (the moment asked for when earlier). */
  readonly time: number
}

/** One recorded change: its revision, when it was applied and its root RFC 7396 merge patch. */
export interface PastChange {
  readonly rev: number
  readonly time: number
  readonly patch: JsonObject
}

/** Reads the retained history (`--retention`, default 7 days). */
export interface TimeTravel {
  /** The earliest moment the retained history answers for (ms), or undefined when none is kept. */
  earliest(): number | undefined
  /** The tree at `time` (ms), or undefined before {@link earliest}; the present past the last record. */
  stateAt(time: number): Promise<PastState | undefined>
  /**
   * The changes after revision `rev`, in order, up to the last one recorded
   * when the iteration reaches it (it does not wait for new ones).
   */
  changesAfter(rev: number): AsyncIterable<PastChange>
}
