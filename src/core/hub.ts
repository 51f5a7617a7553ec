/**
 * Subscription fan-out. Subscribers with the same path share one scope; a
 * change walks a trie of scopes along its own patch, so it visits only the
 * scopes it can touch, and each touched scope computes its patch once, then
 * once per view (./view.ts) of its subscribers, and hands the same
 * {@link ScopedUpdate} (with its once-serialised frames) to every
 * subscriber of that (path, view). Transports plug in through
 * {@link Subscriber}.
 *
 * Containment (SPEC §1): a subscriber or a view that throws is reported and
 * skipped; every other subscriber still gets the change.
 */
import { isObject, type Json } from './json.js'
import type { Effect } from './merge-patch.js'
import { type TreePath, WILDCARD } from './path.js'
import { scopeEffect } from './scope.js'
import type { Change, StateTree } from './state-tree.js'
import { FULL_VIEW, type View } from './view.js'

/** What a transport implements to receive changes. */
export interface Subscriber {
  /** Called synchronously, in revision order, for each change that touches the subscriber's path. */
  deliver(update: ScopedUpdate): void
}

/** One change as seen from one path, shared by every subscriber of that path. */
export class ScopedUpdate {
  private json: string | undefined
  /** The first transport's frame, kept in fields: most changes go out in one format. */
  private firstKind: string | undefined
  private firstFrame: unknown
  /** Frames of any further transports, made when a second format is asked for. */
  private frames: Map<string, unknown> | undefined

  constructor(
    /** The revision of the change. */
    readonly rev: number,
    /** The change's effect relative to the path's document. */
    readonly effect: Effect,
  ) {}

  /** The scoped patch as JSON text, serialised once. */
  get patchJson(): string {
    this.json ??= JSON.stringify(this.effect.patch)
    return this.json
  }

  /**
   * A transport's frame for this update, built once by the first subscriber
   * that asks and shared by all the others (`kind` names the transport's format).
   */
  frame<T>(kind: string, build: (update: ScopedUpdate) => T): T {
    if (this.firstKind === kind) return this.firstFrame as T
    if (this.firstKind === undefined) {
      const frame = build(this)
      // A builder may ask for another kind it is made from (SSE's chunked frame wraps the raw
      // one): that one moves to the map, and the kind asked for first keeps the fields.
      if (this.firstKind !== undefined) {
        this.frames ??= new Map()
        this.frames.set(this.firstKind, this.firstFrame)
      }
      this.firstKind = kind
      this.firstFrame = frame
      return frame
    }
    this.frames ??= new Map()
    let frame = this.frames.get(kind) as T | undefined
    if (frame === undefined) {
      frame = build(this)
      this.frames.set(kind, frame)
    }
    return frame
  }
}

/** Handle returned by {@link Hub.subscribe}. */
export interface Subscription {
  /**
   * The subscribed path as the hub keeps it, shared by every subscriber of
   * that path: a subscriber keeps this one rather than its own copy (bench g).
   */
  readonly path: TreePath
  unsubscribe(): void
}

const SMALL_FANOUT = 4

/** The subscribers of one scope that share one view. */
class ViewGroup {
  readonly subscribers = new Set<Subscriber>()
  constructor(readonly view: View) {}
}

class Scope {
  /** One group per view key; most scopes have one. */
  readonly groups = new Map<string, ViewGroup>()
  constructor(
    readonly path: TreePath,
    /** The trie nodes from the root to this scope's, kept once for every subscriber's unsubscribe. */
    readonly trail: readonly TrieNode[],
  ) {}
}

/**
 * One subscription: a plain object rather than a closure, so an idle stream
 * holds a few words here (bench scenario d, bench/RESULTS.md).
 */
class Handle implements Subscription {
  private active = true
  constructor(
    private readonly hub: Hub,
    private readonly scope: Scope,
    private readonly group: ViewGroup,
    private readonly subscriber: Subscriber,
  ) {}

  get path(): TreePath {
    return this.scope.path
  }

  unsubscribe(): void {
    if (!this.active) return
    this.active = false
    this.hub.unsubscribe(this.scope, this.group, this.subscriber)
  }
}

class TrieNode {
  readonly children = new Map<string, TrieNode>()
  scope: Scope | undefined
}

/** Options of {@link Hub}. */
export interface HubOptions {
  /** Where a subscriber or view that threw is reported. Default: standard error. */
  onError?: (err: unknown) => void
}

/** The fan-out hub of one tree. */
export class Hub {
  private readonly root = new TrieNode()
  private scopeCount = 0
  private subscriberCount = 0
  private readonly onError: (err: unknown) => void

  constructor(tree: StateTree, options: HubOptions = {}) {
    this.onError = options.onError ?? reportToStderr
    tree.onChange((change) => this.publish(change))
  }

  /** Number of distinct subscribed paths. */
  get scopes(): number {
    return this.scopeCount
  }

  /** Number of subscribers. */
  get subscribers(): number {
    return this.subscriberCount
  }

  /** Delivers every future change that touches `path`, as `view` sees it, to `subscriber`. */
  subscribe(path: TreePath, subscriber: Subscriber, view: View = FULL_VIEW): Subscription {
    let node = this.root
    const trail: TrieNode[] = [node]
    for (const key of path.segments) {
      let next = node.children.get(key)
      if (!next) {
        next = new TrieNode()
        node.children.set(key, next)
      }
      node = next
      trail.push(node)
    }
    if (!node.scope) {
      node.scope = new Scope(path, trail)
      this.scopeCount++
    }
    const scope = node.scope
    let group = scope.groups.get(view.key)
    if (group === undefined) {
      group = new ViewGroup(view)
      scope.groups.set(view.key, group)
    }
    group.subscribers.add(subscriber)
    this.subscriberCount++
    return new Handle(this, scope, group, subscriber)
  }

  /** Removes `subscriber` (through its {@link Subscription}). */
  unsubscribe(scope: Scope, group: ViewGroup, subscriber: Subscriber): void {
    if (!group.subscribers.delete(subscriber)) return
    this.subscriberCount--
    if (group.subscribers.size > 0) return
    scope.groups.delete(group.view.key)
    if (scope.groups.size === 0) this.prune(scope.trail, scope.path.segments)
  }

  /** Fans one change out to the scopes it touches; nothing a subscriber does stops the others. */
  publish(change: Change): void {
    const touched: Scope[] = []
    this.collect(this.root, change.effect.patch, touched)
    for (let i = 0; i < touched.length; i++) {
      const scope = touched[i]!
      let effect: Effect | undefined
      try {
        effect = scopeEffect(change.effect, scope.path)
      } catch (err) {
        this.onError(err)
        continue
      }
      if (effect === undefined) continue
      for (const group of scope.groups.values()) this.deliver(change.rev, scope, group, effect)
    }
  }

  private deliver(rev: number, scope: Scope, group: ViewGroup, scoped: Effect): void {
    let effect: Effect | undefined = scoped
    if (!group.view.full) {
      try {
        effect = group.view.scope(scope.path, scoped)
      } catch (err) {
        this.onError(err)
        return
      }
      if (effect === undefined) return
    }
    const update = new ScopedUpdate(rev, effect)
    for (const subscriber of group.subscribers) {
      try {
        subscriber.deliver(update)
      } catch (err) {
        this.onError(err)
      }
    }
  }

  /** Scopes at or below `node` that `patch` (the change at that node) may touch. */
  private collect(node: TrieNode, patch: Json, out: Scope[]): void {
    if (node.scope) out.push(node.scope)
    if (!isObject(patch)) {
      // A replaced value touches everything that was or is below it.
      for (const child of node.children.values()) this.collect(child, patch, out)
      return
    }
    const star = node.children.get(WILDCARD)
    if (star) this.collectAll(star, out)
    // Walk whichever side is smaller: few subscribed children, or few patched keys.
    if (node.children.size <= SMALL_FANOUT) {
      for (const [key, child] of node.children) {
        if (key !== WILDCARD && Object.hasOwn(patch, key)) this.collect(child, patch[key]!, out)
      }
    } else {
      for (const key in patch) {
        const child = key === WILDCARD ? undefined : node.children.get(key)
        if (child) this.collect(child, patch[key]!, out)
      }
    }
  }

  /** Every scope at or below `node`; the scoping itself tells which are really touched. */
  private collectAll(node: TrieNode, out: Scope[]): void {
    if (node.scope) out.push(node.scope)
    for (const child of node.children.values()) this.collectAll(child, out)
  }

  private prune(trail: readonly TrieNode[], segments: readonly string[]): void {
    const leaf = trail[trail.length - 1]!
    leaf.scope = undefined
    this.scopeCount--
    for (let i = trail.length - 1; i > 0; i--) {
      const node = trail[i]!
      if (node.scope || node.children.size > 0) break
      trail[i - 1]!.children.delete(segments[i - 1]!)
    }
  }
}

function reportToStderr(err: unknown): void {
  process.stderr.write(`keelson: a subscriber failed: ${(err as Error)?.stack ?? String(err)}\n`)
}
