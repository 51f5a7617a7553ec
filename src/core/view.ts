/**
 * Views: what one reader may see of the tree (SPEC §8). Readers with the
 * same permissions share one view, and the hub scopes and filters each
 * change once per (path, view), so filtering costs per change and
 * permission class, not per client. Every read of the tree for a reader —
 * REST GET and its ETag, a stream's snapshot and resume, cached values,
 * meta — goes through the reader's view, so access rules plug in here
 * without touching any transport.
 */
import type { Json } from './json.js'
import type { Effect } from './merge-patch.js'
import type { TreePath } from './path.js'
import type { StateTree } from './state-tree.js'

/** What one class of readers may see. */
export interface View {
  /** Readers whose views have the same key see the same data and share work. */
  readonly key: string
  /** True when the view sees everything: no filtering, and version-based ETags stay valid. */
  readonly full: boolean
  /** The part of `doc` (the document read at `path`) this view may read; undefined for none. */
  read(path: TreePath, doc: Json | undefined): Json | undefined
  /** The part of a change, already scoped to `path`, this view may see; undefined for none. */
  scope(path: TreePath, effect: Effect): Effect | undefined
}

/** The view of a reader who may read everything (no users or ACLs configured). */
export const FULL_VIEW: View = Object.freeze({
  key: 'full',
  full: true,
  read: (_path: TreePath, doc: Json | undefined) => doc,
  scope: (_path: TreePath, effect: Effect) => effect,
})

/** The document at `path` as `view` sees it; undefined when it is missing or unreadable. */
export function readThrough(tree: StateTree, path: TreePath, view: View): Json | undefined {
  const doc = tree.get(path)
  return view.full ? doc : view.read(path, doc)
}
